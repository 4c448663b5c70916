"""OpenAI-style requests to Ollama's shapes, and Ollama's responses back to ChatResult/ChatDelta."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import ChatDelta, ChatResult, ToolCall, Usage
from memscreen_llm.errors import ResponseParseError
from memscreen_llm.types import StreamJoiner


def to_ollama_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Assistant tool calls get dict arguments; tool results get the called tool's name."""
    names_by_id: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message["role"], "content": _text(message.get("content"))}
        if message.get("images"):
            item["images"] = message["images"]
        if message.get("tool_calls"):
            item["tool_calls"] = [_call_out(call, names_by_id) for call in message["tool_calls"]]
        if message["role"] == "tool":
            name = message.get("name") or names_by_id.get(str(message.get("tool_call_id")))
            if name:
                item["tool_name"] = name
        out.append(item)
    return out


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # OpenAI content parts: keep the text parts, in order.
    return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))


def _call_out(call: Mapping[str, Any], names_by_id: dict[str, str]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ResponseParseError(
                f"assistant tool call {function.get('name')!r} has arguments that are not JSON: "
                f"{exc}"
            ) from None
    if call.get("id"):
        names_by_id[str(call["id"])] = function["name"]
    return {"function": {"name": function["name"], "arguments": arguments}}


def tool_calls_in(message: Any) -> tuple[ToolCall, ...]:
    calls = getattr(message, "tool_calls", None) or ()
    return tuple(
        ToolCall(name=call.function.name, arguments=dict(call.function.arguments or {}))
        for call in calls
    )


def _usage(response: Any) -> Usage | None:
    prompt, completion = response.prompt_eval_count, response.eval_count
    if prompt is None and completion is None:
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def _finish(response: Any, has_calls: bool) -> str | None:
    if not response.done:
        return None
    return "tool_calls" if has_calls else (response.done_reason or "stop")


def to_result(response: Any) -> ChatResult:
    calls = tool_calls_in(response.message)
    return ChatResult(
        content=response.message.content,
        reasoning=response.message.thinking,
        tool_calls=calls,
        finish_reason=_finish(response, bool(calls)),
        usage=_usage(response),
        model=response.model,
    )


def to_delta(chunk: Any, joiner: StreamJoiner) -> ChatDelta:
    """The delta of one streamed chunk; `joiner` has the stream so far (were there calls?)."""
    message = chunk.message
    calls = tool_calls_in(message)
    if not chunk.done:
        return ChatDelta(message.content or None, message.thinking or None, calls)
    return ChatDelta(
        content=message.content or None,
        reasoning=message.thinking or None,
        tool_calls=calls,
        finish_reason=_finish(chunk, joiner.has_tool_calls or bool(calls)),
        usage=_usage(chunk),
        model=chunk.model,
    )


def to_format(response_format: Mapping[str, Any] | None) -> str | dict[str, Any] | None:
    """OpenAI response_format -> Ollama `format`."""
    if response_format is None or response_format.get("type") == "text":
        return None
    if response_format["type"] == "json_object":
        return "json"
    return dict(response_format["json_schema"]["schema"])
