"""`OllamaLLM`: chat, streaming, async, tools, thinking, JSON formats and embeddings on Ollama."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
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
from memscreen_llm.errors import ConfigError, StreamInterruptedError, UsageError
from memscreen_llm.types import StreamJoiner

from . import _health, _messages, _ndjson
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
    extra_call_options = frozenset({"think", "keep_alive", "num_ctx", "options"})
    config: OllamaConfig

    def __init__(self, config: OllamaConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        self._client = ollama.Client(
            host=config.base_url, timeout=config.timeout, headers=config.http_headers
        )
        # An httpx AsyncClient belongs to the event loop it first ran on: one per loop.
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, ollama.AsyncClient
        ] = weakref.WeakKeyDictionary()

    def close(self) -> None:
        self._client.close()

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
                params["tools"] = [dict(tool) for tool in request.tools]
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
        return translate(exc, url=redact_url(cfg.base_url), model=model or cfg.model,
                         timeout=cfg.timeout, compose_hint=self.identity.compose_hint)

    def _chat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        try:
            response = self._client.chat(**params)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, params["model"]) from exc
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
        body = _ndjson.chat_body(params) if http is not None else None
        try:
            if body is not None:
                yield from _ndjson.stream(http, body, joiner)
            else:
                yield from self._sdk_stream(params, joiner)
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
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = ollama.AsyncClient(
                host=self.config.base_url, timeout=self.config.timeout,
                headers=self.config.http_headers,
            )
            self._async_clients[loop] = client
        return client

    async def _achat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        try:
            response = await self._aclient().chat(**params)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, params["model"]) from exc
        return _messages.to_result(response)

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        params = self._params(request)
        joiner = StreamJoiner()
        client = self._aclient()
        http = _ndjson.http_client(client, httpx.AsyncClient)
        body = _ndjson.chat_body(params) if http is not None else None
        try:
            if body is not None:
                async for delta in _ndjson.astream(http, body, joiner):
                    yield delta
            else:
                add, add_text, to_delta = joiner.add, joiner.add_text, _messages.to_delta
                async for chunk in await client.chat(**params, stream=True):
                    message = chunk.message
                    if chunk.done or message.tool_calls is not None:
                        yield add(to_delta(chunk, joiner))
                    else:
                        yield add_text(message.content, message.thinking)
        except CLIENT_ERRORS as exc:
            raise self._interrupted(exc, joiner, params["model"]) from exc
        if not joiner.finished:
            raise self._interrupted(None, joiner, params["model"])

    def _embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.embedding_model or self.config.model
        try:
            response = self._client.embed(model=model or "", input=texts)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, model) from exc
        return [list(map(float, vector)) for vector in response.embeddings]

    def _health(self) -> HealthReport:
        return _health.check(self._client, self.config, self.backend_name,
                             self.identity.compose_hint)


__all__ = ["OllamaLLM"]
