"""`VllmServerLLM`: a vLLM OpenAI-compatible server through the official openai client."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import openai

from memscreen_llm import (
    Capability,
    ChatDelta,
    ChatRequest,
    ChatResult,
    HealthReport,
    LLMBase,
    StreamInterruptedError,
)
from memscreen_llm.errors import ConfigError, MemscreenLLMError
from memscreen_llm.parsing import OutputParser
from memscreen_llm.types import StreamJoiner

from . import _context, _health, _messages
from ._errors import (
    CLIENT_ERRORS,
    backend_name,
    context_limit,
    env_var,
    is_context_refusal,
    is_missing_tool_parser,
    translate,
)
from ._parsing import ClientParsers
from .config import VllmConfig

PLACEHOLDER_KEY = "EMPTY"  # the openai client insists on a key; vLLM ignores it without --api-key


@attrs.frozen
class ServedModel:
    id: str
    max_model_len: int | None


@attrs.define
class _Call:
    """One prepared request: the create() arguments and how to read the answer."""

    params: dict[str, Any]
    parser: OutputParser | None
    max_context: int | None = None
    count: _context.PromptCount | None = None  # None: only bounded, not counted

    @property
    def model(self) -> str:
        return str(self.params["model"])


class VllmServerLLM(LLMBase):
    """A backend bound to one vLLM server; one sync client serves every call, and one
    async client per event loop."""

    capabilities = frozenset({
        Capability.STREAMING, Capability.TOOLS, Capability.REASONING, Capability.JSON_SCHEMA,
        Capability.EMBEDDINGS, Capability.ASYNC,
    })
    extra_call_options = _messages.CALL_OPTIONS
    config: VllmConfig

    def __init__(self, config: VllmConfig) -> None:
        super().__init__(config)
        self.parsers = ClientParsers(config.reasoning_parser, config.tool_parser)
        self._client = openai.OpenAI(
            base_url=config.base_url, api_key=config.api_key or PLACEHOLDER_KEY,
            timeout=config.timeout, max_retries=config.max_retries,
        )
        # An async HTTP client belongs to the event loop it first ran on: one per loop.
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, openai.AsyncOpenAI
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._models: tuple[ServedModel, ...] | None = None  # /v1/models, asked once
        # Becomes False once the server says it has no tool-call parser (tool_choice "auto"
        # refused); then tools go with tool_choice "none" and the client-side parser.
        self._server_tool_choice = True
        # Becomes True once an answer shows the server runs a reasoning parser: then the
        # client-side parsers stay out of the way (an empty reasoning looks like raw text).
        self._server_reasons = False

    def close(self) -> None:
        self._client.close()
        self._async_clients.clear()

    def _aclient(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=self.config.base_url, api_key=self.config.api_key or PLACEHOLDER_KEY,
                timeout=self.config.timeout, max_retries=self.config.max_retries,
            )
            self._async_clients[loop] = client
        return client

    # --- served models (cached) ---

    def served_models(self) -> tuple[ServedModel, ...]:
        """The server's models and their context lengths (GET /v1/models, asked once).

        Empty if the server has no /v1/models (not vLLM): nothing is known then.
        """
        if self._models is None:
            try:
                data = self._client.models.list().data
            except openai.NotFoundError:
                data = []
            except CLIENT_ERRORS as exc:
                raise self._error(exc, None, what="models") from exc
            self._store_models(data)
        assert self._models is not None
        return self._models

    async def _aserved_models(self) -> tuple[ServedModel, ...]:
        if self._models is None:
            try:
                data = (await self._aclient().models.list()).data
            except openai.NotFoundError:
                data = []
            except CLIENT_ERRORS as exc:
                raise self._error(exc, None, what="models") from exc
            self._store_models(data)
        assert self._models is not None
        return self._models

    def _store_models(self, data: Any) -> None:
        models = []
        for item in data:
            length = getattr(item, "max_model_len", None)
            models.append(ServedModel(str(item.id), length if isinstance(length, int) else None))
        with self._lock:
            self._models = tuple(models)

    def _model_names(self) -> list[str] | None:
        """For error messages: the served models, or None if they cannot be had."""
        try:
            return [m.id for m in self.served_models()]
        except MemscreenLLMError:
            return None

    def _pick_model(self, chosen: str | None, models: tuple[ServedModel, ...] | None) -> str:
        """The model asked for, else the server's only one."""
        if chosen:
            return chosen
        assert models is not None
        if len(models) == 1:
            return models[0].id
        if not models:
            raise ConfigError(
                f"no model set, and vLLM at {self.config.base_url} lists none (GET /v1/models)",
                field="model", fix=f"set model ({self._env('model')} or model=...)",
            )
        raise ConfigError(
            f"no model set and vLLM at {self.config.base_url} serves several: "
            + ", ".join(m.id for m in models),
            field="model", fix=f"set model to one of them ({self._env('model')} or model=...)",
        )

    def _env(self, field: str) -> str:
        return env_var(backend_name(self.backend_name), field)

    def _chosen(self, request: ChatRequest) -> str | None:
        return request.options.get("model") or self.config.model

    def _max_context(self, model: str, models: tuple[ServedModel, ...] | None) -> int | None:
        if self.config.max_model_len is not None:
            return self.config.max_model_len
        for served in models or ():
            if served.id == model:
                return served.max_model_len
        return None

    def _needs_models(self, request: ChatRequest) -> bool:
        return not self._chosen(request) or self.config.max_model_len is None

    # --- preparing a request ---

    def _start(self, request: ChatRequest, model: str) -> _Call:
        tools_wanted = bool(request.tools) and request.tool_choice != "none"
        send_choice = self._server_tool_choice or not self.parsers.has_tool_parser
        params = _messages.request_params(request, self.config, model,
                                          send_tool_choice=send_choice)
        parser = None
        if self.parsers and not self._server_reasons:
            parser = self.parsers.for_request(request.tools, tools_wanted)
        return _Call(params=params, parser=parser)

    def _needs_count(self, call: _Call) -> bool:
        """Counting (a /tokenize round trip) is skipped for requests far from the limit."""
        if call.max_context is None or call.count is not None:
            return False
        params = call.params
        return not _context.clearly_fits(params["messages"], params.get("tools"),
                                         call.max_context, params.get("max_tokens"))

    def _fit(self, call: _Call, count: _context.PromptCount) -> None:
        assert call.max_context is not None
        call.count = count
        max_tokens = _context.fit(count, call.max_context, call.params.get("max_tokens"))
        if max_tokens is not None:
            call.params["max_tokens"] = max_tokens

    def _prepare(self, request: ChatRequest) -> _Call:
        models = self.served_models() if self._needs_models(request) else None
        call = self._start(request, self._pick_model(self._chosen(request), models))
        call.max_context = self._max_context(call.model, models)
        if self._needs_count(call):
            self._fit(call, self._count(call))
        return call

    async def _aprepare(self, request: ChatRequest) -> _Call:
        models = await self._aserved_models() if self._needs_models(request) else None
        call = self._start(request, self._pick_model(self._chosen(request), models))
        call.max_context = self._max_context(call.model, models)
        if self._needs_count(call):
            self._fit(call, await self._acount(call))
        return call

    def _count(self, call: _Call) -> _context.PromptCount:
        """Prompt tokens from the server's /tokenize; an estimate if it cannot count."""
        try:
            answer = self._client.post(f"{self.config.server_root}/tokenize", cast_to=object,
                                       body=_messages.tokenize_body(call.params))
        except openai.APIConnectionError as exc:  # the chat request would fail the same way
            raise self._error(exc, call.model) from exc
        except CLIENT_ERRORS:  # no /tokenize here (not vLLM), or it refused: estimate
            answer = None
        return self._counted(answer, call)

    async def _acount(self, call: _Call) -> _context.PromptCount:
        try:
            answer = await self._aclient().post(f"{self.config.server_root}/tokenize",
                                                cast_to=object,
                                                body=_messages.tokenize_body(call.params))
        except openai.APIConnectionError as exc:
            raise self._error(exc, call.model) from exc
        except CLIENT_ERRORS:
            answer = None
        return self._counted(answer, call)

    def _counted(self, answer: Any, call: _Call) -> _context.PromptCount:
        if isinstance(answer, dict) and isinstance(answer.get("count"), int):
            return _context.PromptCount(answer["count"])
        return _context.estimate(call.params["messages"], call.params.get("tools"))

    # --- errors ---

    def _error(self, exc: BaseException, model: str | None, what: str = "chat") -> Exception:
        cfg = self.config
        return translate(exc, url=cfg.base_url, model=model, timeout=cfg.timeout,
                         served_models=self._model_names, what=what, backend=self.backend_name)

    def _retry_without_tool_choice(self, exc: BaseException, call: _Call) -> bool:
        """After the server refuses "auto" for want of a tool parser, parse client-side."""
        if not (self.parsers.has_tool_parser and call.params.get("tool_choice") == "auto"
                and is_missing_tool_parser(exc)):
            return False
        self._server_tool_choice = False
        call.params["tool_choice"] = "none"
        return True

    def _retry_counted(self, exc: BaseException, call: _Call) -> bool:
        """The server refused the request for its length, and it was only bounded (not
        counted), or the server names a smaller context than the budget used: count it
        (ContextLengthError if it cannot fit), clamp max_tokens, and send it again."""
        if not is_context_refusal(exc):
            return False
        limit = context_limit(exc)
        lowered = limit is not None and (call.max_context is None or limit < call.max_context)
        if lowered:
            call.max_context = limit
        return call.max_context is not None and (lowered or call.count is None)

    def _interrupted(
        self, exc: BaseException | None, joiner: StreamJoiner,
        assembler: _messages.StreamAssembler, model: str,
    ) -> Exception:
        if exc is not None and not joiner.has_text:
            return self._error(exc, model)  # nothing arrived: the plain error says more
        joiner.add(assembler.held_back())
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return StreamInterruptedError(
            f"the stream from vLLM at {self.config.base_url} broke off before it was done"
            f"{cause}", partial=joiner.result(),
        )

    # --- chat ---

    _ATTEMPTS = 3  # the request, then one retry for each kind of recoverable refusal

    def _create(self, call: _Call, **stream: Any) -> Any:
        for attempt in range(self._ATTEMPTS):
            try:
                return self._client.chat.completions.create(**call.params, **stream)
            except CLIENT_ERRORS as exc:
                last = attempt == self._ATTEMPTS - 1
                if not last and self._retry_counted(exc, call):
                    self._fit(call, call.count or self._count(call))
                elif last or not self._retry_without_tool_choice(exc, call):
                    raise self._error(exc, call.model) from exc
        raise AssertionError("unreachable")

    async def _acreate(self, call: _Call, **stream: Any) -> Any:
        client = self._aclient()
        for attempt in range(self._ATTEMPTS):
            try:
                return await client.chat.completions.create(**call.params, **stream)
            except CLIENT_ERRORS as exc:
                last = attempt == self._ATTEMPTS - 1
                if not last and self._retry_counted(exc, call):
                    self._fit(call, call.count or await self._acount(call))
                elif last or not self._retry_without_tool_choice(exc, call):
                    raise self._error(exc, call.model) from exc
        raise AssertionError("unreachable")

    def _chat(self, request: ChatRequest) -> ChatResult:
        call = self._prepare(request)
        return self._result(self._create(call), call)

    async def _achat(self, request: ChatRequest) -> ChatResult:
        call = await self._aprepare(request)
        return self._result(await self._acreate(call), call)

    def _result(self, response: Any, call: _Call) -> ChatResult:
        self._server_reasons = self._server_reasons or _messages.server_reasons(response.usage)
        return _messages.to_result(response, call.parser)

    _STREAM = {"stream": True, "stream_options": {"include_usage": True}}

    def _last_delta(
        self, assembler: _messages.StreamAssembler, joiner: StreamJoiner, model: str
    ) -> ChatDelta:
        """The stream's end: an error if the server never said it was done, else the last
        delta (held-back text, whole tool calls); learns whether the server splits reasoning."""
        if assembler.finish_reason is None:
            raise self._interrupted(None, joiner, assembler, model)
        self._server_reasons = self._server_reasons or assembler.server_reasons
        return assembler.finish()

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        call = self._prepare(request)
        stream = self._create(call, **self._STREAM)
        chunks = iter(stream)
        assembler = _messages.StreamAssembler(call.parser)
        joiner = StreamJoiner()
        try:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except Exception as exc:  # whatever the transport raised: the stream broke
                    raise self._interrupted(exc, joiner, assembler, call.model) from exc
                delta = assembler.feed(chunk)
                if delta is not None:
                    yield joiner.add(delta)
            yield joiner.add(self._last_delta(assembler, joiner, call.model))
        finally:
            stream.close()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        call = await self._aprepare(request)
        stream = await self._acreate(call, **self._STREAM)
        chunks = stream.__aiter__()
        assembler = _messages.StreamAssembler(call.parser)
        joiner = StreamJoiner()
        try:
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # whatever the transport raised: the stream broke
                    raise self._interrupted(exc, joiner, assembler, call.model) from exc
                delta = assembler.feed(chunk)
                if delta is not None:
                    yield joiner.add(delta)
            yield joiner.add(self._last_delta(assembler, joiner, call.model))
        finally:
            await stream.close()

    # --- embeddings, health ---

    def _embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.model or self._pick_model(None, self.served_models())
        try:
            response = self._client.embeddings.create(model=model, input=texts,
                                                      encoding_format="float")
        except CLIENT_ERRORS as exc:
            raise self._error(exc, model, what="embeddings") from exc
        data = sorted(response.data, key=lambda item: item.index)
        return [[float(x) for x in item.embedding] for item in data]

    def _health(self) -> HealthReport:
        return _health.check_server(self)


__all__ = ["ServedModel", "VllmServerLLM"]
