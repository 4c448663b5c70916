"""Server mode against a second real vLLM server: the step3p5 parsers on, an API key, two
served names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import MESSAGES, TOOLS
from test_server import key

from memscreen_llm import (
    BackendError,
    ChatResult,
    ConfigError,
    create_llm,
    join_deltas,
)
from memscreen_llm_vllm.testing import STEP35_SERVER_ARGS, Engine, VllmServer, serve

KEY = "s3cret-key"
STEP_CALL = ("Need weather.\n</think>\n<tool_call>\n<function=get_weather>\n<parameter=city>\n"
             "Paris\n</parameter>\n</function>\n</tool_call>")


@pytest.fixture(scope="module")
def flagged(engine: Engine) -> Iterator[VllmServer]:
    # A second --served-model-name replaces the first: the server answers to both names.
    yield from serve(engine, *STEP35_SERVER_ARGS, "--served-model-name", "tiny", "tiny2",
                     api_key=KEY)


def test_reasoning_and_tool_calls_split_by_the_server(flagged: VllmServer,
                                                      engine: Engine) -> None:
    llm = create_llm("vllm", base_url=flagged.base_url, api_key=KEY, model="tiny",
                     temperature=0.0, max_tokens=200)
    forced = {"extra_body": engine.forced_output_params(STEP_CALL)}
    result = llm.chat(MESSAGES, tools=TOOLS, **forced)
    assert result.reasoning == "Need weather."  # the server's `reasoning` field
    assert [(c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert result.finish_reason == "tool_calls"
    # Streamed, vLLM sends the call as argument fragments: it must arrive whole, once.
    deltas = list(llm.stream(MESSAGES, tools=TOOLS, **forced))
    with_calls = [d for d in deltas if d.tool_calls]
    assert len(with_calls) == 1 and with_calls[0] is deltas[-1]
    assert key(join_deltas(deltas)) == key(result)
    assert key(asyncio.run(_ajoin(llm, tools=TOOLS, **forced))) == key(result)


async def _ajoin(llm, **kwargs) -> ChatResult:  # type: ignore[no-untyped-def]
    return join_deltas([d async for d in llm.astream(MESSAGES, **kwargs)])


def test_api_key_from_vllm_api_key_and_a_wrong_one(flagged: VllmServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = create_llm("vllm", base_url=flagged.base_url, api_key="wrong", model="tiny")
    with pytest.raises(BackendError) as err:
        wrong.chat(MESSAGES)
    assert "401" in str(err.value) and "VLLM_API_KEY" in str(err.value)
    assert "wrong" not in repr(wrong) and "wrong" not in str(wrong.config.public_dict())
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    llm = create_llm("vllm", base_url=flagged.base_url, model="tiny", max_tokens=4)
    assert llm.chat(MESSAGES).finish_reason in ("stop", "length")


def test_several_served_models_need_a_choice(flagged: VllmServer) -> None:
    llm = create_llm("vllm", base_url=flagged.base_url, api_key=KEY, max_tokens=4)
    with pytest.raises(ConfigError) as err:
        llm.chat(MESSAGES)
    assert "tiny, tiny2" in str(err.value)
    report = llm.health()
    assert not report.ok and "tiny, tiny2" in (report.checks[1].fix or "")
    # Either name serves (vLLM reports the first one as the answer's model).
    chosen = create_llm("vllm", base_url=flagged.base_url, api_key=KEY, model="tiny2",
                        max_tokens=4)
    assert chosen.chat(MESSAGES).finish_reason in ("stop", "length")
