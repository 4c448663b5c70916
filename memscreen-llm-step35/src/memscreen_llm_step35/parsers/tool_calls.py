"""Step-3.5-Flash tool calls: `<tool_call><function=NAME><parameter=KEY>...` blocks in content.

Content is cut into text segments and blocks. A block that reads as a call becomes a
ToolCall; any other block (empty name, malformed, never closed) stays in the text. Text
before the first call is kept as written; a segment after a call that is only whitespace
is dropped (docs/FORMAT.md section 3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm.types import ToolCall

from ._blocks import BlockReader
from ._text import partial_marker_len

START = "<tool_call>"
END = "</tool_call>"
_STARTS = (START,)
_NON_SPACE = re.compile(r"\S")


class Step3p5ToolCallParser:
    """Splits content into (text or None, tool calls); values typed by the tools' schemas."""

    def __init__(self, tools: Sequence[Mapping[str, Any]] | None = None) -> None:
        self._reader = BlockReader(tools)

    def parse(self, text: str) -> tuple[str | None, list[ToolCall]]:
        kept: list[str] = []
        calls: list[ToolCall] = []
        segment: list[str] = []  # text since the last call, blocks that failed included

        def close_segment() -> None:
            joined = "".join(segment)
            segment.clear()
            if not calls or not joined.isspace():  # isspace() is False for ""
                kept.append(joined)

        pos = 0
        while True:
            start = text.find(START, pos)
            end = text.find(END, start + len(START)) if start >= 0 else -1
            if end < 0:  # no further block, or one that never closes: all text
                segment.append(text[pos:])
                break
            call = self._reader.read(text[start + len(START) : end])
            if call is None:
                segment.append(text[pos : end + len(END)])
            else:
                segment.append(text[pos:start])
                close_segment()
                calls.append(call)
            pos = end + len(END)
        close_segment()
        return "".join(kept) or None, calls

    def streamer(self) -> Step3p5ToolCallStreamer:
        return Step3p5ToolCallStreamer(self._reader)


class Step3p5ToolCallStreamer:
    """Incremental `Step3p5ToolCallParser.parse`: text as soon as it is safe, calls whole.

    Outside a block only a suffix that may become `<tool_call>` is held back, plus, right
    after a call, whitespace whose fate depends on what follows it. Inside a block the new
    delta is searched together with the last `len("</tool_call>") - 1` characters only, and
    the block is read once when it closes. `scanned` counts the characters examined.
    """

    def __init__(self, reader: BlockReader) -> None:
        self._reader = reader
        self.scanned = 0
        self._reset()

    def _reset(self) -> None:
        self._held = ""  # outside a block: a suffix that may begin `<tool_call>`
        self._after_call = False  # a call ended and only whitespace has come since
        self._spaces: list[str] = []  # that whitespace
        self._in_block = False
        self._block: list[str] = []  # inside a block: its text so far
        self._block_tail = ""  # the block text's last len(END) - 1 characters
        self._block_spaces = ""  # whitespace after a previous call, owed if the block fails

    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        out: list[str] = []
        calls: list[ToolCall] = []
        rest: str | None = text
        while rest is not None:
            if self._in_block:
                rest = self._block_step(rest, out, calls)
            else:
                rest = self._text_step(rest, out)
        return "".join(out), calls

    def finish(self) -> tuple[str, list[ToolCall]]:
        out: list[str] = []
        if self._in_block:  # never closed: content, with the whitespace before it
            out.append(self._block_spaces + START + "".join(self._block))
        elif self._held:
            self._emit(self._held, out)
        self._reset()  # whitespace still pending after the last call is dropped
        return "".join(out), []

    def _emit(self, text: str, out: list[str]) -> None:
        """Emit non-empty plain text; whitespace held after a call goes out before it."""
        if not text:
            return
        if self._after_call:
            out.extend(self._spaces)
            self._spaces.clear()
            self._after_call = False
        out.append(text)

    def _text_step(self, text: str, out: list[str]) -> str | None:
        """Consume text outside a block; return what follows `<tool_call>`, or None."""
        text = self._held + text
        self._held = ""
        self.scanned += len(text)
        pos = 0
        if self._after_call:
            found = _NON_SPACE.search(text)
            if found is None:
                self._spaces.append(text)
                return None
            pos = found.start()
            self._spaces.append(text[:pos])
        start = text.find(START, pos)
        if start < 0:
            keep = min(partial_marker_len(text, _STARTS), len(text) - pos)
            self._emit(text[pos : len(text) - keep], out)
            self._held = text[len(text) - keep :]
            return None
        self._emit(text[pos:start], out)
        # Still after a call with nothing but whitespace: that whitespace now depends on
        # whether this block turns out to be a call.
        self._block_spaces = "".join(self._spaces) if self._after_call else ""
        self._spaces.clear()
        self._after_call = False
        self._in_block = True
        return text[start + len(START) :]

    def _block_step(self, text: str, out: list[str], calls: list[ToolCall]) -> str | None:
        """Consume block text; at `</tool_call>` read the block and return what follows."""
        if not text:
            return None
        window = self._block_tail + text
        self.scanned += len(window)
        end = window.find(END)
        if end < 0:
            self._block.append(text)
            self._block_tail = window[-(len(END) - 1) :]
            return None
        # `window` is a suffix of the whole block text, so `end` maps into it directly.
        self._block.append(text)
        whole = "".join(self._block)
        end += len(whole) - len(window)
        inner, rest = whole[:end], whole[end + len(END) :]
        self.scanned += len(inner)
        call = self._reader.read(inner)
        if call is None:
            out.append(self._block_spaces + START + inner + END)
        else:
            calls.append(call)
            self._after_call = True
        self._block.clear()
        self._block_tail = ""
        self._block_spaces = ""
        self._in_block = False
        return rest
