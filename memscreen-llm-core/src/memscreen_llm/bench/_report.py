"""The end-of-run table (text) of a `BenchRun`."""

from __future__ import annotations

from typing import Any

from ._runner import BenchRun

_GROUPS = (("TTFT ms", "ttft_ms"), ("ITL ms", "itl_ms"), ("E2E ms", "e2el_ms"))
_STATS = ("p50", "p90", "p99", "mean")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def workload_line(run: BenchRun) -> str:
    w = run.workload
    count = f"{w.requests} requests" if w.requests is not None else f"{w.duration:g} s"
    prompt = (f"a given prompt ({len(w.prompt)} chars)" if w.prompt is not None
              else f"synthetic prompts of ~{w.prompt_tokens} words")
    mode = "streamed" if w.stream else "not streamed"
    seed = f", seed {w.seed}" if w.seed is not None else ""
    return (f"workload: {count} per level, {prompt}, max_tokens {w.max_tokens}, {mode}, "
            f"{w.warmup} warm-up{'s' if w.warmup != 1 else ''}{seed}")


def table(run: BenchRun) -> str:
    """The results, one row per backend and concurrency, then the notes."""
    rows = [level.stats() for level in run.levels if level.records]
    lines = [workload_line(run)]
    seen: set[str] = set()
    for row in rows:
        if row["backend"] not in seen:
            seen.add(row["backend"])
            where = f" at {row['server']}" if row["server"] else ""
            lines.append(f"{row['backend']}: model {row['model']!r}{where}")
    width = max([len("backend"), *(len(r["backend"]) for r in rows)])
    head = (f"{'backend':<{width}} {'conc':>4} {'ok':>4} {'fail':>4} {'in tok':>7} "
            f"{'out tok':>7} {'req/s':>6} {'tok/s':>7}")
    first = " " * len(head)
    second = head
    for title, _key in _GROUPS:
        first += "  " + f"{title:<{6 * len(_STATS) + len(_STATS) - 1}}"
        second += "  " + " ".join(f"{name:>6}" for name in _STATS)
    lines += ["", first.rstrip(), second]
    for row in rows:
        line = (f"{row['backend']:<{width}} {row['concurrency']:>4} {row['ok']:>4} "
                f"{row['failed']:>4} {row['input_tokens']:>7} {row['output_tokens']:>7} "
                f"{_rate(row['request_throughput']):>6} {_rate(row['output_throughput']):>7}")
        for _title, key in _GROUPS:
            line += "  " + " ".join(f"{_ms(row[key][name]):>6}" for name in _STATS)
        lines.append(line)
    lines += _notes(run, rows)
    return "\n".join(lines)


def _notes(run: BenchRun, rows: list[dict[str, Any]]) -> list[str]:
    notes: list[str] = []
    for row in rows:
        where = f"{row['backend']} at concurrency {row['concurrency']}"
        for kind, count in row["errors"].items():
            example = row["error_examples"].get(kind, "")
            notes.append(f"failed: {where}: {count} x {kind}" + (f": {example}" if example
                                                                 else ""))
        if row["output_tokens_from_engine"] is False:
            notes.append(f"note: {where}: the engine reported no usage; output tokens are "
                         "the text deltas counted")
        if not row["complete"]:
            notes.append(f"note: {where}: interrupted after {row['requests']} requests")
    if not run.workload.stream:
        notes.append("note: not streamed, so no TTFT or ITL (run with --stream)")
    if run.interrupted:
        notes.append("interrupted: these are the results measured until then")
    return ["", *notes] if notes else []
