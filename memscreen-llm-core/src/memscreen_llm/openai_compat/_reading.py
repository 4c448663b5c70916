"""Reading chat-completions answers into `ChatResult` / `ChatDelta`: pure, no I/O.

Answers are read by attribute, so any client version (and any server's extra fields)
works. The reasoning text is an extra field — `reasoning` (vLLM today) or
`reasoning_content` (older vLLM, SGLang, DeepSeek's API) — and is read from the SDK's
`model_extra` dict where there is one: a missing attribute costs pydantic a slow path
on every streamed delta.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ResponseParseError, StreamInterruptedError
from ..parsing import OutputParser, OutputStreamer
from ..types import ChatDelta, ChatResult, StreamJoiner, ToolCall, Usage, new_tool_call_id

log = logging.getLogger("memscreen_llm.openai_compat")

REASONING_FIELDS = ("reasoning", "reasoning_content")


def reasoning_of(message: Any) -> str | None:
    """The reasoning a server split out of a message or delta, under either field name."""
    extra = getattr(message, "model_extra", None)
    if isinstance(extra, dict):
        value = extra.get("reasoning") or extra.get("reasoning_content")
    else:
        value = getattr(message, "reasoning", None) or getattr(message, "reasoning_content", None)
    return value if isinstance(value, str) and value else None


def usage_of(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def server_reasons(usage: Any) -> bool:
    """Whether the server runs a reasoning parser: vLLM then reports `reasoning_tokens`
    (0 included) in the usage, and leaves `completion_tokens_details` null otherwise."""
    details = getattr(usage, "completion_tokens_details", None)
    return getattr(details, "reasoning_tokens", None) is not None


def finish_reason(reason: str | None, has_calls: bool) -> str | None:
    return "tool_calls" if has_calls and reason == "stop" else reason


def _tool_calls_of(message: Any) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(name=call.function.name, arguments=call.function.arguments or "{}",
                 id=call.id or new_tool_call_id())
        for call in getattr(message, "tool_calls", None) or ()
    )


def read_completion(response: Any, parser: OutputParser | None = None) -> ChatResult:
    """A non-streamed answer; `parser` splits raw text when the server did not."""
    if not response.choices:
        raise ResponseParseError("the server answered without any choices")
    choice = response.choices[0]
    message = choice.message
    content: str | None = message.content
    reasoning = reasoning_of(message)
    calls = _tool_calls_of(message)
    split_by_server = reasoning is not None or bool(calls) or server_reasons(response.usage)
    if parser is not None and not split_by_server and content:
        parsed = parser.parse(content)
        content, reasoning, calls = parsed.content, parsed.reasoning, parsed.tool_calls
    return ChatResult(
        content=content, reasoning=reasoning, tool_calls=calls,
        finish_reason=finish_reason(choice.finish_reason, bool(calls)),
        usage=usage_of(response.usage), model=response.model,
    )


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class StreamReader:
    """Turns streamed chunks into ChatDeltas and keeps what arrived, for a broken stream.

    Tool-call argument fragments are gathered and each call is handed out whole when the
    stream ends. When the server did not split the output (its first text arrives as
    plain content) and a client-side `parser` is given, content goes through it.
    """

    def __init__(self, parser: OutputParser | None, source: str) -> None:
        self.source = source  # "vLLM at http://...", for the interruption message
        self.joiner = StreamJoiner()
        self.finish_reason: str | None = None
        self.server_reasons = False  # learnt from the final usage chunk
        self._parser = parser
        self._streamer: OutputStreamer | None = None
        self._decided = parser is None
        self._calls: dict[int, _PendingCall] = {}
        self._client_calls = False
        self._usage: Usage | None = None
        self._model: str | None = None

    def feed(self, chunk: Any) -> ChatDelta | None:
        """The delta for one chunk, or None if it carries nothing to pass on yet."""
        choices = chunk.choices
        if not choices:  # the usage chunk at the end
            if chunk.usage is not None:
                self._usage = usage_of(chunk.usage)
                self.server_reasons = server_reasons(chunk.usage)
            self._model = chunk.model or self._model
            return None
        choice = choices[0]
        delta = choice.delta
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
            self._model = chunk.model or self._model
        if chunk.usage is not None:
            self._usage = usage_of(chunk.usage)
        reasoning = reasoning_of(delta)
        content = delta.content or None
        fragments = delta.tool_calls
        if fragments:
            self._gather(fragments)
        if not self._decided and (reasoning or content or fragments):
            self._decided = True
            if reasoning is None and not fragments and self._parser is not None:
                self._streamer = self._parser.streamer()
        if self._streamer is not None and content:
            return self._parsed(content, reasoning)
        if reasoning or content:
            return self.joiner.add_text(content, reasoning)
        return None

    def _parsed(self, content: str, reasoning: str | None) -> ChatDelta | None:
        assert self._streamer is not None
        parsed = self._streamer.feed(content)
        self._client_calls = self._client_calls or bool(parsed.tool_calls)
        if reasoning:
            parsed = ChatDelta(content=parsed.content, tool_calls=parsed.tool_calls,
                               reasoning=reasoning + (parsed.reasoning or ""))
        return None if parsed.is_empty() else self.joiner.add(parsed)

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
                raise ResponseParseError(f"{self.source} streamed a tool call without a name")
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
        """The last delta (held-back parser text, whole tool calls, finish reason, usage),
        or StreamInterruptedError if the server never said it was done."""
        if self.finish_reason is None:
            raise self.interrupted(None)
        content = reasoning = None
        calls: list[ToolCall] = []
        if self._streamer is not None:
            tail = self._streamer.finish()
            content, reasoning, calls = tail.content, tail.reasoning, list(tail.tool_calls)
        calls += self._whole_calls()
        has_calls = bool(calls) or self._client_calls
        return self.joiner.add(ChatDelta(
            content=content, reasoning=reasoning, tool_calls=calls,
            finish_reason=finish_reason(self.finish_reason, has_calls),
            usage=self._usage, model=self._model,
        ))

    def interrupted(self, exc: BaseException | None) -> StreamInterruptedError:
        """The error for a stream that broke off; `partial` holds the text that arrived
        (and what the parser held back), never a half-made tool call."""
        if self._streamer is not None:
            tail = self._streamer.finish()
            self.joiner.add(ChatDelta(content=tail.content, reasoning=tail.reasoning))
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return StreamInterruptedError(
            f"the stream from {self.source} broke off before it was done{cause}",
            partial=self.joiner.result(),
        )
