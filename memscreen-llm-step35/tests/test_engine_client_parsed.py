"""(b) The Step format forced out of a real vLLM server WITHOUT parser flags arrives raw,
and the step35 backend's client-side `step3p5` parsers give the golden result."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from engine_cases import CASES, ask, expected, outcome, step35

from memscreen_llm.base import LLMBase
from memscreen_llm.testing import BackendContract
from memscreen_llm_vllm.testing import Engine, VllmServer, serve


@pytest.fixture(scope="module")
def raw_server(engine: Engine) -> Iterator[VllmServer]:
    yield from serve(engine)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_raw_text_parsed_client_side(raw_server: VllmServer, engine: Engine,
                                     case: dict, stream: bool) -> None:  # type: ignore[type-arg]
    llm = step35(raw_server.base_url)
    result = ask(llm, case, engine.forced_output_params(case["text"]), stream=stream)
    assert outcome(result) == expected(case)
    if result.tool_calls:
        assert result.finish_reason == "tool_calls"


CALL = ("Weather is asked.\n</think>\n<tool_call>\n<function=get_weather>\n<parameter=city>\n"
        "Paris\n</parameter>\n</function>\n</tool_call>")


class TestStep35Contract(BackendContract):
    """Core's contract kit: the step35 preset on the same raw server (client parsers)."""

    backend = "step35"

    @pytest.fixture
    def llm(self, raw_server: VllmServer) -> LLMBase:
        # The tiny model has a 1024-token context, not the preset's 32k.
        return step35(raw_server.base_url, max_tokens=16)

    @pytest.fixture
    def reasoning_options(self, engine: Engine) -> Mapping[str, Any]:
        text = "The user wants one colour.\n</think>\nBlue."
        return {"max_tokens": 64, "extra_body": engine.forced_output_params(text)}

    @pytest.fixture
    def tool_call_options(self, engine: Engine) -> Mapping[str, Any]:
        return {"max_tokens": 96, "extra_body": engine.forced_output_params(CALL)}
