"""`OllamaLLM`: chat, streaming, async, tools, thinking, JSON formats and embeddings on Ollama."""

from __future__ import annotations

import functools
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
from memscreen_llm.errors import (
    ConfigError,
    ModelNotFoundError,
    ResponseParseError,
    StreamInterruptedError,
    UsageError,
    VisionUnsupportedError,
)
from memscreen_llm.transport import (
    Budget,
    Limits,
    PerLoop,
    anote_retry_after,
    async_deadline_transport,
    awith_retries,
    deadline_transport,
    is_timeout,
    note_retry_after,
    with_retries,
)
from memscreen_llm.types import StreamJoiner

from . import _health, _messages, _ndjson, _truncation
from ._errors import CLIENT_ERRORS, retry_verdict, translate
from .config import OllamaConfig

SEE_FIX = ("pull a vision model (e.g. `ollama pull qwen2.5vl:3b`, MemScreen's family) and "
           "set model to it; `ollama show MODEL` lists 'vision' under Capabilities for a "
           "model that can see")
# memscreen-llm option -> Ollama `options` key
_OPTION_NAMES = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
    "max_tokens": "num_predict", "seed": "seed", "stop": "stop", "num_ctx": "num_ctx",
}


class OllamaLLM(LLMBase):
    """A backend bound to one Ollama server; its sync client is shared by all calls."""

    capabilities = frozenset({
        Capability.STREAMING, Capability.TOOLS, Capability.REASONING, Capability.JSON_SCHEMA,
        Capability.EMBEDDINGS, Capability.ASYNC, Capability.VISION,
    })
    extra_call_options = frozenset({"think", "keep_alive", "num_ctx", "options", "truncate",
                                    "timeout"})
    config: OllamaConfig

    def __init__(self, config: OllamaConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        # Core's deadlines and retries (memscreen_llm.transport): the transport clamps every
        # socket wait to the call's budget; the response hook notes a Retry-After.
        self._client = ollama.Client(
            host=config.base_url, timeout=config.timeout, headers=config.http_headers,
            transport=deadline_transport(httpx),
            event_hooks={"response": [note_retry_after]})
        self._async_clients: PerLoop[ollama.AsyncClient] = PerLoop(
            lambda: ollama.AsyncClient(
                host=config.base_url, timeout=config.timeout, headers=config.http_headers,
                transport=async_deadline_transport(httpx),
                event_hooks={"response": [anote_retry_after]}),
            lambda client: client._client.aclose())
        self._limits = _truncation.LimitsCache()  # each model's context window (/api/show)

    def close(self) -> None:
        """Close the sync client and every event loop's async client (their sockets)."""
        self._client.close()
        self._async_clients.close_all()

    def _clock(self, request: ChatRequest | None, *, stream: bool = False) -> Budget:
        """The call's time budget: the config's limits, with the call's `timeout=`."""
        limits = Limits.of(self.config, request.options if request else None)
        return Budget(limits, f"Ollama at {redact_url(self.config.base_url)}", stream=stream)

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

    def _context(self, request: ChatRequest, params: dict[str, Any],
                 clock: Budget) -> _truncation.ContextPlan:
        """The call's context window; raises ContextLengthError for a prompt that cannot fit
        (takes `truncate` out of params["options"]). Sync: the async twin is _acontext."""
        truncate = _truncation.opt_in(request.options, params["options"])
        model = params["model"]
        limits = self._limits.get(model) or with_retries(
            clock, functools.partial(self._limits.fetch, self._client, model), retry_verdict)
        self._check_sight(request, model, limits)
        return _truncation.ContextPlan.plan(params, limits, truncate)

    async def _acontext(self, request: ChatRequest, params: dict[str, Any],
                        clock: Budget) -> _truncation.ContextPlan:
        truncate = _truncation.opt_in(request.options, params["options"])
        model = params["model"]
        limits = self._limits.get(model)
        if limits is None:
            fetch = functools.partial(self._limits.afetch, self._aclient(), model)
            limits = await awith_retries(clock, fetch, retry_verdict)
        self._check_sight(request, model, limits)
        return _truncation.ContextPlan.plan(params, limits, truncate)

    def _check_sight(self, request: ChatRequest, model: str,
                     limits: _truncation.ModelLimits) -> None:
        """Images for a model /api/show says cannot see: our error (Ollama would answer,
        the image turned into the text "[img-0]")."""
        if request.images and limits.capabilities is not None and (
                "vision" not in limits.capabilities):
            raise VisionUnsupportedError(self.backend_name, model, SEE_FIX)

    def _can_see(self, model: str) -> bool | None:
        limits = self._limits.get(model)
        if limits is None:
            try:
                limits = with_retries(self._clock(None), functools.partial(
                    self._limits.fetch, self._client, model), retry_verdict)
            except CLIENT_ERRORS as exc:
                raise self._error(exc, model) from exc
        return None if limits.capabilities is None else "vision" in limits.capabilities

    def _chat(self, request: ChatRequest) -> ChatResult:
        params = self._params(request)
        clock = self._clock(request)
        try:
            context = self._context(request, params, clock)
            response = with_retries(clock, functools.partial(self._client.chat, **params),
                                    retry_verdict)
        except CLIENT_ERRORS as exc:
            raise self._failed(exc, clock, params["model"]) from exc
        return self._finished(response, context)

    def _finished(self, response: Any, context: _truncation.ContextPlan) -> ChatResult:
        """The result of a whole (not streamed) answer, which Ollama must have finished.

        Ollama streams internally and sends what it has when its runner stops early (its
        token-repeat guard, a runner failure): no `done`, no token counts. That is an
        answer broken off, not a short one.
        """
        if not response.done:
            raise StreamInterruptedError(
                f"Ollama at {redact_url(self.config.base_url)} stopped the answer before it "
                "was done (its runner ended early, e.g. its guard against endless repeats; "
                "a lower max_tokens avoids that)", partial=_messages.to_result(response))
        context.check(response.prompt_eval_count)
        return _messages.to_result(response)

    def _failed(self, exc: BaseException, clock: Budget, model: str,
                joiner: StreamJoiner | None = None) -> Exception:
        """The typed error for a failed call: a limit that ran out, or what `exc` says."""
        if is_timeout(exc):
            return clock.timed_out(partial=joiner.result() if joiner else None)
        if joiner is not None:
            return self._interrupted(exc, joiner, model)
        return self._error(exc, model)

    # The stream is the per-token hot path (a 200-token stream must cost at most 1.05x
    # the SDK's own, benchmarks/bench_stream.py). It reads the NDJSON itself through the
    # SDK's httpx client, because the SDK's per-line pydantic validation alone costs
    # more than that (why, and what keeps it the SDK's behaviour: _ndjson.py); the
    # SDK's stream serves what that path does not take (images, an unknown SDK layout).

    # A stream is opened, up to its first delta, as one attempt of the retry policy (a
    # stream that breaks before any output is retried); then each delta is read under the
    # call's budget (first_token_timeout, stream_idle_timeout, timeout).

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        clock = self._clock(request, stream=True)
        joiner = StreamJoiner()
        try:
            context = self._context(request, params, clock)
            deltas, delta, joiner = with_retries(
                clock, functools.partial(self._open_stream, params), retry_verdict)
            try:
                while delta is not None:
                    if delta.finish_reason is not None:  # the last: was the prompt cut?
                        context.check(delta.usage.prompt_tokens if delta.usage else None,
                                      joiner)
                    yield delta
                    clock.delta_arrived()
                    with clock.active():
                        delta = next(deltas, None)
            finally:
                deltas.close()
        except CLIENT_ERRORS as exc:
            raise self._failed(exc, clock, params["model"], joiner) from exc
        if not joiner.finished:
            raise self._interrupted(None, joiner, params["model"])

    def _open_stream(self, params: dict[str, Any]
                     ) -> tuple[Any, ChatDelta | None, StreamJoiner]:
        """One attempt: the stream's deltas, its first one read (None: it ended at once)."""
        joiner = StreamJoiner()
        http = _ndjson.http_client(self._client, httpx.Client)
        body = _ndjson.chat_body(params) if http is not None else None
        deltas: Any = (_ndjson.stream(http, body, joiner) if body is not None
                       else self._sdk_stream(params, joiner))  # generators: closeable
        try:
            return deltas, next(deltas, None), joiner
        except BaseException:
            deltas.close()
            raise

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
        clock = self._clock(request)
        try:
            context = await self._acontext(request, params, clock)
            response = await awith_retries(
                clock, functools.partial(self._aclient().chat, **params), retry_verdict)
        except CLIENT_ERRORS as exc:
            raise self._failed(exc, clock, params["model"]) from exc
        return self._finished(response, context)

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        params = self._params(request)
        clock = self._clock(request, stream=True)
        joiner = StreamJoiner()
        try:
            context = await self._acontext(request, params, clock)
            deltas, delta, joiner = await awith_retries(
                clock, functools.partial(self._aopen_stream, params), retry_verdict)
            try:
                while delta is not None:
                    if delta.finish_reason is not None:  # the last: was the prompt cut?
                        context.check(delta.usage.prompt_tokens if delta.usage else None,
                                      joiner)
                    yield delta
                    clock.delta_arrived()
                    with clock.active():
                        delta = await anext(deltas, None)
            finally:
                await deltas.aclose()
        except CLIENT_ERRORS as exc:
            raise self._failed(exc, clock, params["model"], joiner) from exc
        if not joiner.finished:
            raise self._interrupted(None, joiner, params["model"])

    async def _aopen_stream(self, params: dict[str, Any]
                            ) -> tuple[Any, ChatDelta | None, StreamJoiner]:
        joiner = StreamJoiner()
        client = self._aclient()
        http = _ndjson.http_client(client, httpx.AsyncClient)
        body = _ndjson.chat_body(params) if http is not None else None
        deltas: Any = (_ndjson.astream(http, body, joiner) if body is not None
                       else self._sdk_astream(client, params, joiner))
        try:
            return deltas, await anext(deltas, None), joiner
        except BaseException:
            await deltas.aclose()
            raise

    async def _sdk_astream(self, client: ollama.AsyncClient, params: dict[str, Any],
                           joiner: StreamJoiner) -> AsyncIterator[ChatDelta]:
        add, add_text, to_delta = joiner.add, joiner.add_text, _messages.to_delta
        async for chunk in await client.chat(**params, stream=True):
            message = chunk.message
            if chunk.done or message.tool_calls is not None:
                yield add(to_delta(chunk, joiner))
            else:
                yield add_text(message.content, message.thinking)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        model = self.config.embedding_model or self.config.model or ""
        # Ollama cuts a text longer than the model's context unless told not to.
        truncate = bool((self.config.options or {}).get("truncate", False))
        clock = self._clock(None)
        embed = functools.partial(self._client.embed, model=model, input=texts,
                                  truncate=truncate)
        try:
            try:
                response = with_retries(clock, embed, retry_verdict)
            except ollama.ResponseError as exc:
                if not _truncation.embed_too_long(exc):
                    raise
                limits = self._limits.get(model) or with_retries(
                    clock, functools.partial(self._limits.fetch, self._client, model),
                    retry_verdict)
                raise _truncation.embed_error(limits, texts) from exc
            vectors = [list(map(float, vector)) for vector in response.embeddings]
        except CLIENT_ERRORS as exc:
            raise self._failed(exc, clock, model) from exc
        if len(vectors) != len(texts):
            raise ResponseParseError(f"Ollama at {redact_url(self.config.base_url)} answered "
                                     f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors

    def _health(self) -> HealthReport:
        return _health.check(self._client, self.config, self.backend_name,
                             self.identity.compose_hint)


__all__ = ["OllamaLLM"]
