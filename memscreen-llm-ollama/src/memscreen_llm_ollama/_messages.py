"""OpenAI-style requests to Ollama's shapes, and Ollama's responses back to ChatResult/ChatDelta."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import ollama
import pydantic

from memscreen_llm import ChatDelta, ChatResult, ToolCall, Usage
from memscreen_llm.errors import ResponseParseError, UsageError
from memscreen_llm.images import ImagePart
from memscreen_llm.types import StreamJoiner

from ._errors import problems


def to_ollama_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Assistant tool calls get dict arguments; tool results get the called tool's name;
    core's `ImagePart`s (every image input shape, loaded and checked) become `images`
    (sent as base64). What Ollama cannot take (an unknown part type, a value of the wrong type) is
    a UsageError, never dropped."""
    names_by_id: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        content, images = _content(message.get("content"), where)
        item: dict[str, Any] = {"role": message["role"], "content": content}
        if images:
            item["images"] = images
        if message.get("tool_calls"):
            calls = message["tool_calls"]
            if isinstance(calls, (str, bytes)) or not isinstance(calls, Sequence):
                raise UsageError(f"{where}.tool_calls must be a list of tool calls")
            item["tool_calls"] = [_call_out(call, names_by_id, f"{where}.tool_calls[{number}]")
                                  for number, call in enumerate(calls)]
        if message["role"] == "tool":
            name = message.get("name") or names_by_id.get(str(message.get("tool_call_id")))
            if name is not None and not isinstance(name, str):
                raise UsageError(f"{where}.name must be the called tool's name, a string; got "
                                 f"{type(name).__name__}")
            if name:
                item["tool_name"] = name
        out.append(item)
    return out


def _content(content: Any, where: str) -> tuple[str, list[bytes]]:
    """A message's text, and its images' bytes (core normalised them to ImageParts; the
    SDK base64-encodes bytes as they are, while a str could be taken for a path)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, Mapping) or not isinstance(content, Sequence) or isinstance(
            content, (bytes, bytearray)):
        raise UsageError(f"{where}.content must be a string or a list of content parts, got "
                         f"{type(content).__name__}")
    texts: list[str] = []
    images: list[bytes] = []
    for number, part in enumerate(content):
        if isinstance(part, ImagePart):
            images.append(part.data)
            continue
        at = f"{where}.content[{number}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "text":
            raise UsageError(f"{at}.text must be a string, got {type(part.get('text')).__name__}")
        else:
            raise UsageError(f"{at} is a {kind!r} part, which Ollama cannot take: it takes "
                             "'text' and image parts")
    return "".join(texts), images


def _call_out(call: Any, names_by_id: dict[str, str], where: str) -> dict[str, Any]:
    function = call.get("function", call) if isinstance(call, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if function is None or not isinstance(name, str) or not name:
        raise UsageError(f"{where} must be a tool call like {{'id': ..., 'function': "
                         "{'name': ..., 'arguments': ...}}, with the name a string")
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ResponseParseError(
                f"assistant tool call {name!r} has arguments that are not JSON: {exc}"
            ) from None
    if not isinstance(arguments, Mapping):
        raise UsageError(f"{where}: the arguments of tool call {name!r} must be a JSON object, "
                         f"got {type(arguments).__name__}")
    if call.get("id"):
        names_by_id[str(call["id"])] = name
    return {"function": {"name": name, "arguments": dict(arguments)}}


def to_ollama_tools(tools: Sequence[Mapping[str, Any]]) -> list[ollama.Tool]:
    """OpenAI tools as the SDK's `Tool`s (what it would build from them), each checked
    here: a tool it cannot build is a UsageError naming it, before anything is sent."""
    out = []
    for index, tool in enumerate(tools):
        try:
            out.append(ollama.Tool.model_validate(dict(tool)))
        except pydantic.ValidationError as exc:
            name = tool.get("function", {}).get("name") if isinstance(
                tool.get("function"), Mapping) else None
            raise UsageError(f"tools[{index}] ({name!r}) is not a tool Ollama can take: "
                             f"{problems(exc)}") from exc
    return out


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
