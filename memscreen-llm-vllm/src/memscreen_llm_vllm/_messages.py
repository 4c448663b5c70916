"""Requests in OpenAI's shape for vLLM, and vLLM's answers back to ChatResult / ChatDelta.

No openai import: responses are read by attribute, so this module serves any client
version (and the offline engine's history conversion).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import ChatDelta, ChatRequest, ChatResult, ToolCall, Usage
from memscreen_llm.errors import ResponseParseError
from memscreen_llm.parsing import OutputParser, OutputStreamer
from memscreen_llm.types import new_tool_call_id

from .config import VllmConfig

# Sampling fields the OpenAI client takes as keyword arguments.
_NATIVE = ("temperature", "top_p", "seed", "stop")
# vLLM sampling extras, sent in the request body.
_EXTRA = ("top_k", "repetition_penalty")
# Per-call options both modes take beyond core's common ones.
CALL_OPTIONS = frozenset({
    "extra_body", "structured_outputs", "chat_template_kwargs", "skip_special_tokens",
    "repetition_penalty",
})


log = logging.getLogger("memscreen_llm.vllm")


def merged(*dicts: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dicts:
        if item:
            out.update(item)
    return out


def stop_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def option(request: ChatRequest, config: VllmConfig, name: str) -> Any:
    """A per-call option, else the config's value."""
    value = request.options.get(name)
    return getattr(config, name, None) if value is None else value


def chat_template_kwargs(request: ChatRequest, config: VllmConfig) -> dict[str, Any]:
    return merged(config.chat_template_kwargs, request.options.get("chat_template_kwargs"))


def extra_body(request: ChatRequest, config: VllmConfig) -> dict[str, Any]:
    """vLLM's own request fields: config extra_body < sampling extras < per-call options."""
    body = merged(config.extra_body)
    for name in _EXTRA:
        value = option(request, config, name)
        if value is not None:
            body[name] = value
    template = chat_template_kwargs(request, config)
    if template:
        body["chat_template_kwargs"] = merged(body.get("chat_template_kwargs"), template)
    opts = request.options
    if opts.get("structured_outputs") is not None:
        body["structured_outputs"] = dict(opts["structured_outputs"])
    if opts.get("skip_special_tokens") is not None:
        body["skip_special_tokens"] = bool(opts["skip_special_tokens"])
    body.update(opts.get("extra_body") or {})
    return body


