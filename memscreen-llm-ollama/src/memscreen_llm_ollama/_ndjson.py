"""The streaming fast path: /api/chat's NDJSON lines read through the SDK's own httpx client.

Why not the SDK's stream: it validates every line into a pydantic `ChatResponse`, about
4 µs a chunk, and a stream may cost at most 1.05x the SDK's own (issue 9; measured by
benchmarks/bench_stream.py). Our per-chunk work on top of the SDK's objects is only some
0.5 µs, yet on a 2-core machine it measured 1.04-1.07x: no margin. Read here instead,
a 200-chunk stream costs about 0.85x the SDK's.

What keeps it the SDK's behaviour:

- the request is the SDK's: the same `httpx` client (host, headers, auth, timeout,
  transport), and the body `Client.chat` builds, with the same models (`Message`,
  `Tool`, `ChatRequest`) dumped the same way;
- errors are the SDK's: `ResponseError` for an HTTP error status (after reading the
  body) or an `error` line, httpx's exceptions from the transport;
- only plain text chunks (content and/or thinking strings, not done, no tool calls, no
  error) skip validation; every other line — the last one with its usage, tool calls,
  anything unexpected — becomes the SDK's `ChatResponse` and is read as before.

`plan()` returns None, and the backend uses the SDK's stream, when this SDK keeps its
httpx client or its request model elsewhere (a future release) or a message has images
(the SDK encodes those from paths and bytes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import ollama

from memscreen_llm import ChatDelta
from memscreen_llm.types import StreamJoiner

from ._messages import to_delta

_ChatRequest: type[Any] | None
try:
    from ollama._types import ChatRequest as _ChatRequest
except ImportError:  # pragma: no cover - a future SDK: the SDK's own stream then
    _ChatRequest = None

PATH = "/api/chat"  # what Client.chat posts to


def http_client(client: Any, kind: type[Any]) -> Any:
    """The SDK client's httpx client (`kind`: httpx.Client or httpx.AsyncClient) if it
    keeps one where 0.6 does, else None."""
    inner = getattr(client, "_client", None)
    return inner if isinstance(inner, kind) else None


def chat_body(params: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON body `Client.chat(**params, stream=True)` sends, or None to let the SDK
    send it (images in a message, or no request model where this SDK version keeps it)."""
    if _ChatRequest is None or any(m.get("images") for m in params["messages"]):
        return None
    # As Client.chat builds it (its _copy_messages / _copy_tools, for messages without images).
    messages = [ollama.Message.model_validate({k: v for k, v in m.items() if v})
                for m in params["messages"]]
    tools = [ollama.Tool.model_validate(tool) for tool in params.get("tools") or ()]
    request = _ChatRequest(
        model=params["model"], messages=messages, tools=tools, stream=True,
        think=params.get("think"), format=params.get("format"),
        options=params.get("options"), keep_alive=params.get("keep_alive"),
    )
    body: dict[str, Any] = request.model_dump(exclude_none=True)
    return body


def _text(part: dict[str, Any]) -> tuple[str | None, str | None] | None:
    """(content, thinking) of a chunk that carries only text, else None."""
    message = part.get("message")
    if part.get("done") or type(message) is not dict or "error" in part:
        return None
    if message.get("tool_calls"):
        return None
    content, thinking = message.get("content"), message.get("thinking")
    if (content is None or type(content) is str) and (thinking is None or type(thinking) is str):
        return content, thinking
    return None


def _other(part: dict[str, Any], joiner: StreamJoiner) -> ChatDelta:
    """Any other chunk: the SDK's error check and model, then the usual mapping."""
    if err := part.get("error"):
        raise ollama.ResponseError(err)
    return joiner.add(to_delta(ollama.ChatResponse(**part), joiner))


def _status_error(response: httpx.Response) -> ollama.ResponseError:
    return ollama.ResponseError(response.text, response.status_code)


def stream(http: httpx.Client, body: dict[str, Any], joiner: StreamJoiner) -> Iterator[ChatDelta]:
    """The deltas of one streamed chat, joined into `joiner` as they go."""
    loads, add_text = json.loads, joiner.add_text
    with http.stream("POST", PATH, json=body) as response:
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError:
            response.read()
            raise _status_error(response) from None
        for line in response.iter_lines():
            if not line:
                continue
            part = loads(line)
            text = _text(part)
            yield add_text(*text) if text is not None else _other(part, joiner)


async def astream(http: httpx.AsyncClient, body: dict[str, Any],
                  joiner: StreamJoiner) -> AsyncIterator[ChatDelta]:
    """`stream` on the async client."""
    loads, add_text = json.loads, joiner.add_text
    async with http.stream("POST", PATH, json=body) as response:
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError:
            await response.aread()
            raise _status_error(response) from None
        async for line in response.aiter_lines():
            if not line:
                continue
            part = loads(line)
            text = _text(part)
            yield add_text(*text) if text is not None else _other(part, joiner)
