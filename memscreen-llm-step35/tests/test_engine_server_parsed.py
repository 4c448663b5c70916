"""(a) The same forced text from a real vLLM server started WITH the step3p5 parser flags.

The step35 backend returns exactly what the server parsed (its own parsers stay inert):
checked against the plain `vllm` backend with no client-side parsers. Where vLLM 0.32's
step3p5 parsers and FORMAT.md disagree, FORMAT.md wins in this project's parsers (see
test_engine_client_parsed.py, where the same texts give the golden results); the cases
are named below, so a change on vLLM's side shows up as a failure here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_cases import CASES, MESSAGES, ask, expected, outcome, step35

from memscreen_llm import create_llm
from memscreen_llm_vllm.testing import STEP35_SERVER_ARGS, Engine, VllmServer, serve

VLLM_DIFFERS = {
    "plain-reasoning-content": "keeps the \\n after </think> at the start of content",
    "leading-think-tag": "keeps the \\n after a leading <think> in the reasoning",
    "only-one-newline-trimmed": "strips every \\n before </think>, not exactly one",
    "second-close-is-content": "drops a second </think> from the content",
    "content-before-call": "trims the \\n between content and <tool_call>",
    "null-value": "returns null as the string 'null' instead of None",
    "python-literal-object": "keeps a Python-literal object as a string",
    "unclosed-call-is-content": "drops an unclosed <tool_call> instead of keeping it as content",
    "empty-name-is-content": "drops a block with an empty function name",
    "text-after-call-kept": "changes the \\n before text that follows a call",
}


@pytest.fixture(scope="module")
def flagged_server(engine: Engine) -> Iterator[VllmServer]:
    yield from serve(engine, *STEP35_SERVER_ARGS)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_server_parsed_result_is_returned_untouched(
    flagged_server: VllmServer, engine: Engine, case: dict, stream: bool  # type: ignore[type-arg]
) -> None:
    forced = engine.forced_output_params(case["text"])
    llm = step35(flagged_server.base_url)
    if stream:
        # The backend learns from an answer's usage that this server splits reasoning
        # itself; a first-ever stream with empty reasoning could not tell (see the docs).
        llm.chat(MESSAGES, max_tokens=1)
    result = ask(llm, case, forced, stream=stream)
    plain = create_llm("vllm", base_url=flagged_server.base_url, model="tiny",
                       temperature=0.0, max_tokens=400, max_retries=0)
    assert outcome(result) == outcome(ask(plain, case, forced, stream=stream))
    if case["id"] in VLLM_DIFFERS:
        assert outcome(result) != expected(case), (
            f"vLLM no longer differs from FORMAT.md here ({VLLM_DIFFERS[case['id']]}): "
            "drop the case from VLLM_DIFFERS")
    else:
        assert outcome(result) == expected(case)
