"""`memscreen-llm bench`: a workload through one or more backends, a table (or JSON) at
the end, a progress line on stderr meanwhile; `--plot FILE` draws it."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from .._config_file import utf8_text
from .._config_resolve import resolve_config
from ..bench import BenchRun, Level, RequestRecord, Workload, run_bench, table
from ..errors import BackendError, UsageError
from ..factory import build
from ._common import parse_settings

EXIT_INTERRUPTED = 130


def run(args: argparse.Namespace) -> int:
    workload = _workload(args)
    plot = None
    if args.plot:
        from ..bench._plot import check_plot_path

        plot = check_plot_path(args.plot)
    names: list[str | None] = list(args.backend or [None])
    settings = _settings(args.settings, names)
    resolved = [resolve_config(name, {}, config_file=args.config,
                               text_arguments=settings[name]) for name in names]
    chosen = Counter(r.backend.name for r in resolved)
    twice = [name for name, count in chosen.items() if count > 1]
    if twice:
        raise UsageError(f"backend {twice[0]!r} is given twice; give each backend once")
    if args.otel:
        _instrument()
    bench = BenchRun(workload)
    progress = _Progress(sys.stderr, workload)
    code = 0
    with contextlib.ExitStack() as stack:
        llms = [stack.enter_context(build(r.backend, r.config)) for r in resolved]
        try:
            run_bench(llms, workload, on_record=progress.add, run=bench)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
        finally:
            progress.end()
    _report(args, bench, plot)
    if code:
        if args.json:
            print("interrupted: the JSON holds the results measured until then",
                  file=sys.stderr)
        return code
    _raise_if_failed(bench)
    return 0


def _report(args: argparse.Namespace, bench: BenchRun, plot: Path | None) -> None:
    if args.json:
        print(json.dumps(bench.to_json(), indent=2))
    else:
        print(table(bench))
    if plot is not None and any(level.records for level in bench.levels):
        from ..bench._plot import write_plot

        write_plot(plot, bench)
        print(f"plot written to {plot}", file=sys.stderr)


def _raise_if_failed(bench: BenchRun) -> None:
    records = [r for level in bench.levels for r in level.records]
    failed = Counter(r.error_type for r in records if not r.ok)
    if failed:
        kinds = ", ".join(f"{count} x {kind}" for kind, count in failed.most_common())
        raise BackendError(f"{sum(failed.values())} of {len(records)} requests failed "
                           f"({kinds}); the report above says where")


def _positive(option: str, text: str | None, default: int, minimum: int = 1) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise UsageError(f"{option} takes a whole number of at least {minimum}, got {text!r}")
    return value


def _workload(args: argparse.Namespace) -> Workload:
    for first, second in (("requests", "duration"), ("prompt", "prompt_tokens")):
        if getattr(args, first) is not None and getattr(args, second) is not None:
            raise UsageError(f"give --{first} or --{second.replace('_', '-')}, not both")
    levels: list[int] = []
    for part in str(args.concurrency).split(","):
        levels.append(_positive("--concurrency", part.strip(), 1))
    if len(set(levels)) != len(levels):
        raise UsageError(f"--concurrency {args.concurrency}: a level is given twice")
    duration = None
    if args.duration is not None:
        try:
            duration = float(args.duration)
        except ValueError:
            duration = 0.0
        if not 0 < duration < float("inf"):
            raise UsageError(f"--duration takes seconds above 0, got {args.duration!r}")
    prompt = None
    if args.prompt is not None:
        prompt = _read_prompt(args.prompt)
    return Workload(
        concurrency=tuple(levels),
        requests=None if duration is not None else _positive("--requests", args.requests, 16),
        duration=duration, prompt=prompt,
        prompt_tokens=_positive("--prompt-tokens", args.prompt_tokens, 64),
        max_tokens=_positive("--max-tokens", args.max_tokens, 64),
        stream=args.stream, warmup=_positive("--warmup", args.warmup, 1, minimum=0),
        seed=None if args.seed is None else _positive("--seed", args.seed, 0, minimum=0),
    )


def _read_prompt(text: str) -> str:
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            prompt = utf8_text(path.read_bytes(), str(path))
        except OSError as exc:
            raise UsageError(f"--prompt {text}: cannot read it: {exc.strerror}") from None
    else:
        prompt = text
    if not prompt.strip():
        raise UsageError(f"--prompt {text}: the prompt is empty")
    return prompt


def _settings(pairs: list[str], names: list[str | None]) -> dict[str | None, dict[str, str]]:
    """--set FIELD=V for every backend, --set BACKEND.FIELD=V for the one named so."""
    parsed = parse_settings(pairs)
    out = {name: {f: v for f, v in parsed.items() if "." not in f} for name in names}
    for field, value in parsed.items():
        if "." in field:
            backend, _, name = field.partition(".")
            if backend not in out:
                given = ", ".join(n for n in names if n) or "none given with -b"
                raise UsageError(f"--set {field}=...: {backend!r} is not a backend of this run "
                                 f"({given})")
            out[backend][name] = value
    return out


def _instrument() -> None:
    from ..otel import instrument

    instrument()
    from opentelemetry import trace

    if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
        print("note: --otel: no OpenTelemetry SDK is configured, so the spans go nowhere; "
              "run under opentelemetry-instrument (opentelemetry-distro) to export them",
              file=sys.stderr)


class _Progress:
    """One line on stderr: redrawn in place on a terminal, else printed once a level."""

    def __init__(self, stream: TextIO, workload: Workload) -> None:
        self.stream = stream
        self.workload = workload
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.level: Level | None = None
        self.started = 0.0
        self.drawn = 0.0
        self.failed = 0

    def add(self, level: Level, record: RequestRecord) -> None:
        if level is not self.level:
            self._finish()
            self.level, self.started, self.failed = level, record.started, 0
        self.failed += not record.ok
        now = time.perf_counter()
        done = len(level.records)
        last = level.requests is not None and done >= level.requests
        if self.tty and (last or now - self.drawn > 0.1):
            self.drawn = now
            self.stream.write("\r" + self._line(level, now) + "\x1b[K")
            self.stream.flush()
        if last:
            self._finish()

    def _line(self, level: Level, now: float) -> str:
        done = len(level.records)
        if level.requests is not None:
            filled = 20 * done // level.requests
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] {done}/{level.requests}"
        else:
            bar = f"{done} requests"
        return (f"{level.backend} c={level.concurrency} {bar} ok {done - self.failed} "
                f"failed {self.failed} {now - self.started:.1f} s")

    def _finish(self) -> None:
        if self.level is None:
            return
        line = self._line(self.level, time.perf_counter())
        self.stream.write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")
        self.stream.flush()
        self.level = None

    def end(self) -> None:
        self._finish()
