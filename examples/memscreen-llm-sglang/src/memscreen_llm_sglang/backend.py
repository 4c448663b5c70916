"""`SglangLLM`: chat, streaming, asyncio, tools, reasoning and JSON output on an SGLang server.

Built only on core's public API. The engine speaks OpenAI's chat-completions API, so the
official openai client does the HTTP; this class maps requests, answers and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai

from memscreen_llm import (
    Capability,
    ChatDelta,
    ChatRequest,
    ChatResult,
    HealthCheck,
    HealthReport,
    LLMBase,
    StreamInterruptedError,
)
from memscreen_llm.compose import compose_up_command
from memscreen_llm.errors import ConfigError, MemscreenLLMError
from memscreen_llm.types import StreamJoiner

from ._wire import (
    ClientParsers,
    StreamReader,
    is_unknown_model,
    request_params,
    to_result,
    translate,
)
from .config import SglangConfig

PLACEHOLDER_KEY = "EMPTY"  # the client insists on a key; SGLang ignores it without --api-key
MAX_RETRIES = 1  # a local server that refused once rarely answers on the 3rd try
# What a stream can raise once it is under way: an error event, or the connection dropping.
STREAM_ERRORS = (openai.APIError, httpx.HTTPError)


class SglangLLM(LLMBase):
    """A backend bound to one SGLang server: one sync client for every call, and one async
    client per event loop (an async HTTP client belongs to the loop it first ran on)."""

    capabilities = frozenset({
        Capability.STREAMING, Capability.ASYNC, Capability.TOOLS, Capability.REASONING,
        Capability.JSON_SCHEMA,
    })
    # Per-call options beyond core's common ones: SGLang's own request fields, passed through.
    extra_call_options = frozenset({"extra_body"})
    config: SglangConfig

    def __init__(self, config: SglangConfig) -> None:
        super().__init__(config)
        self.parsers = ClientParsers(config)  # a parser name that is not installed fails here
        self._client = openai.OpenAI(**self._client_args())
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, openai.AsyncOpenAI
        ] = weakref.WeakKeyDictionary()
        self._served_model: str | None = None  # the server's only model, when model is unset

    def _client_args(self) -> dict[str, Any]:
        cfg = self.config
        return {"base_url": cfg.base_url, "api_key": cfg.api_key or PLACEHOLDER_KEY,
                "timeout": cfg.timeout, "max_retries": MAX_RETRIES}

    def _aclient(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = openai.AsyncOpenAI(**self._client_args())
        return client

    def close(self) -> None:
        self._client.close()
        self._async_clients.clear()

    # --- which model ---

    def served_models(self) -> list[str]:
        """The names the server serves (GET /v1/models)."""
        try:
            return [model.id for model in self._client.models.list().data]
        except openai.APIError as exc:
            raise translate(exc, self.config, None) from exc

    async def _aserved_models(self) -> list[str]:
        try:
            return [model.id for model in (await self._aclient().models.list()).data]
        except openai.APIError as exc:
            raise translate(exc, self.config, None) from exc

    def _pick(self, request: ChatRequest, served: list[str] | None) -> str:
        chosen = request.options.get("model") or self.config.model or self._served_model
        if chosen:
            return str(chosen)
        if not served or len(served) != 1:
            listing = ", ".join(served or []) or "(none)"
            raise ConfigError(f"no model set and the server serves: {listing}", field="model",
                              fix="set model (MEMSCREEN_SGLANG_MODEL) to one of those")
        self._served_model = served[0]
        return served[0]

    def _needs_listing(self, request: ChatRequest) -> bool:
        return not (request.options.get("model") or self.config.model or self._served_model)

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        served = self.served_models() if self._needs_listing(request) else None
        return request_params(request, self.config, self._pick(request, served))

    async def _aparams(self, request: ChatRequest) -> dict[str, Any]:
        served = await self._aserved_models() if self._needs_listing(request) else None
        return request_params(request, self.config, self._pick(request, served))

    # --- errors ---

    def _error(self, exc: BaseException, model: str) -> MemscreenLLMError:
        served = None
        if is_unknown_model(exc):
            with contextlib.suppress(MemscreenLLMError):  # the 404 is the news, the list a bonus
                served = self.served_models()
        return translate(exc, self.config, model, served)

    async def _aerror(self, exc: BaseException, model: str) -> MemscreenLLMError:
        served = None
        if is_unknown_model(exc):
            with contextlib.suppress(MemscreenLLMError):
                served = await self._aserved_models()
        return translate(exc, self.config, model, served)

    def _interrupted(
        self, exc: BaseException | None, joiner: StreamJoiner, reader: StreamReader
    ) -> StreamInterruptedError:
        joiner.add(reader.held_back())
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return StreamInterruptedError(
            f"the stream from SGLang at {self.config.base_url} broke off before it was done"
            f"{cause}", partial=joiner.result(),
        )

    # --- chat ---

    def _chat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        try:
            response = self._client.chat.completions.create(**params)
        except openai.APIError as exc:
            raise self._error(exc, params["model"]) from exc
        return to_result(response, self.parsers, request.tools)

    async def _achat(self, request: ChatRequest) -> ChatResult:
        params = await self._aparams(request)
        try:
            response = await self._aclient().chat.completions.create(**params)
        except openai.APIError as exc:
            raise await self._aerror(exc, params["model"]) from exc
        return to_result(response, self.parsers, request.tools)

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        try:
            stream = self._client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True})
        except openai.APIError as exc:
            raise self._error(exc, params["model"]) from exc
        reader, joiner = StreamReader(self.parsers, request.tools), StreamJoiner()
        try:
            try:
                for chunk in stream:
                    delta = reader.feed(chunk)
                    if delta is not None:
                        yield joiner.add(delta)
            except STREAM_ERRORS as exc:
                raise self._interrupted(exc, joiner, reader) from exc
            if reader.finish_reason is None:  # the server never said it was done
                raise self._interrupted(None, joiner, reader)
            yield joiner.add(reader.finish())
        finally:
            stream.close()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        params = await self._aparams(request)
        try:
            stream = await self._aclient().chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True})
        except openai.APIError as exc:
            raise await self._aerror(exc, params["model"]) from exc
        reader, joiner = StreamReader(self.parsers, request.tools), StreamJoiner()
        try:
            try:
                async for chunk in stream:
                    delta = reader.feed(chunk)
                    if delta is not None:
                        yield joiner.add(delta)
            except STREAM_ERRORS as exc:
                raise self._interrupted(exc, joiner, reader) from exc
            if reader.finish_reason is None:
                raise self._interrupted(None, joiner, reader)
            yield joiner.add(reader.finish())
        finally:
            await stream.close()

    # --- doctor ---

    def _health(self) -> HealthReport:
        root, key = self.config.server_root, self.config.api_key
        try:
            answer = httpx.get(f"{root}/health", timeout=min(self.config.timeout, 10.0),
                               headers={"Authorization": f"Bearer {key}"} if key else None)
        except httpx.HTTPError as exc:
            return HealthReport(self.backend_name, [HealthCheck(
                "server", False, f"{root} unreachable ({type(exc).__name__})",
                fix=compose_up_command("sglang"))])
        if answer.status_code != 200:
            return HealthReport(self.backend_name, [HealthCheck(
                "server", False, f"{root}/health answered HTTP {answer.status_code}",
                fix="see the server's log (docker compose logs sglang)")])
        checks = [HealthCheck("server", True, f"{root} healthy")]
        try:
            served = self.served_models()
        except MemscreenLLMError as exc:
            checks.append(HealthCheck("model", False, f"cannot list models: {exc}",
                                      fix="set api_key if the server has --api-key"))
            return HealthReport(self.backend_name, checks)
        listing = ", ".join(served) or "(none)"
        wanted = self.config.model
        if wanted and wanted not in served:
            checks.append(HealthCheck("model", False, f"{wanted!r} not served; served: {listing}",
                                      fix="set MEMSCREEN_SGLANG_MODEL to a served name"))
        elif not wanted and len(served) != 1:
            checks.append(HealthCheck("model", False, f"model unset; the server serves {listing}",
                                      fix="set MEMSCREEN_SGLANG_MODEL to one of them"))
        else:
            checks.append(HealthCheck("model", True, f"{wanted or served[0]!r} served"))
        return HealthReport(self.backend_name, checks)


__all__ = ["SglangLLM"]
