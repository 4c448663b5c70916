"""Step-3.5-Flash reasoning split: everything before the first `</think>` is reasoning.

The chat template opens `<think>\\n` itself, so the output usually starts inside the
reasoning; a leading `<think>` (plus one `\\n`) is dropped when the model writes it anyway.
One `\\n` on each side of `</think>` belongs to the marker, not to the text.
"""

from __future__ import annotations

import enum

from ._text import partial_marker_len, trim_one_newline

OPEN = "<think>"
CLOSE = "</think>"
# Held back while reasoning: a suffix that may become `</think>`, or the `\n` that would be
# trimmed before it.
_REASONING_TAILS = ("\n" + CLOSE, CLOSE)


class _State(enum.Enum):
    START = "start"  # nothing decided yet: the output may begin with `<think>`
    OPEN_NEWLINE = "open-newline"  # `<think>` dropped; one `\n` right after it is dropped too
    REASONING = "reasoning"
    CLOSE_NEWLINE = "close-newline"  # `</think>` seen; one `\n` right after it is dropped
    CONTENT = "content"


class Step3p5ReasoningParser:
    """Splits Step-3.5-Flash output into (reasoning, content); see docs/FORMAT.md section 2."""

    def __init__(self) -> None:
        pass

    def parse(self, text: str) -> tuple[str | None, str | None]:
        if text.startswith(OPEN):
            text = trim_one_newline(text[len(OPEN) :], leading=True, trailing=False)
        end = text.find(CLOSE)
        if end < 0:
            # Cut off while thinking: no content at all.
            return text or None, None
        reasoning = trim_one_newline(text[:end], leading=False, trailing=True)
        content = trim_one_newline(text[end + len(CLOSE) :], leading=True, trailing=False)
        return reasoning or None, content or None

    def streamer(self) -> Step3p5ReasoningStreamer:
        return Step3p5ReasoningStreamer()


class Step3p5ReasoningStreamer:
    """Incremental `Step3p5ReasoningParser.parse`: feed any split, join the pieces.

    Only a suffix of at most `len("\\n</think>") - 1` characters is ever held back, and each
    delta is scanned once together with that suffix, so the work per delta does not depend
    on how much text came before. `scanned` counts the characters examined (for tests).
    """

    def __init__(self) -> None:
        self._state = _State.START
        self._held = ""
        self.scanned = 0

    def feed(self, text: str) -> tuple[str, str]:
        if self._state is _State.CONTENT:
            return "", text  # after `</think>` everything is content: nothing to look at
        rest = self._held + text
        self._held = ""
        self.scanned += len(rest)
        reasoning = ""

        if self._state is _State.START:
            if len(rest) < len(OPEN) and OPEN.startswith(rest):
                self._held = rest  # still could be the leading `<think>`
                return "", ""
            if rest.startswith(OPEN):
                rest = rest[len(OPEN) :]
                self._state = _State.OPEN_NEWLINE
            else:
                self._state = _State.REASONING

        if self._state is _State.OPEN_NEWLINE:
            if not rest:
                return "", ""
            rest = trim_one_newline(rest, leading=True, trailing=False)
            self._state = _State.REASONING

        if self._state is _State.REASONING:
            end = rest.find(CLOSE)
            if end < 0:
                keep = partial_marker_len(rest, _REASONING_TAILS)
                self._held = rest[len(rest) - keep :]
                return rest[: len(rest) - keep], ""
            reasoning = trim_one_newline(rest[:end], leading=False, trailing=True)
            rest = rest[end + len(CLOSE) :]
            self._state = _State.CLOSE_NEWLINE

        # Here the state is CLOSE_NEWLINE: drop one `\n` once the next character is known.
        if not rest:
            return reasoning, ""
        self._state = _State.CONTENT
        return reasoning, trim_one_newline(rest, leading=True, trailing=False)

    def finish(self) -> tuple[str, str]:
        # Held text in START (a cut `<think` prefix) or REASONING is plain reasoning.
        held = self._held
        self._state, self._held = _State.START, ""  # ready for another stream
        return held, ""
