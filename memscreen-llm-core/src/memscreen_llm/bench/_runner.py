"""Running a workload through backends with asyncio: `run_bench`.

Each backend is probed first (one request; an unreachable server or a missing model
stops the run before anything is measured), then, one backend after another, warmed up
and run at each concurrency: `concurrency` workers send requests back to back until the
level's count (or duration) is used up. Requests go through the async API (`astream` /
`achat`); a backend without it runs the sync calls in a thread each. The records are
added to the `BenchRun` as they finish, so after Ctrl-C it holds what was measured.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._urls import redact_all_urls, redact_url
from ..base import LLMBase
from ..errors import MemscreenLLMError, UsageError
from ..types import Capability, ChatDelta
from ._stats import Level, RequestRecord
from ._workload import Workload

OnRecord = Callable[[Level, RequestRecord], None]
Call = Callable[[list[dict[str, Any]], dict[str, Any]], Any]  # -> awaitable RequestRecord
_WARMUP_BASE = -1_000_000  # warm-up prompts are numbered apart from the measured ones


class ProbeError(MemscreenLLMError):
    """A backend's first request failed: nothing was measured. Exits as its cause does."""

    def __init__(self, backend: str, cause: BaseException) -> None:
        self.backend = backend
        self.cause = cause
        self.exit_code = getattr(cause, "exit_code", 1)
        detail = str(cause) if isinstance(cause, MemscreenLLMError) else (
            f"{type(cause).__name__}: {redact_all_urls(str(cause))}")
        super().__init__(f"backend {backend!r}: {detail}")


@dataclass
class BenchRun:
    """A run's results, level by level, as they arrive."""

    workload: Workload
    levels: list[Level] = field(default_factory=list)
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"workload": self.workload.describe(), "interrupted": self.interrupted,
                "results": [level.stats() for level in self.levels if level.records]}


def run_bench(llms: Sequence[LLMBase], workload: Workload, *, on_record: OnRecord | None = None,
              run: BenchRun | None = None, probe: bool = True) -> BenchRun:
    """Run `workload` through each backend in turn; returns (and fills) `run`.

    Raises ProbeError if a backend's first request fails (`probe=False` skips that
    check: every failure is then counted). On KeyboardInterrupt `run` is marked
    interrupted and the interrupt goes on.
    """
    run = run if run is not None else BenchRun(workload)
    for llm in llms:
        if workload.stream and not llm.supports(Capability.STREAMING):
            raise UsageError(f"backend {llm.backend_name!r} cannot stream; run with --no-stream")
    try:
        asyncio.run(_run_all(llms, workload, run, on_record or _nothing, probe))
    except KeyboardInterrupt:
        run.interrupted = True
        raise
    return run


def _nothing(level: Level, record: RequestRecord) -> None:
    pass


async def _run_all(llms: Sequence[LLMBase], workload: Workload, run: BenchRun,
                   on_record: OnRecord, probe: bool) -> None:
    models: dict[int, str | None] = {}
    for llm in llms:
        models[id(llm)] = await _probe(llm, workload) if probe else llm.config.model
    for llm in llms:
        call = _caller(llm, workload.stream)
        for number in range(1 if probe else 0, workload.warmup):
            await call(workload.messages(_WARMUP_BASE + number), workload.options())
        index = 0
        for concurrency in workload.concurrency:
            server = getattr(llm.config, "base_url", None)
            level = Level(backend=llm.backend_name, concurrency=concurrency,
                          model=models[id(llm)], requests=workload.requests,
                          server=redact_url(server) if isinstance(server, str) else None)
            run.levels.append(level)
            index = await _level(llm, workload, level, index, on_record)
            level.complete = True


async def _probe(llm: LLMBase, workload: Workload) -> str | None:
    """The first request (the first warm-up, or a 1-token request without warm-up):
    raises ProbeError when it fails. Returns the model that answered."""
    options = workload.options()
    if workload.warmup == 0:
        options["max_tokens"] = 1
    messages = workload.messages(_WARMUP_BASE)
    try:
        if llm.supports(Capability.ASYNC):
            result = await llm.achat(messages, **options)
        else:
            result = await asyncio.get_running_loop().run_in_executor(
                None, lambda: llm.chat(messages, **options))
    except Exception as exc:
        raise ProbeError(llm.backend_name, exc) from exc
    return result.model or llm.config.model


