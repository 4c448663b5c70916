"""The ollama backend against a real Ollama server and a tiny model built at test time."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from memscreen_llm import (
    BackendError,
    BackendUnavailableError,
    ChatResult,
    ModelNotFoundError,
    StreamInterruptedError,
    create_llm,
    join_deltas,
)
from memscreen_llm.base import LLMBase
from memscreen_llm.testing import SEA_MESSAGES, WEATHER_TOOL, async_rounds, free_port
from memscreen_llm_ollama.testing import OllamaServer

MESSAGES = SEA_MESSAGES
TOOLS = [WEATHER_TOOL]


@pytest.fixture
def llm(server: OllamaServer) -> LLMBase:
    return create_llm("ollama", base_url=server.base_url, model="tiny", temperature=0.0,
                      seed=7, max_tokens=24)


def test_chat_returns_text_usage_and_model(llm: LLMBase) -> None:
    result = llm.chat(MESSAGES)
    assert result.content and isinstance(result.content, str)
    assert result.finish_reason in ("stop", "length")
    assert result.model == "tiny"
    assert result.usage is not None and result.usage.prompt_tokens and result.usage.completion_tokens
    assert result.usage.completion_tokens <= 24


def test_generation_is_deterministic_and_stream_joins_to_chat(llm: LLMBase) -> None:
    first, second = llm.chat(MESSAGES), llm.chat(MESSAGES)
    assert first.content == second.content
    deltas = list(llm.stream(MESSAGES))
    assert len([d for d in deltas if d.content]) > 1  # really streamed, not one blob
    joined = join_deltas(deltas)
    assert joined.content == first.content
    assert joined.finish_reason == first.finish_reason
    assert joined.usage == first.usage


def test_generate_response_memscreen_shapes(llm: LLMBase) -> None:
    text = llm.generate_response(MESSAGES)
    assert isinstance(text, str) and text == llm.chat(MESSAGES).content
    with_tools = llm.generate_response(MESSAGES, tools=TOOLS)
    assert isinstance(with_tools, dict) and set(with_tools) == {"content", "tool_calls"}
    assert isinstance(with_tools["tool_calls"], list)


def test_async_matches_sync_across_event_loops(llm: LLMBase) -> None:
    expected = llm.chat(MESSAGES)
    # Two asyncio.run loops: the second must not reuse the closed loop's client.
    for results, streamed in async_rounds(llm, MESSAGES, concurrent=4, loops=2):
        assert {r.content for r in results} == {expected.content}
        assert streamed.content == expected.content


def test_think_returns_reasoning_apart_from_content(llm: LLMBase, server: OllamaServer) -> None:
    # The test model is wired to think "Let me think." when asked to (engine/build_gguf.py).
    result = llm.chat(MESSAGES, think=True)
    assert result.reasoning == "Let me think."
    assert "think" not in (result.content or "")
    deltas = list(llm.stream(MESSAGES, think=True))
    assert any(d.reasoning for d in deltas)
    joined = join_deltas(deltas)
    assert (joined.reasoning, joined.content) == (result.reasoning, result.content)
    assert llm.chat(MESSAGES).reasoning is None  # no think: no reasoning
    # Levels (low/medium/high) need a newer Ollama than the 0.9.3 the tests run against.
    levels = create_llm("ollama", base_url=server.base_url, model="tiny", think="high")
    with pytest.raises(BackendError, match="HTTP 400.*think"):
        levels.chat(MESSAGES)


def test_json_object_and_json_schema_formats(llm: LLMBase) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    result = llm.chat(MESSAGES, max_tokens=32, response_format={
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema}})
    assert result.content is not None
    value = json.loads(result.content)
    assert isinstance(value, dict) and isinstance(value["ok"], bool)
    loose = llm.chat(MESSAGES, max_tokens=48, response_format={"type": "json_object"})
    assert loose.content is not None and loose.content.lstrip().startswith(("{", "["))


def test_embeddings(llm: LLMBase) -> None:
    vectors = llm.embed(["the sea", "a mountain"])
    assert len(vectors) == 2
    assert len(vectors[0]) == len(vectors[1]) > 0
    assert all(isinstance(x, float) for x in vectors[0])
    assert vectors[0] != vectors[1]


def test_tools_are_accepted_and_history_round_trips(llm: LLMBase) -> None:
    result = llm.chat(MESSAGES, tools=TOOLS)
    assert isinstance(result.tool_calls, tuple)
    history = [*MESSAGES,
               {"role": "assistant", "content": "", "tool_calls": [{
                   "id": "call_1", "type": "function",
                   "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'}]
    follow_up = llm.chat(history, tools=TOOLS)
    assert follow_up.finish_reason in ("stop", "length", "tool_calls")


def test_unknown_model_says_how_to_pull_it(server: OllamaServer) -> None:
    llm = create_llm("ollama", base_url=server.base_url, model="nonesuch:1b")
    with pytest.raises(ModelNotFoundError) as err:
        llm.chat(MESSAGES)
    assert "ollama pull nonesuch:1b" in str(err.value)
    with pytest.raises(ModelNotFoundError):
        list(llm.stream(MESSAGES))


def test_server_down_names_url_and_compose_command() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    llm = create_llm("ollama", base_url=url, model="tiny")
    for call in (lambda: llm.chat(MESSAGES), lambda: list(llm.stream(MESSAGES)),
                 lambda: asyncio.run(llm.achat(MESSAGES)), lambda: llm.embed(["x"])):
        with pytest.raises(BackendUnavailableError) as err:
            call()
        assert err.value.url == url
        assert 'memscreen-llm compose ollama --path' in str(err.value)


# Ollama's runner stops a generation that repeats one token more than 30 times, and then
# sends no "done": a whole answer comes back as far as it got, without counts. A schema
# whose one answer is 200 "B"s makes that happen at once (seen in CI from a random model).
ENDLESS_B = {"type": "json_schema",
             "json_schema": {"name": "bees", "schema": {"enum": ["B" * 200]}}}


def test_an_answer_ollama_broke_off_is_an_error_with_the_partial_text(llm: LLMBase) -> None:
    async def astream() -> None:
        async for _ in llm.astream(MESSAGES, max_tokens=400, response_format=ENDLESS_B):
            pass

    calls = {
        "chat": lambda: llm.chat(MESSAGES, max_tokens=400, response_format=ENDLESS_B),
        "stream": lambda: list(llm.stream(MESSAGES, max_tokens=400, response_format=ENDLESS_B)),
        "achat": lambda: asyncio.run(
            llm.achat(MESSAGES, max_tokens=400, response_format=ENDLESS_B)),
        "astream": lambda: asyncio.run(astream()),
    }
    for name, call in calls.items():
        with pytest.raises(StreamInterruptedError) as err:
            call()
        partial = err.value.partial
        assert isinstance(partial, ChatResult), name
        assert partial.content and partial.content.startswith('"BBBBBBBBBB'), (name, partial)
        assert len(partial.content) < 201, name  # not the whole answer: it broke off
        assert "before it was done" in str(err.value), name


def test_server_killed_mid_stream_raises_with_partial(own_server: OllamaServer) -> None:
    # ~3,000 tokens/s here: 10,000 tokens at temperature 1 stream for about 3 s.
    llm = create_llm("ollama", base_url=own_server.base_url, model="tiny", temperature=1.0,
                     max_tokens=10_000)
    received: list[str] = []
    stream = llm.stream(MESSAGES)
    with pytest.raises(StreamInterruptedError) as err:
        for delta in stream:
            if delta.content:
                received.append(delta.content)
            if len(received) == 3:
                threading.Thread(target=own_server.kill).start()
    partial = err.value.partial
    assert isinstance(partial, ChatResult)
    assert partial.content is not None and partial.content.startswith("".join(received[:3]))


def test_a_real_tool_call_forced_by_a_schema(llm: LLMBase) -> None:
    # The format schema makes the random model write exactly the tool-call JSON that the
    # template announces, so Ollama's own parser turns it into a tool call.
    schema = {"type": "object", "required": ["name", "arguments"], "properties": {
        "name": {"const": "get_weather"},
        "arguments": {"type": "object", "required": ["city"],
                      "properties": {"city": {"const": "Paris"}}}}}
    result = llm.chat(MESSAGES, tools=TOOLS, max_tokens=64, response_format={
        "type": "json_schema", "json_schema": {"name": "call", "schema": schema}})
    assert [(c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert result.finish_reason == "tool_calls"
    streamed = join_deltas(llm.stream(MESSAGES, tools=TOOLS, max_tokens=64, response_format={
        "type": "json_schema", "json_schema": {"name": "call", "schema": schema}}))
    assert [(c.name, c.parsed_arguments()) for c in streamed.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert llm.generate_response(MESSAGES, tools=TOOLS, max_tokens=64, response_format={
        "type": "json_schema", "json_schema": {"name": "call", "schema": schema}}) == {
        "content": result.content, "tool_calls": [{"name": "get_weather",
                                                    "arguments": {"city": "Paris"}}]}