def request_params(
    request: ChatRequest, config: VllmConfig, model: str, *, send_tool_choice: bool
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` (without stream settings)."""
    params: dict[str, Any] = {
        "model": model,
        "messages": [dict(message) for message in request.messages],
    }
    for name in _NATIVE:
        value = option(request, config, name)
        if value is not None:
            params[name] = stop_list(value) if name == "stop" else value
    max_tokens = option(request, config, "max_tokens")
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if request.tools:
        params["tools"] = [dict(tool) for tool in request.tools]
        choice = request.tool_choice or "auto"
        # Without a server-side tool parser vLLM renders the tools but refuses "auto";
        # "none" still renders them, and the client-side parser finds the calls.
        params["tool_choice"] = choice if send_tool_choice else "none"
    if request.response_format is not None:
        params["response_format"] = dict(request.response_format)
    body = extra_body(request, config)
    if body:
        params["extra_body"] = body
    return params


def tokenize_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """The `/tokenize` request that counts the prompt `params` would render."""
    body: dict[str, Any] = {
        "model": params["model"],
        "messages": params["messages"],
        "add_generation_prompt": True,
    }
    if params.get("tools"):
        body["tools"] = params["tools"]
    template = (params.get("extra_body") or {}).get("chat_template_kwargs")
    if template:
        body["chat_template_kwargs"] = template
    return body


# --- responses ---


def _reasoning_of(message: Any) -> str | None:
    # Current vLLM names the field `reasoning`; older releases `reasoning_content`.
    value = getattr(message, "reasoning", None)
    if not isinstance(value, str) or not value:
        value = getattr(message, "reasoning_content", None)
    return value if isinstance(value, str) and value else None


def _tool_calls_of(message: Any) -> tuple[ToolCall, ...]:
    calls = []
    for call in getattr(message, "tool_calls", None) or ():
        function = call.function
        calls.append(ToolCall(
            name=function.name, arguments=function.arguments or "{}",
            id=call.id or new_tool_call_id(),
        ))
    return tuple(calls)


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def finish_reason(reason: str | None, has_calls: bool) -> str | None:
    return "tool_calls" if has_calls and reason == "stop" else reason


def server_reasons(usage: Any) -> bool:
    """Whether the server runs a reasoning parser: vLLM then reports `reasoning_tokens`
    (0 included) in the usage, and leaves `completion_tokens_details` null otherwise."""
    details = getattr(usage, "completion_tokens_details", None)
    return getattr(details, "reasoning_tokens", None) is not None


def to_result(response: Any, parser: OutputParser | None) -> ChatResult:
    """A non-streamed answer; `parser` splits raw text when the server did not."""
    if not response.choices:
        raise ResponseParseError("vLLM answered without any choices")
    choice = response.choices[0]
    message = choice.message
    content: str | None = message.content
    reasoning = _reasoning_of(message)
    calls = _tool_calls_of(message)
    split_by_server = reasoning is not None or bool(calls) or server_reasons(response.usage)
    if parser is not None and not split_by_server and content:
        parsed = parser.parse(content)
        content, reasoning, calls = parsed.content, parsed.reasoning, parsed.tool_calls
    return ChatResult(
        content=content,
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=finish_reason(choice.finish_reason, bool(calls)),
        usage=_usage(response.usage),
        model=response.model,
    )


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []


class StreamAssembler:
    """Turns streamed chunks into ChatDeltas.

    OpenAI streams tool calls as argument fragments: they are gathered here and each
    call is emitted whole when the stream ends. When the server did not split the output
    (its first text arrives as plain content) and a client-side parser is configured, the
    content goes through that parser's streamer.
    """

    def __init__(self, parser: OutputParser | None) -> None:
        self._parser = parser
        self._streamer: OutputStreamer | None = None
        self._decided = parser is None
        self._calls: dict[int, _PendingCall] = {}
        self._client_calls = False
        self.finish_reason: str | None = None
        self.server_reasons = False  # learnt from the final usage chunk
        self._usage: Usage | None = None
        self._model: str | None = None

    def feed(self, chunk: Any) -> ChatDelta | None:
        """The delta for one chunk, or None if it carries nothing to pass on yet."""
        if getattr(chunk, "model", None):
            self._model = chunk.model
        if getattr(chunk, "usage", None) is not None:
            self._usage = _usage(chunk.usage)
            self.server_reasons = self.server_reasons or server_reasons(chunk.usage)
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        delta = choice.delta
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        reasoning = _reasoning_of(delta)
        content = delta.content or None
        fragments = getattr(delta, "tool_calls", None)
        if fragments:
            self._gather(fragments)
        if not self._decided and (reasoning or content or fragments):
            self._decided = True
            if reasoning is None and not fragments and self._parser is not None:
                self._streamer = self._parser.streamer()
        if self._streamer is not None and content:
            parsed = self._streamer.feed(content)
            self._client_calls = self._client_calls or bool(parsed.tool_calls)
            if reasoning:
                parsed = ChatDelta(content=parsed.content, tool_calls=parsed.tool_calls,
                                   reasoning=reasoning + (parsed.reasoning or ""))
            return None if parsed.is_empty() else parsed
        if reasoning or content:
            return ChatDelta(content=content, reasoning=reasoning)
        return None

    def _gather(self, fragments: Sequence[Any]) -> None:
        for fragment in fragments:
            index = getattr(fragment, "index", None)
            pending = self._calls.setdefault(index if index is not None else len(self._calls),
                                             _PendingCall())
            if fragment.id:
                pending.id = fragment.id
            function = fragment.function
            if function is not None:
                if function.name:
                    pending.name += function.name
                if function.arguments:
                    pending.arguments.append(function.arguments)

    def _whole_calls(self) -> list[ToolCall]:
        calls = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending.name:
                raise ResponseParseError(f"vLLM streamed a tool call without a name: #{index}")
            arguments = "".join(pending.arguments) or "{}"
            if not _is_json_object(arguments):
                # The server's parser began a call the model never finished (its unary
                # answer drops such a block): never hand out a half-made call.
                log.warning("dropping tool call %r: its arguments never formed JSON: %r",
                            pending.name, arguments[:200])
                continue
            calls.append(ToolCall(name=pending.name, arguments=arguments,
                                  id=pending.id or new_tool_call_id()))
        return calls

    def finish(self) -> ChatDelta:
        """The last delta: held-back parser text, whole tool calls, finish reason, usage."""
        content = reasoning = None
        calls: list[ToolCall] = []
        if self._streamer is not None:
            tail = self._streamer.finish()
            content, reasoning, calls = tail.content, tail.reasoning, list(tail.tool_calls)
        calls += self._whole_calls()
        has_calls = bool(calls) or self._client_calls
        return ChatDelta(
            content=content, reasoning=reasoning, tool_calls=calls,
            finish_reason=finish_reason(self.finish_reason, has_calls),
            usage=self._usage, model=self._model,
        )

    def held_back(self) -> ChatDelta:
        """For an interrupted stream: text the parser still held (no half tool calls)."""
        if self._streamer is None:
            return ChatDelta()
        tail = self._streamer.finish()
        return ChatDelta(content=tail.content, reasoning=tail.reasoning)


# --- history for offline rendering ---


def to_template_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages for a chat template: assistant tool-call arguments as mappings, not JSON text
    (templates iterate them, e.g. `arguments|items`), and content never None."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        item = dict(message)
        if item.get("content") is None:
            item["content"] = ""
        if item.get("tool_calls"):
            item["tool_calls"] = [_call_for_template(call, index) for call in item["tool_calls"]]
        out.append(item)
    return out


def _call_for_template(call: Mapping[str, Any], index: int) -> dict[str, Any]:
    item = dict(call)
    function = dict(item.get("function") or {})
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            function["arguments"] = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ResponseParseError(
                f"messages[{index}]: tool call {function.get('name')!r} has arguments that "
                f"are not JSON: {exc}"
            ) from None
    item["function"] = function
    return item
