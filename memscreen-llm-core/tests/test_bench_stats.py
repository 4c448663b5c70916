"""`memscreen_llm.bench`'s pure parts: percentiles, a level's numbers, the workload."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memscreen_llm.bench import Level, RequestRecord, Workload, level_stats, percentile, summary
from memscreen_llm.bench._workload import SYNTHETIC_PREFIX


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    # numpy.percentile([1, 2, 3, 4], q) with the default linear method
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="within 0..100"):
        percentile(values, 101)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1))
def test_summary_is_ordered_and_within_the_values(values: list[float]) -> None:
    got = summary(values)
    assert got["p50"] is not None and got["p90"] is not None and got["p99"] is not None
    assert got["mean"] is not None
    assert min(values) <= got["p50"] <= got["p90"] <= got["p99"] <= max(values)
    assert min(values) - 1e-6 <= got["mean"] <= max(values) + 1e-6


def test_summary_scales_and_is_empty_for_no_values() -> None:
    assert summary([0.001, 0.003], 1000) == pytest.approx(
        {"mean": 2.0, "p50": 2.0, "p90": 2.8, "p99": 2.98})
    assert summary([]) == {"mean": None, "p50": None, "p90": None, "p99": None}


def _ok(started: float, e2e: float, ttft: float | None, out: int | None,
        itl: tuple[float, ...] = (), engine: bool = True) -> RequestRecord:
    return RequestRecord(ok=True, started=started, e2e=e2e, ttft=ttft, itl=itl,
                         output_tokens=out, input_tokens=10, engine_counted=engine)


def test_level_stats_counts_failures_by_type_and_rates_over_the_wall_time() -> None:
    level = Level(backend="b", concurrency=2, model="m", server="http://h:1", requests=4)
    level.records += [
        _ok(0.0, 1.0, 0.2, 9, (0.1, 0.1)),
        _ok(0.5, 1.5, 0.3, 11, (0.1, 0.2)),  # ends at 2.0: the level took 2 s
        RequestRecord(ok=False, started=1.0, e2e=0.1, error_type="BackendUnavailableError",
                      error="cannot reach the server at http://h:1"),
        RequestRecord(ok=False, started=1.2, e2e=0.1, error_type="BackendUnavailableError",
                      error="again"),
    ]
    got = level_stats(level)
    assert (got["requests"], got["ok"], got["failed"]) == (4, 2, 2)
    assert got["errors"] == {"BackendUnavailableError": 2}
    assert got["error_examples"] == {
        "BackendUnavailableError": "cannot reach the server at http://h:1"}
    assert got["duration_s"] == pytest.approx(2.0)
    assert got["request_throughput"] == pytest.approx(1.0)  # 2 ok in 2 s
    assert got["output_throughput"] == pytest.approx(10.0)  # 20 tokens in 2 s
    assert got["total_token_throughput"] == pytest.approx(20.0)  # + 2 x 10 input tokens
    assert (got["input_tokens"], got["output_tokens"]) == (20, 20)
    assert got["ttft_ms"]["mean"] == pytest.approx(250.0)
    # TPOT: (1.0 - 0.2) / 8 and (1.5 - 0.3) / 10
    assert got["tpot_ms"]["mean"] == pytest.approx((100.0 + 120.0) / 2)
    assert got["itl_ms"]["p50"] == pytest.approx(100.0)
    assert got["e2el_ms"]["p99"] == pytest.approx(1495.0)
    assert got["output_tokens_from_engine"] is True and got["complete"] is False


def test_level_stats_of_an_unstreamed_or_empty_level() -> None:
    level = Level(backend="b", concurrency=1)
    assert level_stats(level)["request_throughput"] is None
    level.records.append(_ok(0.0, 0.5, None, None, engine=False))
    got = level_stats(level)
    assert got["ttft_ms"]["p50"] is None and got["tpot_ms"]["mean"] is None
    assert got["e2el_ms"]["p50"] == pytest.approx(500.0)
    assert got["output_tokens_from_engine"] is False


def test_synthetic_prompts_are_seeded_distinct_and_about_n_words() -> None:
    work = Workload(prompt_tokens=40, seed=7)
    first, second = work.prompt_text(0), work.prompt_text(1)
    assert first.startswith(SYNTHETIC_PREFIX) and first != second
    assert len(first.split()) == 40 + len(SYNTHETIC_PREFIX.split())
    assert Workload(prompt_tokens=40, seed=7).prompt_text(0) == first
    assert Workload(prompt_tokens=40, seed=8).prompt_text(0) != first
    given_prompt = Workload(prompt="same for all")
    assert given_prompt.prompt_text(0) == given_prompt.prompt_text(5) == "same for all"
    assert given_prompt.messages(3) == [{"role": "user", "content": "same for all"}]


def test_options_send_a_seed_only_when_one_is_given() -> None:
    assert Workload(max_tokens=9).options() == {"max_tokens": 9}
    assert Workload(max_tokens=9, seed=3).options() == {"max_tokens": 9, "seed": 3}


@pytest.mark.parametrize("fields, words", [
    ({"concurrency": (0,)}, "concurrency"),
    ({"concurrency": ()}, "concurrency"),
    ({"requests": None}, "requests or duration"),
    ({"requests": 3, "duration": 1.0}, "requests or duration"),
    ({"requests": 0}, "at least 1"),
    ({"requests": None, "duration": math.inf * 0}, "duration"),
    ({"prompt": "  "}, "empty"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_workload_refuses_what_cannot_run(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Workload(**fields)  # type: ignore[arg-type]
