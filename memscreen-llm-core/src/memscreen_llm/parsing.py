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
