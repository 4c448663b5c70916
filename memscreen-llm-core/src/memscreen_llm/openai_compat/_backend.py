"""`OpenAICompatLLM`: a backend for any server speaking OpenAI's chat-completions API.

A request takes one linear path, written once as a generator (`_path`): choose the model
-> prepare the call (a subclass may count and bound the prompt here) -> send -> the
answer. The path *yields* the I/O it needs (`ListModels`, `Post`, `Create`) and the two
shells carry it out, `_run` with the sync client and `_arun` with the async one, so the
sync and async APIs share every decision and differ only in how bytes move (the way
httpx splits request building from its `Client` and `AsyncClient`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, ClassVar

import openai

from .._budget import (
    Budget,
    Limits,
    anote_retry_after,
    awith_retries,
    is_timeout,
    note_retry_after,
    with_retries,
)
from .._deadline_transport import async_deadline_transport, deadline_transport
from .._loops import PerLoop
from .._urls import redact_url
from ..base import LLMBase
from ..config import BaseLlmConfig
from ..errors import ConfigError, MemscreenLLMError, ResponseParseError, VisionUnsupportedError
from ..parsing import ConfiguredParsers, OutputParser
from ..specs import BackendIdentity
from ..types import Capability, ChatDelta, ChatRequest, ChatResult, HealthCheck, HealthReport
from . import _params, _reading
from ._errors import (
    CLIENT_ERRORS,
    is_blind_model,
    is_unknown_model,
    retry_verdict,
    translate,
)

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


@dataclasses.dataclass(frozen=True)
class Embed:
    """POST /v1/embeddings -> the SDK's answer."""

    model: str
    texts: list[str]


@dataclasses.dataclass(frozen=True)
class OpenedStream:
    """What `Create(stream=True)` gives: the stream, already past its first chunk (so a
    stream that breaks before any output is retried like a failed request)."""

    stream: Any
    chunks: Iterator[Any] | AsyncIterator[Any]
    first: Any  # None: the stream ended at once


