"""Request and response mapping, on responses in Ollama's wire shape (see recorded/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import ollama
import pytest

from memscreen_llm import join_deltas
from memscreen_llm.errors import ResponseParseError
from memscreen_llm.types import StreamJoiner
from memscreen_llm_ollama import _messages

RECORDED = Path(__file__).parent / "recorded"


def test_tool_calls_and_thinking_from_a_response() -> None:
    raw = json.loads((RECORDED / "chat_tool_call.json").read_text())
    result = _messages.to_result(ollama.ChatResponse.model_validate(raw))
    assert result.content is None
    assert result.reasoning is not None and result.reasoning.startswith("The user wants")
    assert [(c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": 2}), ("get_time", {"tz": "Europe/Paris"})]
    assert all(c.id.startswith("call_") for c in result.tool_calls)
    assert len({c.id for c in result.tool_calls}) == 2
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (187, 41)  # type: ignore[union-attr]
    assert result.to_memscreen(tools_given=True) == {"content": None, "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
        {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}]}


def test_streamed_thinking_arrives_as_reasoning_deltas_never_content() -> None:
    lines = (RECORDED / "chat_stream_thinking.jsonl").read_text().splitlines()
    chunks = [ollama.ChatResponse.model_validate(json.loads(line)) for line in lines]
    deltas = [_messages.to_delta(chunk, StreamJoiner()) for chunk in chunks]  # no calls before
    assert [d.reasoning for d in deltas[:2]] == ["The user", " greets me."]
    assert all(d.content is None for d in deltas[:2])
    joined = join_deltas(deltas)
    assert joined.reasoning == "The user greets me."
    assert joined.content == "Hello! How can I help?"
    assert joined.finish_reason == "stop" and joined.usage is not None
    assert joined.usage.completion_tokens == 9


def test_history_maps_openai_tool_calls_and_results_to_ollama() -> None:
    history = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "and "}, {"type": "text", "text": "now?"}]},
    ]
    assert _messages.to_ollama_messages(history) == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
        {"role": "user", "content": "and now?"},
    ]
    with pytest.raises(ResponseParseError, match="not JSON"):
        _messages.to_ollama_messages([{"role": "assistant", "content": "", "tool_calls": [
            {"id": "x", "function": {"name": "f", "arguments": "{oops"}}]}])


@pytest.mark.parametrize(("response_format", "expected"), [
    (None, None), ({"type": "text"}, None), ({"type": "json_object"}, "json"),
    ({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
     {"type": "object"}),
])
def test_response_format_to_ollama_format(response_format, expected) -> None:  # type: ignore[no-untyped-def]
    assert _messages.to_format(response_format) == expected
