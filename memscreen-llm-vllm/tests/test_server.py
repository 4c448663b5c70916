"""Server mode against the shared real vLLM server (tiny random-weight model, CPU)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import MESSAGES, MODEL, TOOLS

from memscreen_llm import (
    BackendError,
    BackendUnavailableError,
    ChatResult,
    ContextLengthError,
    ModelNotFoundError,
    create_llm,
    join_deltas,
)
from memscreen_llm.base import LLMBase
from memscreen_llm.errors import ConfigError
from memscreen_llm.testing import async_rounds, free_port
from memscreen_llm_vllm.testing import VllmServer, regex_for_text

FORCED_CALL = ('Need weather.\n</think>\n<tool_call>{"name": "get_weather", '
               '"arguments": {"city": "Paris"}}</tool_call>')
FORCED_THINKING = "Let me think about the sea.\n</think>\nThe sea is wide."


def forced(text: str) -> dict[str, object]:
    """Per-call options that make the engine write exactly `text` (structured outputs)."""
    return {"structured_outputs": {"regex": regex_for_text(text)}}


def key(result: ChatResult) -> tuple[object, ...]:
    """A result without the tool-call ids (generated per call) and the usage."""
    return (result.content, result.reasoning, result.finish_reason, result.model,
            tuple((c.name, c.parsed_arguments()) for c in result.tool_calls))


@pytest.fixture
def llm(server: VllmServer) -> LLMBase:
    # No model: the server's only one is used. Its base_url has no /v1: it is added.
    return create_llm("vllm", base_url=server.host_url, temperature=0.0, max_tokens=24)


def test_chat_returns_text_usage_and_model(llm: LLMBase) -> None:
    assert llm.config.base_url.endswith("/v1")  # type: ignore[attr-defined]
    result = llm.chat(MESSAGES)
    assert result.content and isinstance(result.content, str)
    assert result.finish_reason in ("stop", "length")
    assert result.model == MODEL
    assert result.usage is not None and result.usage.prompt_tokens
    assert result.usage.completion_tokens is not None and 0 < result.usage.completion_tokens <= 24
    assert llm.generate_response(MESSAGES) == result.content


def test_stream_joins_to_the_same_result_at_temperature_zero(llm: LLMBase) -> None:
    first = llm.chat(MESSAGES)
    assert llm.chat(MESSAGES).content == first.content  # deterministic
    deltas = list(llm.stream(MESSAGES))
    assert len([d for d in deltas if d.content]) > 1  # really streamed, not one blob
    assert deltas[-1].finish_reason and deltas[-1].usage is not None
    assert join_deltas(deltas) == first  # content, finish reason, usage and model alike


def test_64_concurrent_async_chats_across_event_loops(llm: LLMBase) -> None:
    expected = llm.chat(MESSAGES)
    # Two asyncio.run loops: the second must not reuse the closed loop's client.
    for results, streamed in async_rounds(llm, MESSAGES, concurrent=64, loops=2):
        assert len(results) == 64
        assert {r.content for r in results} == {expected.content}
        assert streamed == expected


def test_tool_call_forced_by_structured_outputs_and_parsed_client_side(
    server: VllmServer, parser_site: Path
) -> None:
    llm = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=200,
                     reasoning_parser="test-think", tool_parser="test-calls")
    # The server has no tool-call parser: it refuses tool_choice "auto", and the backend
    # sends the tools with "none" instead (still rendered) and parses the raw text itself.
    result = llm.chat(MESSAGES, tools=TOOLS, **forced(FORCED_CALL))
    assert result.reasoning == "Need weather."
    assert result.content is None
    assert [(c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert result.tool_calls[0].id.startswith("call_")
    assert result.finish_reason == "tool_calls"
    deltas = list(llm.stream(MESSAGES, tools=TOOLS, **forced(FORCED_CALL)))
    with_calls = [d for d in deltas if d.tool_calls]
    assert len(with_calls) == 1 and len(with_calls[0].tool_calls) == 1  # whole, once
    assert not any("</think>" in (d.reasoning or "") + (d.content or "") for d in deltas)
    assert key(join_deltas(deltas)) == key(result)
    assert llm.generate_response(MESSAGES, tools=TOOLS, **forced(FORCED_CALL)) == {
        "content": None, "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    streamed = asyncio.run(_ajoin(llm, tools=TOOLS, **forced(FORCED_CALL)))
    assert key(streamed) == key(result)


async def _ajoin(llm: LLMBase, **kwargs: object) -> ChatResult:
    return join_deltas([d async for d in llm.astream(MESSAGES, **kwargs)])  # type: ignore[arg-type]


def test_tools_without_any_tool_parser_say_how_to_get_one(server: VllmServer) -> None:
    llm = create_llm("vllm", base_url=server.base_url, max_tokens=8)
    with pytest.raises(BackendError) as err:
        llm.chat(MESSAGES, tools=TOOLS)
    assert "--enable-auto-tool-choice" in str(err.value) and "tool_parser" in str(err.value)
    # tool_choice "none" is fine: the tools are rendered, no calls are looked for.
    assert llm.chat(MESSAGES, tools=TOOLS, tool_choice="none").tool_calls == ()


def test_reasoning_split_client_side_when_the_server_returns_raw_text(
    server: VllmServer, parser_site: Path
) -> None:
    llm = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=100,
                     reasoning_parser="test-think")
    result = llm.chat(MESSAGES, **forced(FORCED_THINKING))
    assert (result.reasoning, result.content) == ("Let me think about the sea.", "The sea is wide.")
    deltas = list(llm.stream(MESSAGES, **forced(FORCED_THINKING)))
    kinds = [("r" if d.reasoning else "") + ("c" if d.content else "") for d in deltas]
    first_content = next(i for i, k in enumerate(kinds) if "c" in k)
    assert "r" in kinds[0] and all("r" not in k for k in kinds[first_content + 1:])
    assert key(join_deltas(deltas)) == key(result)
    # Without the parser the same text comes back raw, markers and all.
    raw = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=100)
    assert raw.chat(MESSAGES, **forced(FORCED_THINKING)).content == FORCED_THINKING


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
          "additionalProperties": False}
# Greedy, random weights pad the JSON with whitespace until max_tokens; this seed closes it.
JSON_OPTIONS = {"temperature": 1.0, "seed": 1}


def test_json_schema_and_json_object(llm: LLMBase) -> None:
    result = llm.chat(MESSAGES, max_tokens=40, **JSON_OPTIONS, response_format={
        "type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}})
    assert result.content is not None
    value = json.loads(result.content)
    assert set(value) == {"ok"} and isinstance(value["ok"], bool)
    loose = llm.chat(MESSAGES, max_tokens=60, response_format={"type": "json_object"})
    assert loose.content is not None and loose.content.lstrip().startswith("{")


def test_prompt_over_the_context_is_rejected_before_sending(llm: LLMBase) -> None:
    long = [{"role": "user", "content": "hello " * 1200}]
    with pytest.raises(ContextLengthError) as err:
        llm.chat(long)
    assert err.value.max_context == 1024  # from the server's /v1/models
    assert err.value.prompt_tokens > 1024 and not err.value.estimated  # counted by /tokenize
    assert f"{err.value.prompt_tokens} tokens" in str(err.value) and "1024" in str(err.value)
    with pytest.raises(ContextLengthError):
        list(llm.stream(long))
    with pytest.raises(ContextLengthError):
        asyncio.run(llm.achat(long))


def test_max_tokens_is_clamped_to_the_room_left(server: VllmServer) -> None:
    # max_tokens=2000 is more than the whole context (1024): vLLM alone would refuse it.
    llm = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=2000)
    prompt = [{"role": "user", "content": "hello " * 250}]
    result = llm.chat(prompt, extra_body={"ignore_eos": True})
    assert result.usage is not None and result.usage.prompt_tokens is not None
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 1024 - result.usage.prompt_tokens
    # A budget from the config is smaller than the server's: it applies.
    small = create_llm("vllm", base_url=server.base_url, max_model_len=300, max_tokens=2000)
    with pytest.raises(ContextLengthError) as err:
        small.chat(prompt)
    assert err.value.max_context == 300 and err.value.prompt_tokens > 300


def test_a_refusal_for_length_is_recovered_by_counting(server: VllmServer) -> None:
    # The budget is wrong (4096, the server has 1024), so the short prompt looks far from
    # the limit and goes uncounted; vLLM refuses max_tokens=2000 and names its limit, and
    # the backend counts, clamps to that limit and sends the request again.
    llm = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=2000,
                     max_model_len=4096)
    for result in (llm.chat(MESSAGES, extra_body={"ignore_eos": True}),
                   asyncio.run(llm.achat(MESSAGES, extra_body={"ignore_eos": True})),
                   join_deltas(llm.stream(MESSAGES, extra_body={"ignore_eos": True}))):
        assert result.usage is not None and result.usage.prompt_tokens is not None
        assert result.usage.completion_tokens == 1024 - result.usage.prompt_tokens


def test_per_call_options_reach_vllm(llm: LLMBase) -> None:
    stopped = llm.chat(MESSAGES, max_tokens=5, extra_body={"ignore_eos": True})
    assert stopped.usage is not None and stopped.usage.completion_tokens == 5
    choice = llm.chat(MESSAGES, structured_outputs={"choice": ["yes", "no"]})
    assert choice.content in ("yes", "no")
    seeded = [llm.chat(MESSAGES, temperature=1.0, seed=11, top_k=5, repetition_penalty=1.1)
              for _ in range(2)]
    assert seeded[0].content == seeded[1].content


def test_unknown_model_lists_the_served_ones(server: VllmServer) -> None:
    llm = create_llm("vllm", base_url=server.base_url, model="nonesuch")
    with pytest.raises(ModelNotFoundError) as err:
        llm.chat(MESSAGES)
    assert err.value.model == "nonesuch" and err.value.available == [MODEL]
    with pytest.raises(ModelNotFoundError):
        list(llm.stream(MESSAGES))
    with pytest.raises(ModelNotFoundError):
        asyncio.run(llm.achat(MESSAGES))


def test_embeddings_on_a_generative_server_are_explained(llm: LLMBase) -> None:
    with pytest.raises(BackendError, match="no embeddings endpoint"):
        llm.embed(["the sea"])


def test_server_down_names_url_and_compose_command() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = create_llm("vllm", base_url=url, model=MODEL, max_retries=0)
    for call in (lambda: llm.chat(MESSAGES), lambda: list(llm.stream(MESSAGES)),
                 lambda: asyncio.run(llm.achat(MESSAGES)), lambda: llm.embed(["x"])):
        with pytest.raises(BackendUnavailableError) as err:
            call()
        assert err.value.url == url
        assert "memscreen-llm compose vllm --path" in str(err.value)
    # Without a model the first thing asked is /v1/models; with a budget near max_tokens,
    # /tokenize: the same error, not an estimate.
    for fields in ({}, {"model": MODEL, "max_model_len": 1024}):
        with pytest.raises(BackendUnavailableError):
            create_llm("vllm", base_url=url, max_retries=0, **fields).chat(MESSAGES)


def test_health_reports_server_model_and_context(server: VllmServer) -> None:
    report = create_llm("vllm", base_url=server.base_url).health()
    assert report.ok
    assert [c.name for c in report.checks] == ["server", "model", "context"]
    assert "1024" in report.checks[2].detail
    missing = create_llm("vllm", base_url=server.base_url, model="nonesuch").health()
    model = next(c for c in missing.checks if c.name == "model")
    assert not model.ok and model.fix is not None and MODEL in model.fix
    too_big = create_llm("vllm", base_url=server.base_url, max_model_len=4096).health()
    assert not too_big.checks[-1].ok and "1024" in too_big.checks[-1].detail


def test_no_model_and_unset_parser_names_are_config_errors(server: VllmServer) -> None:
    with pytest.raises(ConfigError, match="unknown parser 'nonesuch'; installed parsers: "):
        create_llm("vllm", base_url=server.base_url, reasoning_parser="nonesuch")
