"""What one request measured, and the numbers a level of the benchmark reports (pure).

The metrics are those of vLLM's `bench serve`: time to first token (TTFT), time per
output token after the first (TPOT), inter-token latency (ITL: the gaps between streamed
text deltas), end-to-end latency (E2EL), request and token throughput. Percentiles
interpolate linearly between the closest ranks (numpy's default, as vLLM reports them).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class RequestRecord:
    """One request of a benchmark: times in seconds from its own start."""

    ok: bool
    started: float  # perf_counter() when it was sent
    e2e: float  # until the whole answer (or the error) arrived
    ttft: float | None = None  # until the first text delta (streams only)
    itl: tuple[float, ...] = ()  # gaps between successive text deltas (streams only)
    output_tokens: int | None = None  # the engine's count, else the text deltas seen
    input_tokens: int | None = None  # the engine's count of the prompt
    engine_counted: bool = False  # output_tokens came from the engine's usage
    error_type: str | None = None
    error: str | None = None  # the first line of the error, URLs' passwords redacted

    @property
    def ended(self) -> float:
        return self.started + self.e2e

    @property
    def tpot(self) -> float | None:
        """Time per output token after the first, as vLLM defines it."""
        if self.ttft is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Iterable[float], scale: float = 1.0) -> dict[str, float | None]:
    """mean, p50, p90 and p99 of `values` (each times `scale`, e.g. 1000 for ms)."""
    scaled = [value * scale for value in values]
    out: dict[str, float | None] = {
        "mean": sum(scaled) / len(scaled) if scaled else None}
    for q in PERCENTILES:
        out[f"p{q}"] = percentile(scaled, q)
    return out


@dataclass
class Level:
    """One backend at one concurrency: the records, added as requests finish."""

    backend: str
    concurrency: int
    model: str | None = None
    server: str | None = None  # the backend's base_url, its password redacted
    requests: int | None = None  # how many were asked for (None: by duration)
    records: list[RequestRecord] = field(default_factory=list)
    complete: bool = False  # False: still running, or interrupted

    def stats(self) -> dict[str, Any]:
        """Everything reported for this level (see `level_stats`)."""
        return level_stats(self)


def level_stats(level: Level) -> dict[str, Any]:
    records = level.records
    ok = [r for r in records if r.ok]
    errors = Counter(r.error_type or "Error" for r in records if not r.ok)
    examples: dict[str, str] = {}
    for r in records:
        if not r.ok and r.error_type and r.error_type not in examples:
            examples[r.error_type] = r.error or ""
    duration = (max(r.ended for r in records) - min(r.started for r in records)
                if records else 0.0)
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    in_tokens = sum(r.input_tokens or 0 for r in ok)

    def per_second(count: int) -> float | None:
        return count / duration if duration > 0 else None

    return {
        "backend": level.backend,
        "model": level.model,
        "server": level.server,
        "concurrency": level.concurrency,
        "complete": level.complete,
        "requests": len(records),
        "ok": len(ok),
        "failed": len(records) - len(ok),
        "errors": dict(sorted(errors.items())),
        "error_examples": examples,
        "duration_s": duration,
        "request_throughput": per_second(len(ok)),
        "output_throughput": per_second(out_tokens),
        "total_token_throughput": per_second(out_tokens + in_tokens),
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "output_tokens_from_engine": all(r.engine_counted for r in ok) if ok else None,
        "ttft_ms": summary((r.ttft for r in ok if r.ttft is not None), 1000),
        "tpot_ms": summary((t for r in ok if (t := r.tpot) is not None), 1000),
        "itl_ms": summary((gap for r in ok for gap in r.itl), 1000),
        "e2el_ms": summary((r.e2e for r in ok), 1000),
    }
