"""The data that crosses the backend interface: results, stream deltas, tool calls, health."""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import attrs


class Capability(str, enum.Enum):
    """Optional abilities a backend declares; asking for an undeclared one is an error."""

    STREAMING = "streaming"
    TOOLS = "tools"
    REASONING = "reasoning"
    JSON_SCHEMA = "json_schema"
    EMBEDDINGS = "embeddings"
    ASYNC = "async"
    OFFLINE = "offline"
    VISION = "vision"


def new_tool_call_id() -> str:
    """An OpenAI-style id for a tool call whose engine gave none."""
    return "call_" + os.urandom(12).hex()  # not `secrets`: it costs startup time


def _arguments_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@attrs.frozen
class ToolCall:
    """One function call the model asked for; `arguments` is a JSON object string."""

    name: str
    arguments: str = attrs.field(default="{}", converter=_arguments_json)
    id: str = attrs.field(factory=new_tool_call_id)

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict (an empty dict for empty arguments)."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError(f"tool call arguments are not a JSON object: {self.arguments!r}")
        return value

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI chat-completions shape, for assistant messages in history."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@attrs.frozen
class Usage:
    """Token counts the engine reported."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


def _calls(items: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    return tuple(items)


def _none_if_empty(value: str | None) -> str | None:
    return value if value else None


@attrs.frozen
class ChatResult:
    """A finished chat turn: the answer, the reasoning apart from it, and any tool calls."""

    content: str | None = attrs.field(default=None, converter=_none_if_empty)
    reasoning: str | None = attrs.field(default=None, converter=_none_if_empty)
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_calls)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    # The backend that answered (its registered name; with fallbacks, the one that did).
    # Not compared: where an answer came from is not part of the answer.
    backend: str | None = attrs.field(default=None, eq=False)

    def to_memscreen(self, tools_given: bool) -> str | dict[str, Any]:
        """What MemScreen/mem0 `generate_response` returns: text, or a dict if tools were given."""
        if not tools_given:
            return self.content or ""
        return {
            "content": self.content,
            "tool_calls": [
                {"name": call.name, "arguments": call.parsed_arguments()}
                for call in self.tool_calls
            ],
        }

    def to_message(self) -> dict[str, Any]:
        """This turn as an assistant message to append to the history."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or ""}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        return message


class _DeltaFields(NamedTuple):
    content: str | None = None
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


_new_tuple = tuple.__new__


class ChatDelta(_DeltaFields):
    """One piece of a stream. Tool calls arrive whole, each in the delta that completes it.

    Immutable like the other types, but a NamedTuple rather than an attrs class: a stream
    builds one per token, and a tuple is the cheapest immutable object Python makes (an
    attrs frozen class costs twice as much, in setattr calls). It compares equal only to
    another ChatDelta.
    """

    __slots__ = ()

    def __new__(
        cls,
        content: str | None = None,
        reasoning: str | None = None,
        tool_calls: Iterable[ToolCall] = (),
        finish_reason: str | None = None,
        usage: Usage | None = None,
        model: str | None = None,
    ) -> ChatDelta:
        if type(tool_calls) is not tuple:
            tool_calls = tuple(tool_calls)
        return _new_tuple(cls, (content, reasoning, tool_calls, finish_reason, usage, model))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def is_empty(self) -> bool:
        return not (self.content or self.reasoning or self.tool_calls or self.finish_reason
                    or self.usage)


class StreamJoiner:
    """Joins deltas into the ChatResult the same request would have given unstreamed."""

    __slots__ = ("_content", "_finish_reason", "_model", "_reasoning", "_tool_calls", "_usage")

    def __init__(self) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._model: str | None = None

    def add(self, delta: ChatDelta) -> ChatDelta:
        content, reasoning, tool_calls, finish_reason, usage, model = delta
        if content:
            self._content.append(content)
        if reasoning or tool_calls or finish_reason or usage or model:  # rare: not per token
            if reasoning:
                self._reasoning.append(reasoning)
            self._tool_calls.extend(tool_calls)
            self._finish_reason = finish_reason or self._finish_reason
            self._usage = usage or self._usage
            self._model = model or self._model
        return delta

    def add_text(self, content: str | None, reasoning: str | None = None) -> ChatDelta:
        """`add(ChatDelta(content, reasoning))` at a fraction of the cost: the per-token
        path of a stream (a backend's loop calls it for every chunk that only has text)."""
        if content:
            self._content.append(content)
        else:
            content = None
        if reasoning:
            self._reasoning.append(reasoning)
        else:
            reasoning = None
        return _new_tuple(ChatDelta, (content, reasoning, (), None, None, None))

    @property
    def finished(self) -> bool:
        return self._finish_reason is not None

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._tool_calls)

    @property
    def has_text(self) -> bool:
        """Whether any content or reasoning arrived (cheap: no joining)."""
        return bool(self._content or self._reasoning)

    def result(self) -> ChatResult:
        return ChatResult(
            content="".join(self._content),
            reasoning="".join(self._reasoning),
            tool_calls=tuple(self._tool_calls),
            finish_reason=self._finish_reason,
            usage=self._usage,
            model=self._model,
        )


def join_deltas(deltas: Iterable[ChatDelta]) -> ChatResult:
    """The ChatResult of a whole stream."""
    joiner = StreamJoiner()
    for delta in deltas:
        joiner.add(delta)
    return joiner.result()


@attrs.frozen
class ChatRequest:
    """A validated chat request as a backend receives it."""

    messages: tuple[Mapping[str, Any], ...]
    tools: tuple[Mapping[str, Any], ...] | None = None
    tool_choice: str | Mapping[str, Any] | None = "auto"
    response_format: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    images: int = 0  # ImageParts among the messages' content parts (memscreen_llm.images)


@attrs.frozen
class HealthCheck:
    """One line of `doctor`: what was checked, whether it passed, and the fix if not."""

    name: str
    ok: bool
    detail: str = ""
    fix: str | None = None


def _checks(items: Iterable[HealthCheck]) -> tuple[HealthCheck, ...]:
    return tuple(items)


@attrs.frozen
class HealthReport:
    """Everything `health()` checked for one backend."""

    backend: str
    checks: tuple[HealthCheck, ...] = attrs.field(converter=_checks)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)
