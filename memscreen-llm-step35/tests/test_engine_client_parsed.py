"""(b) The Step format forced out of a real vLLM server WITHOUT parser flags arrives raw,
and the step35 backend's client-side `step3p5` parsers give the golden result."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import serve
from engine.vllm_engine import Engine, VllmServer
from engine_cases import CASES, ask, expected, outcome, step35


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
