"""The traced versions of LLMBase's public methods (imports opentelemetry-api).

A call's span is started when the method is called and made current while the request
is sent (so an HTTP client's own instrumentation nests under it); a stream's span ends
when the stream does (after its last delta), or when the caller closes it early.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context, metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._version import __version__
from ..types import ChatDelta, ChatResult, StreamJoiner
from . import _attributes as attrs

SCOPE = "memscreen_llm"
# The conventions' advised bucket boundaries.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)


class Instruments:
    """The tracer, the histograms and the content switch of one `instrument()`."""

    def __init__(self, tracer_provider: Any, meter_provider: Any, capture: bool) -> None:
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time to receive the first chunk of a streamed answer.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.capture = capture


class _Call:
    """One traced call: its span, its start, what the metrics are recorded with."""

    __slots__ = ("context", "inst", "metric", "span", "start")

    def __init__(self, inst: Instruments, llm: Any, method: str, messages: Any,
                 options: Mapping[str, Any], response_format: Any = None) -> None:
        self.inst = inst
        attributes = attrs.request_attributes(llm.identity.name, llm.config, method, options,
                                              response_format)
        self.metric = {key: attributes[key] for key in attrs.METRIC_KEYS if key in attributes}
        attributes["memscreen_llm.call"] = method  # which of the methods: chat, astream, ...
        if inst.capture and method != "embed":
            attributes["gen_ai.input.messages"] = attrs.input_messages(messages)
        name = attributes["gen_ai.operation.name"]
        model = attributes.get("gen_ai.request.model")
        self.span = inst.tracer.start_span(f"{name} {model}" if model else name,
                                           kind=SpanKind.CLIENT, attributes=attributes)
        self.context = trace.set_span_in_context(self.span)
        self.start = time.perf_counter()

    def first_chunk(self) -> None:
        seconds = time.perf_counter() - self.start
        self.span.set_attribute("gen_ai.response.time_to_first_chunk", seconds)
        self.inst.first_chunk.record(seconds, self.metric)

    def done(self, result: ChatResult | None, extra: Mapping[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self.start
        found = attrs.result_attributes(result) if result is not None else {}
        if extra:
            found.update(extra)
        if self.inst.capture and result is not None:
            found["gen_ai.output.messages"] = attrs.output_messages(result)
        self.span.set_attributes(found)
        self.span.end()
        metric = self.metric
        self.inst.duration.record(seconds, metric)
        tokens = found.get("gen_ai.usage.input_tokens")
        if tokens is not None:
            self.inst.tokens.record(tokens, {**metric, "gen_ai.token.type": "input"})
        tokens = found.get("gen_ai.usage.output_tokens")
        if tokens is not None:
            self.inst.tokens.record(tokens, {**metric, "gen_ai.token.type": "output"})

    def fail(self, exc: BaseException) -> None:
        seconds = time.perf_counter() - self.start
        kind = attrs.error_type(exc)
        self.span.set_attribute("error.type", kind)
        self.span.set_status(Status(StatusCode.ERROR, attrs.error_description(exc)))
        self.span.end()
        self.inst.duration.record(seconds, {**self.metric, "error.type": kind})


def wrap(method: str, original: Callable[..., Any], inst: Instruments) -> Callable[..., Any]:
    """The traced version of LLMBase's `method`."""
    makers: dict[str, Callable[[Callable[..., Any], Instruments], Callable[..., Any]]] = {
        "chat": _chat, "stream": _stream, "achat": _achat, "astream": _astream,
        "embed": _embed}
    traced = makers[method](original, inst)
    functools.update_wrapper(traced, original)
    return traced