Op = ListModels | Post | Create | Embed
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
        Capability.JSON_SCHEMA, Capability.EMBEDDINGS, Capability.VISION,
    })
    # Whether the engine reads an image part's `uuid` as its cache key (vLLM does).
    image_uuids: ClassVar[bool] = False
    extra_call_options = _params.CALL_OPTIONS
    option_aliases = _params.OPTION_ALIASES

    def __init__(self, config: BaseLlmConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        self.parsers = ConfiguredParsers.from_config(config)  # unknown names fail here
        self._client = openai.OpenAI(**self._client_args())
        self._async_clients: PerLoop[openai.AsyncOpenAI] = PerLoop(
            lambda: openai.AsyncOpenAI(**self._client_args(asynchronous=True)),
            lambda client: client.close())
        self._models: tuple[ServedModel, ...] | None = None  # GET /v1/models, asked once
        # True once an answer shows the server splits reasoning itself: the client-side
        # parsers then stay out of the way (an empty reasoning looks like raw text).
        self._server_reasons = False
        # Models the server said take no images: later image calls fail before sending.
        self._blind: set[str] = set()

    @property
    def base_url(self) -> str:
        return str(getattr(self.config, "base_url"))  # noqa: B009 - every such config has one

    @property
    def shown_url(self) -> str:
        """`base_url` as messages show it: a password in it redacted."""
        return redact_url(self.base_url)

    def _client_args(self, asynchronous: bool = False) -> dict[str, Any]:
        """The client's arguments: its retries are ours (core's policy, counted against
        the call's deadline), so the SDK's are off; its HTTP client's transport clamps
        every socket wait to the running call's budget."""
        cfg = self.config
        http_class = openai.DefaultAsyncHttpxClient if asynchronous else openai.DefaultHttpxClient
        make = async_deadline_transport if asynchronous else deadline_transport
        hook = anote_retry_after if asynchronous else note_retry_after
        http = http_class(transport=make(_http_library(http_class)),
                          event_hooks={"response": [hook]})
        return {"base_url": self.base_url, "api_key": cfg.api_key or PLACEHOLDER_KEY,
                "timeout": cfg.timeout, "max_retries": 0, "http_client": http}

    def _budget(self, request: ChatRequest | None = None, *, stream: bool = False,
                limits: Limits | None = None) -> Budget:
        """The clock of one call (limits: the config's, with the call's `timeout=`)."""
        limits = limits or Limits.of(self.config, request.options if request else None)
        return Budget(limits, f"{self.engine} at {self.shown_url}", stream=stream)

    def close(self) -> None:
        self._client.close()
        self._async_clients.close_all()

    # --- the shells: carry out the I/O a path yields ---

    def _do(self, op: Op) -> Any:
        client = self._client
        with self._decoding():
            if isinstance(op, Create):
                if not op.stream:
                    return client.chat.completions.create(**op.params)
                stream = client.chat.completions.create(**op.params, **STREAM_ARGS)
                chunks = iter(stream)
                try:
                    with _opening(stream):
                        return OpenedStream(stream, chunks, next(chunks, None))
                except BaseException:
                    stream.close()
                    raise
            if isinstance(op, Post):
                return client.post(op.url, cast_to=object, body=op.body)
            if isinstance(op, Embed):
                return client.embeddings.create(model=op.model, input=op.texts,
                                                encoding_format="float")
            return _model_items(client.models.list())

    async def _ado(self, op: Op) -> Any:
        client = self._async_clients.get()
        with self._decoding():
            if isinstance(op, Create):
                if not op.stream:
                    return await client.chat.completions.create(**op.params)
                stream = await client.chat.completions.create(**op.params, **STREAM_ARGS)
                achunks = aiter(stream)
                try:
                    with _opening(stream):
                        return OpenedStream(stream, achunks, await anext(achunks, None))
                except BaseException:
                    await stream.close()
                    raise
            if isinstance(op, Post):
                return await client.post(op.url, cast_to=object, body=op.body)
            if isinstance(op, Embed):
                return await client.embeddings.create(model=op.model, input=op.texts,
                                                      encoding_format="float")
            return _model_items(await client.models.list())

    @contextlib.contextmanager
    def _decoding(self) -> Iterator[None]:
        """A body the SDK cannot decode (not JSON, not the expected shape) is the server's
        fault, typed; the SDK raises json's or pydantic's ValueError for it."""
        try:
            yield
        except ValueError as exc:
            raise ResponseParseError(
                f"{self.engine} at {self.shown_url} sent an answer that is not a valid "
                f"chat-completions body ({type(exc).__name__}: {exc}); is base_url an "
                "OpenAI-compatible server?") from exc

    def _run(self, path: Path, budget: Budget) -> Any:
        """Carry out `path`'s I/O: each op under the call's budget, retried by core's
        policy; a failure the retries cannot mend is handed to the path to decide."""
        steps = _Steps(path)
        while (op := steps.next()) is not None:
            try:
                steps.outcome = with_retries(budget, functools.partial(self._do, op),
                                             retry_verdict)
            except CLIENT_ERRORS as exc:  # the path decides: recover, or a typed error
                if is_timeout(exc):
                    raise budget.timed_out() from exc
                steps.failure = exc
        return steps.value

    async def _arun(self, path: Path, budget: Budget) -> Any:
        steps = _Steps(path)
        while (op := steps.next()) is not None:
            try:
                steps.outcome = await awith_retries(budget, functools.partial(self._ado, op),
                                                    retry_verdict)
            except CLIENT_ERRORS as exc:
                if is_timeout(exc):
                    raise budget.timed_out() from exc
                steps.failure = exc
        return steps.value

    # --- the request path, written once ---

    def _path(self, request: ChatRequest, stream: bool) -> Path:
        """choose the model -> prepare the call -> send; returns (answer, call)."""
        model = yield from self._choose_model(request.options.get("model"))
        if request.images and model in self._blind:
            raise VisionUnsupportedError(self.backend_name, model)
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
        return _params.chat_params(request, self.config, model, image_uuids=self.image_uuids,
                                   **overrides)

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
        if model and is_blind_model(exc):
            self._blind.add(model)
        return translate(exc, engine=self.engine, url=self.shown_url, identity=self.identity,
                         timeout=self.config.timeout, model=model, served=served)

    # --- the public API's implementations: thin over the path ---

    def _chat(self, request: ChatRequest) -> ChatResult:
        return self._result(*self._run(self._path(request, stream=False),
                                       self._budget(request)))

    async def _achat(self, request: ChatRequest) -> ChatResult:
        return self._result(*await self._arun(self._path(request, stream=False),
                                              self._budget(request)))

    def _result(self, response: Any, call: Call) -> ChatResult:
        self._server_reasons = self._server_reasons or _reading.server_reasons(response.usage)
        return _reading.read_completion(response, call.parser)

    # A stream's chunks are read under its budget (first_token_timeout, then
    # stream_idle_timeout between chunks, and the call's timeout), the budget published
    # only around each read: the caller's own code between deltas runs outside it.

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        budget = self._budget(request, stream=True)
        opened, call = self._run(self._path(request, stream=True), budget)
        reader = self._reader(call)
        chunks, chunk = opened.chunks, opened.first
        try:
            with self._breaking_off(reader, call, budget):
                while chunk is not None:
                    if (delta := reader.feed(chunk)) is not None:
                        yield delta
                    budget.delta_arrived()
                    with budget.active():
                        chunk = next(chunks, None)
            yield self._last(reader)
        finally:
            opened.stream.close()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        budget = self._budget(request, stream=True)
        opened, call = await self._arun(self._path(request, stream=True), budget)
        reader = self._reader(call)
        chunks, chunk = opened.chunks, opened.first
        try:
            with self._breaking_off(reader, call, budget):
                while chunk is not None:
                    if (delta := reader.feed(chunk)) is not None:
                        yield delta
                    budget.delta_arrived()
                    with budget.active():
                        chunk = await anext(chunks, None)
            yield self._last(reader)
        finally:
            await opened.stream.close()

    @contextlib.contextmanager
    def _breaking_off(self, reader: _reading.StreamReader, call: Call,
                      budget: Budget) -> Iterator[None]:
        """A stream that fails under way: the typed error, with what arrived."""
        try:
            yield
        except MemscreenLLMError:
            raise  # ours (a malformed tool call): already typed
        except Exception as exc:  # whatever the transport raised: the stream broke
            if is_timeout(exc):
                raise budget.timed_out(partial=reader.joiner.result()) from exc
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
        response = self._run(self._embed_path(texts), self._budget())
        data = sorted(response.data, key=lambda item: item.index)
        return [[float(x) for x in item.embedding] for item in data]

    def _embed_path(self, texts: list[str]) -> Path:
        model = yield from self._choose_model(getattr(self.config, "embedding_model", None))
        try:
            return (yield Embed(model, texts))
        except CLIENT_ERRORS as exc:
            raise self._error(exc, model, what="embeddings") from exc

    def served_models(self) -> tuple[ServedModel, ...]:
        """The server's models (GET /v1/models, asked once); empty if it cannot list them.
        A health probe: at most 10 s, no retries."""
        limits = Limits(timeout=min(self.config.timeout, 10.0), max_retries=0)
        models: tuple[ServedModel, ...] = self._run(self._served_models(),
                                                    self._budget(limits=limits))
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


@contextlib.contextmanager
def _opening(stream: Any) -> Iterator[None]:
    """Reading a stream's first chunk: a failure there is raised as the SDK's own
    connection (or timeout) error, so the retry policy and the error
    translation treat it like a request that failed before any output."""
    try:
        yield
    except (openai.APIError, ValueError):
        raise  # the SDK's own, or an undecodable body (typed by _reading)
    except Exception as exc:  # the transport's error while reading: the stream broke
        request = stream.response.request
        if is_timeout(exc):
            raise openai.APITimeoutError(request) from exc
        raise openai.APIConnectionError(
            message=f"the stream broke before its first chunk: {type(exc).__name__}: {exc}",
            request=request) from exc


def _http_library(client_class: type) -> Any:
    """The HTTP library the SDK's client class builds on (httpx, or httpx2 in openai 3.x):
    the transports must come from the same library."""
    for base in client_class.__mro__:
        top = base.__module__.split(".")[0]
        if top.startswith("httpx"):
            return importlib.import_module(top)
    raise RuntimeError(f"{client_class} is not an httpx client")


def _model_items(page: Any) -> list[Any]:
    """The models of a GET /v1/models answer: OpenAI's `{"data": [...]}`, or a router's
    `{"models": [...]}` (vllm-router with --enable-igw), whose items may be bare names."""
    data = getattr(page, "data", None)
    if data is None:
        data = (getattr(page, "model_extra", None) or {}).get("models")
    return list(data) if isinstance(data, list) else []


def _served(item: Any) -> ServedModel:
    if isinstance(item, str):  # a bare model name
        return ServedModel(item)
    if isinstance(item, dict):
        name, length = item.get("id") or item.get("name"), item.get("max_model_len")
    else:
        name, length = item.id, getattr(item, "max_model_len", None)
    return ServedModel(str(name), length if isinstance(length, int) else None)
