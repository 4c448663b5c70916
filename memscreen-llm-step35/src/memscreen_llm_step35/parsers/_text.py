"""Small string helpers shared by the streaming parsers."""

from __future__ import annotations


def partial_marker_len(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `markers`.

    A streamer must hold back exactly this suffix: it may still grow into a marker, while
    everything before it is known to be plain text. The cost is bounded by the marker
    length, not by `text`, so calling it on every delta keeps streaming linear.
    """
    longest = max(len(marker) for marker in markers) - 1
    for size in range(min(len(text), longest), 0, -1):
        tail = text[-size:]
        if any(size < len(marker) and marker.startswith(tail) for marker in markers):
            return size
    return 0


def trim_one_newline(text: str, *, leading: bool, trailing: bool) -> str:
    """Remove at most one `\\n` at each requested end (docs/FORMAT.md sections 2 and 3)."""
    if leading and text.startswith("\n"):
        text = text[1:]
    if trailing and text.endswith("\n"):
        text = text[:-1]
    return text