async def _level(llm: LLMBase, workload: Workload, level: Level, start: int,
                 on_record: OnRecord) -> int:
    """Run one level; returns the next prompt number."""
    numbers = itertools.count(start)
    left = workload.requests
    deadline = None if workload.duration is None else time.perf_counter() + workload.duration
    pool = (None if llm.supports(Capability.ASYNC)
            else concurrent.futures.ThreadPoolExecutor(level.concurrency))
    call = _caller(llm, workload.stream, pool)
    options = workload.options()

    async def worker() -> None:
        nonlocal left
        while True:
            if left is not None:
                if left <= 0:
                    return
                left -= 1
            elif deadline is not None and time.perf_counter() >= deadline:
                return
            record = await call(workload.messages(next(numbers)), options)
            level.records.append(record)
            on_record(level, record)

    try:
        await asyncio.gather(*(worker() for _ in range(level.concurrency)))
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return next(numbers)


def _caller(llm: LLMBase, stream: bool,
            pool: concurrent.futures.Executor | None = None) -> Call:
    if llm.supports(Capability.ASYNC):
        return (lambda messages, options: _astreamed(llm, messages, options)) if stream else (
            lambda messages, options: _achatted(llm, messages, options))

    def in_thread(messages: list[dict[str, Any]], options: dict[str, Any]) -> Any:
        sync = _streamed if stream else _chatted
        return asyncio.get_running_loop().run_in_executor(pool, sync, llm, messages, options)

    return in_thread


class _Timing:
    """A stream's delta times, as they arrive."""

    __slots__ = ("first", "gaps", "last", "start", "texts", "usage")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last = 0.0
        self.gaps: list[float] = []
        self.texts = 0
        self.usage: Any = None

    def add(self, delta: ChatDelta) -> None:
        if delta.content or delta.reasoning or delta.tool_calls:
            now = time.perf_counter()
            if self.first is None:
                self.first = now - self.start
            else:
                self.gaps.append(now - self.last)
            self.last = now
            self.texts += 1
        if delta.usage is not None:
            self.usage = delta.usage

    def record(self) -> RequestRecord:
        engine_out = getattr(self.usage, "completion_tokens", None)
        return RequestRecord(
            ok=True, started=self.start, e2e=time.perf_counter() - self.start,
            ttft=self.first, itl=tuple(self.gaps),
            output_tokens=engine_out if engine_out is not None else self.texts,
            input_tokens=getattr(self.usage, "prompt_tokens", None),
            engine_counted=engine_out is not None)


def _chat_record(start: float, usage: Any) -> RequestRecord:
    out = getattr(usage, "completion_tokens", None)
    return RequestRecord(ok=True, started=start, e2e=time.perf_counter() - start,
                         output_tokens=out, input_tokens=getattr(usage, "prompt_tokens", None),
                         engine_counted=out is not None)


def failed(start: float, exc: BaseException) -> RequestRecord:
    """The record of a request that raised `exc`."""
    lines = str(exc).splitlines()
    message = redact_all_urls(lines[0] if lines else type(exc).__name__)
    return RequestRecord(ok=False, started=start, e2e=time.perf_counter() - start,
                         error_type=type(exc).__name__, error=message[:300])


async def _astreamed(llm: LLMBase, messages: list[dict[str, Any]],
                     options: dict[str, Any]) -> RequestRecord:
    timing = _Timing()
    try:
        async for delta in llm.astream(messages, **options):
            timing.add(delta)
    except Exception as exc:
        return failed(timing.start, exc)
    return timing.record()


async def _achatted(llm: LLMBase, messages: list[dict[str, Any]],
                    options: dict[str, Any]) -> RequestRecord:
    start = time.perf_counter()
    try:
        result = await llm.achat(messages, **options)
    except Exception as exc:
        return failed(start, exc)
    return _chat_record(start, result.usage)


def _streamed(llm: LLMBase, messages: list[dict[str, Any]],
              options: dict[str, Any]) -> RequestRecord:
    timing = _Timing()
    try:
        for delta in llm.stream(messages, **options):
            timing.add(delta)
    except Exception as exc:
        return failed(timing.start, exc)
    return timing.record()


def _chatted(llm: LLMBase, messages: list[dict[str, Any]],
             options: dict[str, Any]) -> RequestRecord:
    start = time.perf_counter()
    try:
        result = llm.chat(messages, **options)
    except Exception as exc:
        return failed(start, exc)
    return _chat_record(start, result.usage)
