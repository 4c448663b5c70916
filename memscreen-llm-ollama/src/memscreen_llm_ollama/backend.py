"""`OllamaLLM`: chat, streaming, async, tools, thinking, JSON formats and embeddings on Ollama."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import ollama

from memscreen_llm import (
    BackendIdentity,
    Capability,
    ChatDelta,
    ChatRequest,
    ChatResult,
    HealthReport,
    LLMBase,
)
from memscreen_llm.config import redact_url
from memscreen_llm.errors import (
    ConfigError,
    ModelNotFoundError,
    ResponseParseError,
    StreamInterruptedError,
    UsageError,
)
from memscreen_llm.types import StreamJoiner

from . import _health, _messages, _ndjson, _truncation
from ._errors import CLIENT_ERRORS, translate
from .config import OllamaConfig

# memscreen-llm option -> Ollama `options` key
_OPTION_NAMES = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
    "max_tokens": "num_predict", "seed": "seed", "stop": "stop", "num_ctx": "num_ctx",
}


class OllamaLLM(LLMBase):
    """A backend bound to one Ollama server; its sync client is shared by all calls."""

    capabilities = frozenset({
        Capability.STREAMING, Capability.TOOLS, Capability.REASONING, Capability.JSON_SCHEMA,
        Capability.EMBEDDINGS, Capability.ASYNC,
    })
    extra_call_options = frozenset({"think", "keep_alive", "num_ctx", "options", "truncate"})
    config: OllamaConfig

    def __init__(self, config: OllamaConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        self._client = ollama.Client(
            host=config.base_url, timeout=config.timeout, headers=config.http_headers
        )
        # An httpx AsyncClient belongs to the event loop it first ran on: one per loop.
        self._async_clients = _LoopClients(lambda: ollama.AsyncClient(
            host=config.base_url, timeout=config.timeout, headers=config.http_headers))
        self._limits = _truncation.LimitsCache()  # each model's context window (/api/show)

    def close(self) -> None:
        """Close the sync client and every event loop's async client (their sockets)."""
        self._client.close()
        self._async_clients.close()

    # --- requests ---

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        cfg, opts = self.config, request.options
        model = opts.get("model") or cfg.model
        if not model:
            raise ConfigError("no model set for the ollama backend", field="model",
                              fix=f"set {self.identity.env('model')}, or pass model=...")
        options: dict[str, Any] = dict(cfg.options or {})
        for ours, theirs in _OPTION_NAMES.items():
            value = opts.get(ours, getattr(cfg, ours, None))
            if value is not None:
                options[theirs] = value
        options.update(opts.get("options") or {})
        params: dict[str, Any] = {
            "model": model,
            "messages": _messages.to_ollama_messages(request.messages),
            "options": options,
        }
        if request.tools:
            if request.tool_choice not in ("auto", "none", None):
                raise UsageError(
                    f"Ollama cannot force a tool call (tool_choice={request.tool_choice!r}); "
                    "use 'auto' or 'none'"
                )
            if request.tool_choice != "none":
                params["tools"] = _messages.to_ollama_tools(request.tools)
        think = opts.get("think", cfg.think)
        if think is not None:
            params["think"] = think
        keep_alive = opts.get("keep_alive", cfg.keep_alive)
        if keep_alive is not None:
            params["keep_alive"] = keep_alive
        fmt = _messages.to_format(request.response_format)
        if fmt is not None:
            params["format"] = fmt
        return params

    def _error(self, exc: BaseException, model: str | None = None) -> Exception:
        cfg = self.config
        error = translate(exc, url=redact_url(cfg.base_url), model=model or cfg.model,
                          timeout=cfg.timeout, compose_hint=self.identity.compose_hint)
        if isinstance(error, ModelNotFoundError):
            self._limits.forget(model or cfg.model)  # /api/show again once it is pulled
        return error

    def _budget(self, request: ChatRequest, params: dict[str, Any]) -> _truncation.Budget:
        """The call's context window; raises ContextLengthError for a prompt that cannot fit
        (takes `truncate` out of params["options"]). Sync: the async twin is _abudget."""
        truncate = _truncation.opt_in(request.options, params["options"])
        model = params["model"]
        limits = self._limits.get(model) or self._limits.fetch(self._client, model)
        return _truncation.Budget.plan(params, limits, truncate)

    async def _abudget(self, request: ChatRequest, params: dict[str, Any]) -> _truncation.Budget:
        truncate = _truncation.opt_in(request.options, params["options"])
        model = params["model"]
        limits = self._limits.get(model) or await self._limits.afetch(self._aclient(), model)
        return _truncation.Budget.plan(params, limits, truncate)

    def _chat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        try:
            budget = self._budget(request, params)
            response = self._client.chat(**params)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, params["model"]) from exc
        budget.check(response.prompt_eval_count)
        return _messages.to_result(response)

    # The stream is the per-token hot path (a 200-token stream must cost at most 1.05x
    # the SDK's own, benchmarks/bench_stream.py). It reads the NDJSON itself through the
    # SDK's httpx client, because the SDK's per-line pydantic validation alone costs
    # more than that (why, and what keeps it the SDK's behaviour: _ndjson.py); the
    # SDK's stream serves what that path does not take (images, an unknown SDK layout).

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        joiner = StreamJoiner()
        http = _ndjson.http_client(self._client, httpx.Client)
        try:
            budget = self._budget(request, params)
            body = _ndjson.chat_body(params) if http is not None else None
            deltas = (_ndjson.stream(http, body, joiner) if body is not None
                      else self._sdk_stream(params, joiner))
            with contextlib.closing(deltas):  # type: ignore[type-var]  # generators, both
                for delta in deltas:
                    if delta.finish_reason is not None:  # the last: was the prompt cut?
                        budget.check(delta.usage.prompt_tokens if delta.usage else None,
                                     joiner)
                    yield delta
        except CLIENT_ERRORS as exc:
            raise self._interrupted(exc, joiner, params["model"]) from exc
        if not joiner.finished:
            raise self._interrupted(None, joiner, params["model"])

    def _sdk_stream(self, params: dict[str, Any], joiner: StreamJoiner) -> Iterator[ChatDelta]:
        add, add_text, to_delta = joiner.add, joiner.add_text, _messages.to_delta
        for chunk in self._client.chat(**params, stream=True):
            message = chunk.message
            if chunk.done or message.tool_calls is not None:
                yield add(to_delta(chunk, joiner))
            else:  # text only: nearly every chunk
                yield add_text(message.content, message.thinking)

    def _interrupted(
        self, exc: BaseException | None, joiner: StreamJoiner, model: str
    ) -> Exception:
        if not joiner.has_text and exc is not None:
            return self._error(exc, model)  # nothing arrived: the plain error says more
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return StreamInterruptedError(
            f"the stream from Ollama at {redact_url(self.config.base_url)} broke off before it "
            "was done"
            f"{cause}", partial=joiner.result(),
        )

    def _aclient(self) -> ollama.AsyncClient:
        return self._async_clients.get()

    async def _achat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        try:
            budget = await self._abudget(request, params)
            response = await self._aclient().chat(**params)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, params["model"]) from exc
        budget.check(response.prompt_eval_count)
        return _messages.to_result(response)

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        params = self._params(request)
        joiner = StreamJoiner()
        client = self._aclient()
        http = _ndjson.http_client(client, httpx.AsyncClient)
        try:
            budget = await self._abudget(request, params)
            body = _ndjson.chat_body(params) if http is not None else None
            if body is not None:
                async for delta in _ndjson.astream(http, body, joiner):
                    if delta.finish_reason is not None:  # the last: was the prompt cut?
                        budget.check(delta.usage.prompt_tokens if delta.usage else None,
                                     joiner)
                    yield delta
            else:
                add, add_text, to_delta = joiner.add, joiner.add_text, _messages.to_delta
                async for chunk in await client.chat(**params, stream=True):
                    message = chunk.message
                    if chunk.done:
                        budget.check(chunk.prompt_eval_count, joiner)
                    if chunk.done or message.tool_calls is not None:
                        yield add(to_delta(chunk, joiner))
                    else:
                        yield add_text(message.content, message.thinking)
        except CLIENT_ERRORS as exc:
            raise self._interrupted(exc, joiner, params["model"]) from exc
        if not joiner.finished:
            raise self._interrupted(None, joiner, params["model"])

    def _embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.embedding_model or self.config.model or ""
        # Ollama cuts a text longer than the model's context unless told not to.
        truncate = bool((self.config.options or {}).get("truncate", False))
        try:
            try:
                response = self._client.embed(model=model, input=texts, truncate=truncate)
            except ollama.ResponseError as exc:
                if not _truncation.embed_too_long(exc):
                    raise
                limits = self._limits.get(model) or self._limits.fetch(self._client, model)
                raise _truncation.embed_error(limits, texts) from exc
            vectors = [list(map(float, vector)) for vector in response.embeddings]
        except CLIENT_ERRORS as exc:
            raise self._error(exc, model) from exc
        if len(vectors) != len(texts):
            raise ResponseParseError(f"Ollama at {redact_url(self.config.base_url)} answered "
                                     f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors

    def _health(self) -> HealthReport:
        return _health.check(self._client, self.config, self.backend_name,
                             self.identity.compose_hint)


class _LoopClients:
    """The async clients of one backend, one per event loop, each closed with its loop.

    `asyncio.run()` (and asyncio.Runner, pytest-asyncio, anyio) finalize a loop's async
    generators before closing it: a parked one per client closes the client then, while
    its loop still runs. A loop closed without that (`loop.close()` alone) leaves its
    client to the next `get()` or `close()`, which shuts its sockets directly.
    """

    def __init__(self, make: Callable[[], ollama.AsyncClient]) -> None:
        self._make = make
        self._clients: dict[asyncio.AbstractEventLoop, tuple[ollama.AsyncClient, Any]] = {}
        self._lock = threading.Lock()

    def get(self) -> ollama.AsyncClient:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        self._close_where(lambda other: other.is_closed())
        client = self._make()
        keeper = self._keep(loop, client)
        with contextlib.suppress(StopIteration):  # runs to its `yield`: now the loop's
            keeper.asend(None).send(None)
        with self._lock:
            self._clients[loop] = (client, keeper)
        return client

    async def _keep(self, loop: asyncio.AbstractEventLoop,
                    client: ollama.AsyncClient) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                self._clients.pop(loop, None)
            if not loop.is_closed():  # the loop shuts down (or close() sent us here)
                await client.close()

    def close(self) -> None:
        self._close_where(lambda loop: True)

    def _close_where(self, which: Callable[[asyncio.AbstractEventLoop], bool]) -> None:
        with self._lock:
            entries = [(loop, *entry) for loop, entry in self._clients.items() if which(loop)]
        for loop, client, keeper in entries:
            if loop.is_running():  # in its own thread, or another one: close it there
                asyncio.run_coroutine_threadsafe(_aclose(keeper), loop)
                continue
            if not loop.is_closed():
                try:
                    loop.run_until_complete(_aclose(keeper))
                    continue
                except RuntimeError:  # another loop runs in this thread
                    pass
            with contextlib.suppress(StopIteration, RuntimeError):  # ends without awaiting
                keeper.aclose().send(None)
            with self._lock:
                self._clients.pop(loop, None)
            _shut_sockets(client)


async def _aclose(keeper: AsyncGenerator[None, None]) -> None:
    await keeper.aclose()


def _shut_sockets(client: ollama.AsyncClient) -> None:
    """Close the sockets of an async client whose event loop is gone (httpx cannot: its
    close needs that loop). Best effort through httpx/httpcore internals; else the
    garbage collector closes them later."""
    pool = getattr(getattr(getattr(client, "_client", None), "_transport", None), "_pool", None)
    for connection in list(getattr(pool, "_connections", None) or ()):
        stream = getattr(getattr(connection, "_connection", None), "_network_stream", None)
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # a transport gone in any way: nothing to close
            continue
        sock = getattr(sock, "_sock", sock)  # asyncio wraps it in a TransportSocket
        if isinstance(sock, socket.socket):
            sock.close()


__all__ = ["OllamaLLM"]
