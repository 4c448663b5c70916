"""The context-length check: count the prompt, reject one that cannot fit, clamp max_tokens.

Pure functions, no I/O: the backends count tokens (the server's `/tokenize`, or the
offline tokenizer) and hand the number here. Server and offline mode share it, and
presets rely on it (Step-3.5-Flash serves `max_model_len=32768`).

    max_context = config.max_model_len or <what the engine reports>
    if not clearly_fits(messages, tools, max_context, max_tokens):
        count = PromptCount(<tokens from /tokenize>)  # or estimate(messages, tools)
        max_tokens = fit(count, max_context, max_tokens)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from memscreen_llm.errors import ContextLengthError

# A conservative estimate when the engine cannot count: two characters per token
# (English averages about four), so a prompt is over- rather than under-counted.
CHARS_PER_TOKEN = 2
# Bytes a chat template typically adds around the messages (role markers, a default
# system prompt; tool-use instructions when tools are given), and per message. Used only
# to skip counting when the request is far from the limit: nearer to it the engine counts.
# Should a template add more than this, the engine refuses the request and the backend
# counts then (see the server backend), so a wrong guess costs a round trip, not an error.
TEMPLATE_BYTES = 256
TOOLS_TEMPLATE_BYTES = 1024
MESSAGE_BYTES = 16

Messages = Sequence[Mapping[str, Any]]
Tools = Sequence[Mapping[str, Any]]


@attrs.frozen
class PromptCount:
    """Prompt tokens as the engine counted them, or as estimated when it could not."""

    tokens: int
    estimated: bool = False


def _texts(messages: Messages, tools: Tools | None) -> tuple[list[str], bool]:
    """The text a template renders from the request, and whether all of it is text."""
    texts: list[str] = []
    only_text = True
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, Sequence):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:  # an image or audio part: its token cost is unknown here
                    only_text = False
        for key in ("reasoning", "reasoning_content", "name"):
            if isinstance(message.get(key), str):
                texts.append(message[key])
        if message.get("tool_calls"):
            texts.append(json.dumps(message["tool_calls"], ensure_ascii=False, default=str))
    if tools:
        texts.append(json.dumps(list(tools), ensure_ascii=False, default=str))
    return texts, only_text


def upper_bound(messages: Messages, tools: Tools | None = None) -> int | None:
    """A cheap, generous bound on prompt tokens: the request's bytes (no token is shorter
    than one byte) plus a template allowance; None when the request has non-text parts
    whose cost cannot be bounded this way."""
    texts, only_text = _texts(messages, tools)
    if not only_text:
        return None
    size = sum(len(text.encode("utf-8")) for text in texts)
    template = TEMPLATE_BYTES + (TOOLS_TEMPLATE_BYTES if tools else 0)
    return size + template + MESSAGE_BYTES * len(messages)


def clearly_fits(
    messages: Messages, tools: Tools | None, max_context: int, max_tokens: int | None
) -> bool:
    """Whether the request is so far from the limit that counting its tokens is skipped."""
    bound = upper_bound(messages, tools)
    if bound is None:
        return False
    return bound + (max_tokens or 1) <= max_context


def estimate(messages: Messages, tools: Tools | None = None) -> PromptCount:
    """A conservative count (characters / 2) for when the engine cannot count."""
    texts, _ = _texts(messages, tools)
    chars = sum(len(text) for text in texts)
    per_message = 8 * len(messages)  # role markers and separators
    return PromptCount(tokens=-(-chars // CHARS_PER_TOKEN) + per_message, estimated=True)


def fit(count: PromptCount, max_context: int, max_tokens: int | None) -> int | None:
    """The max_tokens to send: clamped to the room left, or ContextLengthError if none is.

    A prompt needs room for at least one generated token. `max_tokens=None` (the engine
    decides) stays None once the prompt is known to fit.
    """
    room = max_context - count.tokens
    if room < 1:
        raise ContextLengthError(count.tokens, max_context, estimated=count.estimated)
    if max_tokens is None:
        return None
    return min(max_tokens, room)