def _chat(original: Callable[..., ChatResult], inst: Instruments) -> Callable[..., ChatResult]:
    def chat(self: Any, messages: Any, **kwargs: Any) -> ChatResult:
        call = _Call(inst, self, "chat", messages, kwargs, kwargs.get("response_format"))
        token = context.attach(call.context)
        try:
            result = original(self, messages, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            context.detach(token)
        call.done(result)
        return result

    return chat


def _achat(original: Callable[..., Any], inst: Instruments) -> Callable[..., Any]:
    async def achat(self: Any, messages: Any, **kwargs: Any) -> ChatResult:
        call = _Call(inst, self, "achat", messages, kwargs, kwargs.get("response_format"))
        token = context.attach(call.context)
        try:
            result: ChatResult = await original(self, messages, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            context.detach(token)
        call.done(result)
        return result

    return achat


def _embed(original: Callable[..., list[list[float]]],
           inst: Instruments) -> Callable[..., list[list[float]]]:
    def embed(self: Any, texts: Sequence[str]) -> list[list[float]]:
        call = _Call(inst, self, "embed", None, {})
        token = context.attach(call.context)
        try:
            vectors = original(self, texts)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            context.detach(token)
        call.done(None, {"gen_ai.embeddings.dimension.count": len(vectors[0])} if vectors
                  else None)
        return vectors

    return embed


class _StreamState:
    """What a stream's span needs from its deltas: cheap per delta, text kept only when
    content is captured."""

    __slots__ = ("finish", "joiner", "model", "usage", "waiting")

    def __init__(self, capture: bool) -> None:
        self.waiting = True
        self.finish: str | None = None
        self.usage: Any = None
        self.model: str | None = None
        self.joiner = StreamJoiner() if capture else None

    def result(self) -> ChatResult:
        if self.joiner is not None:
            return self.joiner.result()
        return ChatResult(finish_reason=self.finish, usage=self.usage, model=self.model)


def _stream(original: Callable[..., Iterator[ChatDelta]],
            inst: Instruments) -> Callable[..., Iterator[ChatDelta]]:
    def stream(self: Any, messages: Any, **kwargs: Any) -> Iterator[ChatDelta]:
        call = _Call(inst, self, "stream", messages, kwargs, kwargs.get("response_format"))
        try:
            inner = original(self, messages, **kwargs)
        except BaseException as exc:  # refused before anything was sent
            call.fail(exc)
            raise
        return _traced_stream(inner, call)

    return stream


def _traced_stream(inner: Iterator[ChatDelta], call: _Call) -> Iterator[ChatDelta]:
    state = _StreamState(call.inst.capture)
    joiner = state.joiner
    try:
        token = context.attach(call.context)  # current while the request is sent
        try:
            first = next(inner, None)
        finally:
            context.detach(token)
        if first is not None:
            _note(state, call, first)
            yield first
            for delta in inner:
                if state.waiting or delta[3] is not None or delta[4] is not None or (
                        delta[5] is not None or joiner is not None):
                    _note(state, call, delta)
                yield delta
    except GeneratorExit:  # the caller stopped reading: not an error
        call.done(state.result())
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.done(state.result())


def _note(state: _StreamState, call: _Call, delta: ChatDelta) -> None:
    content, reasoning, tool_calls, finish, usage, model = delta
    if state.waiting and (content or reasoning or tool_calls):
        state.waiting = False
        call.first_chunk()
    if finish is not None:
        state.finish = finish
    if usage is not None:
        state.usage = usage
    if model is not None:
        state.model = model
    if state.joiner is not None:
        state.joiner.add(delta)


def _astream(original: Callable[..., AsyncIterator[ChatDelta]],
             inst: Instruments) -> Callable[..., AsyncIterator[ChatDelta]]:
    def astream(self: Any, messages: Any, **kwargs: Any) -> AsyncIterator[ChatDelta]:
        call = _Call(inst, self, "astream", messages, kwargs, kwargs.get("response_format"))
        try:
            inner = original(self, messages, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return _traced_astream(inner, call)

    return astream


async def _traced_astream(inner: AsyncIterator[ChatDelta],
                          call: _Call) -> AsyncIterator[ChatDelta]:
    state = _StreamState(call.inst.capture)
    joiner = state.joiner
    try:
        token = context.attach(call.context)
        try:
            first = await anext(inner, None)
        finally:
            context.detach(token)
        if first is not None:
            _note(state, call, first)
            yield first
            async for delta in inner:
                if state.waiting or delta[3] is not None or delta[4] is not None or (
                        delta[5] is not None or joiner is not None):
                    _note(state, call, delta)
                yield delta
    except GeneratorExit:
        call.done(state.result())
        close = getattr(inner, "aclose", None)
        if close is not None:
            await close()
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.done(state.result())
