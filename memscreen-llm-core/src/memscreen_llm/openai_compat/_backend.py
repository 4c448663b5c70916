"""`OpenAICompatLLM`: a backend for any server speaking OpenAI's chat-completions API.

A request takes one linear path, written once as a generator (`_path`): choose the model
-> prepare the call (a subclass may count and bound the prompt here) -> send -> the
answer. The path *yields* the I/O it needs (`ListModels`, `Post`, `Create`) and the two
shells carry it out, `_run` with the sync client and `_arun` with the async one, so the
sync and async APIs share every decision and differ only in how bytes move (the way
httpx splits request building from its `Client` and `AsyncClient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import weakref
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, ClassVar

import openai

from .._urls import redact_url
from ..base import LLMBase
from ..config import BaseLlmConfig
from ..errors import ConfigError, MemscreenLLMError
from ..parsing import ConfiguredParsers, OutputParser
from ..specs import BackendIdentity
from ..types import Capability, ChatDelta, ChatRequest, ChatResult, HealthCheck, HealthReport
from . import _params, _reading
from ._errors import CLIENT_ERRORS, is_unknown_model, translate

PLACEHOLDER_KEY = "EMPTY"  # the client insists on a key; servers without --api-key ignore it
STREAM_ARGS: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


# --- the I/O a request path asks for ---


@dataclasses.dataclass(frozen=True)
class ListModels:
    """GET /v1/models -> the SDK's model objects."""


@dataclasses.dataclass(frozen=True)
class Post:
    """POST `url` with a JSON `body` -> the decoded answer (e.g. vLLM's /tokenize)."""

    url: str
    body: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Create:
    """POST /v1/chat/completions -> the SDK's completion, or its stream."""

    params: dict[str, Any]
    stream: bool = False


Op = ListModels | Post | Create
Path = Generator[Op, Any, Any]


