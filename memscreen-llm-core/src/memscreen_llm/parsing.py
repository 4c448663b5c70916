"""Output parsers: the protocols a named parser implements, and how core chains them.

A reasoning parser splits raw model text into reasoning and content; a tool-call parser
splits content into text and whole tool calls. Each has a one-shot `parse` and a
`streamer()` whose `feed` takes any split of the text, so joined streamed output
equals the one-shot result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .types import ChatDelta, ChatResult, ToolCall

Tools = Sequence[Mapping[str, Any]]


class ReasoningStreamer(Protocol):
    def feed(self, text: str) -> tuple[str, str]:
        """Take the next piece of raw text; return (reasoning, content) now known."""
        ...

    def finish(self) -> tuple[str, str]:
        """End of stream: return whatever was held back."""
        ...


class ReasoningParser(Protocol):
    def parse(self, text: str) -> tuple[str | None, str | None]:
        """Split a whole output into (reasoning, content); empty parts are None."""
        ...

    def streamer(self) -> ReasoningStreamer: ...


class ToolCallStreamer(Protocol):
    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        """Take the next piece of content; return (plain text, completed tool calls)."""
        ...

    def finish(self) -> tuple[str, list[ToolCall]]:
        """End of stream: held-back and unclosed text comes out as plain text."""
        ...


class ToolCallParser(Protocol):
    def __init__(self, tools: Tools | None = None) -> None: ...

    def parse(self, text: str) -> tuple[str | None, list[ToolCall]]:
        """Split whole content into (plain text or None, tool calls)."""
        ...

    def streamer(self) -> ToolCallStreamer: ...


class OutputParser:
    """A reasoning parser and a tool-call parser applied in that order (either may be absent)."""

    def __init__(
        self, reasoning: ReasoningParser | None = None, tool_calls: ToolCallParser | None = None
    ) -> None:
        self.reasoning = reasoning
        self.tool_calls = tool_calls

    def parse(self, text: str) -> ChatResult:
        reasoning: str | None = None
        content: str | None = text
        if self.reasoning is not None:
            reasoning, content = self.reasoning.parse(text)
        calls: list[ToolCall] = []
        if self.tool_calls is not None and content:
            content, calls = self.tool_calls.parse(content)
        return ChatResult(content=content, reasoning=reasoning, tool_calls=tuple(calls))

    def streamer(self) -> OutputStreamer:
        return OutputStreamer(self)


class OutputStreamer:
    """Incremental form of `OutputParser.parse`: feed raw deltas, get ChatDeltas."""

    def __init__(self, parser: OutputParser) -> None:
        self._reasoning = parser.reasoning.streamer() if parser.reasoning else None
        self._tools = parser.tool_calls.streamer() if parser.tool_calls else None

    def feed(self, text: str) -> ChatDelta:
        reasoning, content = self._reasoning.feed(text) if self._reasoning else ("", text)
        return self._after_reasoning(reasoning, content, final=False)

    def finish(self) -> ChatDelta:
        reasoning, content = self._reasoning.finish() if self._reasoning else ("", "")
        return self._after_reasoning(reasoning, content, final=True)

    def _after_reasoning(self, reasoning: str, content: str, *, final: bool) -> ChatDelta:
        calls: list[ToolCall] = []
        if self._tools is not None:
            content, calls = self._tools.feed(content) if content else ("", [])
            if final:
                tail, more = self._tools.finish()
                content, calls = content + tail, calls + more
        return ChatDelta(content=content or None, reasoning=reasoning or None, tool_calls=calls)


class ConfiguredParsers:
    """The parsers a backend's config names (`reasoning_parser`, `tool_parser`).

    Looked up once, when the backend is built, so a name that is not installed fails
    there with a ConfigError. Backends apply them to raw model text: always where the
    engine cannot parse, and elsewhere only when the engine did not split the output.
    """

    def __init__(self, reasoning: str | None = None, tool_calls: str | None = None) -> None:
        from ._discovery import get_registry

        registry = get_registry() if reasoning or tool_calls else None
        self._reasoning: type[ReasoningParser] | None = None
        self._tool_calls: type[ToolCallParser] | None = None
        if registry is not None and reasoning:
            self._reasoning = registry.parser_class(reasoning, "reasoning",
                                                    field="reasoning_parser")
        if registry is not None and tool_calls:
            self._tool_calls = registry.parser_class(tool_calls, "tool_calls",
                                                     field="tool_parser")

    @classmethod
    def from_config(cls, config: Any) -> ConfiguredParsers:
        """From a config's `reasoning_parser` / `tool_parser` fields (either may be absent)."""
        return cls(getattr(config, "reasoning_parser", None), getattr(config, "tool_parser", None))

    @property
    def has_tool_parser(self) -> bool:
        return self._tool_calls is not None

    def __bool__(self) -> bool:
        return self._reasoning is not None or self._tool_calls is not None

    def for_request(self, tools: Tools | None, parse_tools: bool = True) -> OutputParser | None:
        """A fresh parser for one request (parsers keep stream state); tool calls are looked
        for only when the request lets the model call its tools."""
        reasoning = self._reasoning() if self._reasoning is not None else None
        tool_calls = None
        if parse_tools and tools and self._tool_calls is not None:
            tool_calls = self._tool_calls(list(tools))
        if reasoning is None and tool_calls is None:
            return None
        return OutputParser(reasoning=reasoning, tool_calls=tool_calls)