class _Steps:
    """Walks a request path: hands it each I/O outcome (or failure), takes its next op."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcome: Any = None
        self.failure: BaseException | None = None
        self.value: Any = None

    def next(self) -> Op | None:
        """The next op, or None once the path returned (its result is then `value`)."""
        failure, self.failure = self.failure, None
        try:
            return self.path.throw(failure) if failure is not None else self.path.send(
                self.outcome)
        except StopIteration as done:
            self.value = done.value
            return None


@dataclasses.dataclass
class Call:
    """One prepared request: the create() arguments, and the parser for the raw text."""

    params: dict[str, Any]
    parser: OutputParser | None
    max_context: int | None = None  # what a subclass budgets the prompt against

    @property
    def model(self) -> str:
        return str(self.params["model"])


@dataclasses.dataclass(frozen=True)
class ServedModel:
    id: str
    max_model_len: int | None = None  # vLLM and SGLang report it


class OpenAICompatLLM(LLMBase):
    """Chat, streaming, asyncio, tools, reasoning, JSON output and embeddings over the
    official openai client. A subclass names its `engine`; it may override `_prepare`
    (bound the prompt), `_send` (recover from a refusal) and `_health`."""

    engine: ClassVar[str] = "the server"  # in messages: "vLLM at http://... answered ..."
    capabilities = frozenset({
        Capability.STREAMING, Capability.ASYNC, Capability.TOOLS, Capability.REASONING,
        Capability.JSON_SCHEMA, Capability.EMBEDDINGS,
    })
    extra_call_options = _params.CALL_OPTIONS
    option_aliases = _params.OPTION_ALIASES

    def __init__(self, config: BaseLlmConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        self.parsers = ConfiguredParsers.from_config(config)  # unknown names fail here
        self._client = openai.OpenAI(**self._client_args())
        # An async HTTP client belongs to the event loop it first ran on: one per loop.
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, openai.AsyncOpenAI] = weakref.WeakKeyDictionary()
        self._models: tuple[ServedModel, ...] | None = None  # GET /v1/models, asked once
        # True once an answer shows the server splits reasoning itself: the client-side
        # parsers then stay out of the way (an empty reasoning looks like raw text).
        self._server_reasons = False

    @property
    def base_url(self) -> str:
        return str(getattr(self.config, "base_url"))  # noqa: B009 - every such config has one

    @property
    def shown_url(self) -> str:
        """`base_url` as messages show it: a password in it redacted."""
        return redact_url(self.base_url)

    def _client_args(self) -> dict[str, Any]:
        cfg = self.config
        return {"base_url": self.base_url, "api_key": cfg.api_key or PLACEHOLDER_KEY,
                "timeout": cfg.timeout, "max_retries": getattr(cfg, "max_retries", 2)}

    def _aclient(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = openai.AsyncOpenAI(**self._client_args())
        return client

    def close(self) -> None:
        self._client.close()
        self._async_clients.clear()

    # --- the shells: carry out the I/O a path yields ---

    def _do(self, op: Op) -> Any:
        client = self._client
        if isinstance(op, Create):
            return client.chat.completions.create(**op.params, **(STREAM_ARGS if op.stream
                                                                   else {}))
        if isinstance(op, Post):
            return client.post(op.url, cast_to=object, body=op.body)
        return client.models.list().data

    async def _ado(self, op: Op) -> Any:
        client = self._aclient()
        if isinstance(op, Create):
            return await client.chat.completions.create(
                **op.params, **(STREAM_ARGS if op.stream else {}))
        if isinstance(op, Post):
            return await client.post(op.url, cast_to=object, body=op.body)
        return (await client.models.list()).data

    def _run(self, path: Path) -> Any:
        steps = _Steps(path)
        while (op := steps.next()) is not None:
            try:
                steps.outcome = self._do(op)
            except CLIENT_ERRORS as exc:  # the path decides: recover, or a typed error
                steps.failure = exc
        return steps.value

    async def _arun(self, path: Path) -> Any:
        steps = _Steps(path)
        while (op := steps.next()) is not None:
            try:
                steps.outcome = await self._ado(op)
            except CLIENT_ERRORS as exc:
                steps.failure = exc
        return steps.value

    # --- the request path, written once ---

    def _path(self, request: ChatRequest, stream: bool) -> Path:
        """choose the model -> prepare the call -> send; returns (answer, call)."""
        model = yield from self._choose_model(request.options.get("model"))
        call = yield from self._prepare(request, model)
        answer = yield from self._send(call, stream)
        return answer, call

    def _choose_model(self, asked: str | None) -> Generator[Op, Any, str]:
        """The model asked for (per call), else the config's, else the server's only one."""
        chosen = asked or self.config.model
        if chosen:
            return str(chosen)
        models = yield from self._served_models()
        if len(models) == 1:
            return models[0].id
        listing = ", ".join(m.id for m in models) or "(none)"
        raise ConfigError(
            f"no model set, and {self.engine} at {self.shown_url} serves: {listing}",
            field="model", fix=f"set model ({self.identity.env('model')} or model=...)")

    def _served_models(self) -> Generator[Op, Any, tuple[ServedModel, ...]]:
        if self._models is None:
            try:
                data = yield ListModels()
            except openai.NotFoundError:  # no /v1/models on this server: nothing is known
                data = []
            except CLIENT_ERRORS as exc:
                raise self._error(exc, None, what="models") from exc
            self._models = tuple(_served(item) for item in data)
        return self._models

    def _prepare(self, request: ChatRequest, model: str) -> Generator[Op, Any, Call]:
        """The call to send; a subclass may count and bound the prompt here."""
        yield from ()  # no I/O here; a subclass's may need some
        return Call(self._params(request, model), self._parser(request))

    def _params(self, request: ChatRequest, model: str, **overrides: Any) -> dict[str, Any]:
        """chat_params() for this config; `overrides`: max_tokens, tool_choice, body."""
        overrides.setdefault("max_tokens", _params.setting(request, self.config, "max_tokens"))
        return _params.chat_params(request, self.config, model, **overrides)

    def _parser(self, request: ChatRequest) -> OutputParser | None:
        if not self.parsers or self._server_reasons:
            return None
        return self.parsers.for_request(request.tools, request.tool_choice != "none")

    def _send(self, call: Call, stream: bool) -> Generator[Op, Any, Any]:
        """Send the call; a subclass may recover here from refusals it understands."""
        try:
            return (yield Create(call.params, stream))
        except CLIENT_ERRORS as exc:
            raise (yield from self._typed_error(exc, call.model)) from exc

    def _typed_error(self, exc: BaseException, model: str | None) -> Path:
        """The typed error for `exc`; for an unknown model, with the served models."""
        served = None
        if is_unknown_model(exc) and model:
            try:
                served = [m.id for m in (yield from self._served_models())]
            except MemscreenLLMError:
                served = None  # the 404 is the news, the listing only a bonus
        return self._error(exc, model, served)

    def _error(self, exc: BaseException, model: str | None,
               served: list[str] | None = None, what: str = "chat") -> MemscreenLLMError:
        """The typed error for `exc` during `what` ("chat", "embeddings", "models")."""
        return translate(exc, engine=self.engine, url=self.shown_url, identity=self.identity,
                         timeout=self.config.timeout, model=model, served=served)

    # --- the public API's implementations: thin over the path ---

    def _chat(self, request: ChatRequest) -> ChatResult:
        return self._result(*self._run(self._path(request, stream=False)))

    async def _achat(self, request: ChatRequest) -> ChatResult:
        return self._result(*await self._arun(self._path(request, stream=False)))

    def _result(self, response: Any, call: Call) -> ChatResult:
        self._server_reasons = self._server_reasons or _reading.server_reasons(response.usage)
        return _reading.read_completion(response, call.parser)

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        stream, call = self._run(self._path(request, stream=True))
        reader = self._reader(call)
        try:
            with self._breaking_off(reader, call):
                for chunk in stream:
                    if (delta := reader.feed(chunk)) is not None:
                        yield delta
            yield self._last(reader)
        finally:
            stream.close()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        stream, call = await self._arun(self._path(request, stream=True))
        reader = self._reader(call)
        try:
            with self._breaking_off(reader, call):
                async for chunk in stream:
                    if (delta := reader.feed(chunk)) is not None:
                        yield delta
            yield self._last(reader)
        finally:
            await stream.close()

    @contextlib.contextmanager
    def _breaking_off(self, reader: _reading.StreamReader, call: Call) -> Iterator[None]:
        """A stream that fails under way: the typed error, with what arrived."""
        try:
            yield
        except MemscreenLLMError:
            raise  # ours (a malformed tool call): already typed
        except Exception as exc:  # whatever the transport raised: the stream broke
            if not reader.joiner.has_text:  # nothing arrived: the plain error says more
                raise self._error(exc, call.model) from exc
            raise reader.interrupted(exc) from exc

    def _reader(self, call: Call) -> _reading.StreamReader:
        return _reading.StreamReader(call.parser, f"{self.engine} at {self.shown_url}")

    def _last(self, reader: _reading.StreamReader) -> ChatDelta:
        last = reader.finish()
        self._server_reasons = self._server_reasons or reader.server_reasons
        return last

    # --- embeddings, health ---

    def _embed(self, texts: list[str]) -> list[list[float]]:
        model = self._run(self._choose_model(getattr(self.config, "embedding_model", None)))
        try:
            response = self._client.embeddings.create(model=model, input=texts,
                                                      encoding_format="float")
        except CLIENT_ERRORS as exc:
            raise self._error(exc, model, what="embeddings") from exc
        data = sorted(response.data, key=lambda item: item.index)
        return [[float(x) for x in item.embedding] for item in data]

    def served_models(self) -> tuple[ServedModel, ...]:
        """The server's models (GET /v1/models, asked once); empty if it cannot list them."""
        models: tuple[ServedModel, ...] = self._run(self._served_models())
        return models

    def _health(self) -> HealthReport:
        """Reachable (GET /v1/models), and the model is served."""
        try:
            served = [m.id for m in self.served_models()]
        except MemscreenLLMError as exc:
            return HealthReport(self.backend_name, [HealthCheck(
                "server", False, str(exc).splitlines()[0], fix=self.identity.compose_hint)])
        checks = [HealthCheck("server", True, f"{self.engine} at {self.shown_url}")]
        listing = ", ".join(served) or "(none)"
        wanted = self.config.model
        if wanted and wanted not in served:
            checks.append(HealthCheck("model", False, f"{wanted!r} not served; served: {listing}",
                                      fix=f"set {self.identity.env('model')} to one of them"))
        elif not wanted and len(served) != 1:
            checks.append(HealthCheck("model", False, f"model unset; the server serves {listing}",
                                      fix=f"set {self.identity.env('model')} to one of them"))
        else:
            checks.append(HealthCheck("model", True, f"{wanted or served[0]!r} served"))
        return HealthReport(self.backend_name, checks)


def _served(item: Any) -> ServedModel:
    length = getattr(item, "max_model_len", None)
    return ServedModel(str(item.id), length if isinstance(length, int) else None)
