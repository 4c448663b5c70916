"""`memscreen-llm bench` and `memscreen_llm.otel` against the real vLLM server (the
session's shared one: no server of their own)."""

from __future__ import annotations

import asyncio
import html
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MESSAGES, MODEL

from memscreen_llm import BackendUnavailableError, ChatResult, create_llm, join_deltas, otel
from memscreen_llm.bench import Workload, run_bench
from memscreen_llm.testing import free_port, run_cli
from memscreen_llm_vllm.testing import VllmServer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ordered(stats: dict[str, Any]) -> bool:
    return 0 < stats["p50"] <= stats["p90"] <= stats["p99"]


def test_bench_streamed_sweep_as_json_and_png(server: VllmServer, tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    done = run_cli("bench", "-b", "vllm", "-c", "1,4", "-n", "4", "--max-tokens", "8",
                   "--set", "temperature=0", "--json", "--plot", str(png),
                   env={"MEMSCREEN_VLLM_URL": server.base_url})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["workload"]["stream"] is True and data["interrupted"] is False
    assert [row["concurrency"] for row in data["results"]] == [1, 4]
    for row in data["results"]:
        assert (row["backend"], row["model"], row["server"]) == ("vllm", MODEL, server.base_url)
        assert (row["requests"], row["ok"], row["failed"], row["complete"]) == (4, 4, 0, True)
        assert row["output_tokens_from_engine"] is True  # vLLM's usage chunk
        assert 4 <= row["output_tokens"] <= 4 * 8 and row["input_tokens"] > 4 * 20
        for key in ("ttft_ms", "itl_ms", "e2el_ms"):
            assert _ordered(row[key]), (key, row[key])
        assert row["ttft_ms"]["p50"] <= row["e2el_ms"]["p50"]
        assert row["request_throughput"] > 0 and row["output_throughput"] > 0
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    assert f"plot written to {png}" in done.stderr


def test_bench_unstreamed_as_html_with_otel(server: VllmServer, tmp_path: Path) -> None:
    page = tmp_path / "chart.html"
    done = run_cli("bench", "-b", "vllm", "-n", "3", "--max-tokens", "4", "--no-stream",
                   "--otel", "--plot", str(page), env={"MEMSCREEN_VLLM_URL": server.base_url})
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("vllm "))
    assert row.split()[1:4] == ["1", "3", "0"]
    assert "not streamed, so no TTFT or ITL" in done.stdout
    assert "no OpenTelemetry SDK is configured" in done.stderr  # --otel with no SDK set up
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "</html>" in text
    assert "vllm: model 'tiny' at" in html.unescape(text) and "<script" not in text


def test_bench_with_the_server_down_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = run_cli("bench", "-b", "vllm", env={"MEMSCREEN_VLLM_URL": url,
                                                "MEMSCREEN_VLLM_MAX_RETRIES": "0"})
    assert done.returncode == 3
    assert done.stderr.startswith(f"error: backend 'vllm': cannot reach the server at {url}")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_failed_requests_are_counted_by_type(server: VllmServer) -> None:
    good = create_llm("vllm", base_url=server.base_url, model=MODEL)
    dead = create_llm("vllm", base_url=f"http://127.0.0.1:{free_port()}/v1", model=MODEL,
                      max_retries=0)
    run = run_bench([good, dead], Workload(concurrency=(1, 4), requests=4, max_tokens=4,
                                           warmup=0), probe=False)
    rows = run.to_json()["results"]
    assert [(r["backend"], r["concurrency"], r["ok"], r["failed"]) for r in rows] == [
        ("vllm", 1, 4, 0), ("vllm", 4, 4, 0), ("vllm", 1, 0, 4), ("vllm", 4, 0, 4)]
    assert rows[2]["errors"] == {"BackendUnavailableError": 4}
    assert "cannot reach the server at" in rows[2]["error_examples"]["BackendUnavailableError"]
    assert rows[3]["e2el_ms"]["p50"] is None  # no request came back: no latency
    good.close()
    dead.close()


# --- OpenTelemetry, with the SDK's in-memory exporter ---


@pytest.fixture
def traced() -> Iterator[tuple[Any, Any]]:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    otel.instrument(tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader]))
    try:
        yield spans, reader
    finally:
        otel.uninstrument()


def _metrics(reader: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = list(metric.data.data_points)
    return found


def test_one_span_per_call_with_the_engines_token_counts(
        server: VllmServer, traced: tuple[Any, Any]) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    spans, reader = traced
    llm = create_llm("vllm", base_url=server.base_url, model=MODEL, max_tokens=6,
                     temperature=0)
    results: dict[str, ChatResult] = {"chat": llm.chat(MESSAGES)}
    last_delta = 0
    deltas = []
    for delta in llm.stream(MESSAGES, seed=11):
        deltas.append(delta)
        last_delta = time.time_ns()
    after = time.time_ns()
    results["stream"] = join_deltas(deltas)

    async def both() -> tuple[ChatResult, ChatResult]:
        chatted = await llm.achat(MESSAGES)
        return chatted, join_deltas([d async for d in llm.astream(MESSAGES)])

    results["achat"], results["astream"] = asyncio.run(both())
    llm.close()
    finished = spans.get_finished_spans()
    assert [s.attributes["memscreen_llm.call"] for s in finished] == [
        "chat", "stream", "achat", "astream"]
    for span in finished:
        a = span.attributes
        result = results[a["memscreen_llm.call"]]
        assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"]) == ("chat", "vllm")
        assert (a["gen_ai.request.model"], a["gen_ai.response.model"]) == (MODEL, MODEL)
        assert (a["gen_ai.request.max_tokens"], a["gen_ai.request.temperature"]) == (6, 0.0)
        assert (a["server.address"], a["server.port"]) == ("127.0.0.1", server.port)
        assert result.usage is not None and result.usage.completion_tokens
        assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
        assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
        assert a["gen_ai.response.finish_reasons"] == (result.finish_reason,)
        assert not [key for key in a if key.startswith("gen_ai.input")
                    or key.startswith("gen_ai.output.messages")]
        streamed = a["memscreen_llm.call"] in ("stream", "astream")
        assert ("gen_ai.response.time_to_first_chunk" in a) is streamed
    stream_span = finished[1]
    assert stream_span.attributes["gen_ai.request.seed"] == 11
    ttfc = stream_span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttfc * 1e9 < stream_span.end_time - stream_span.start_time
    assert last_delta <= stream_span.end_time <= after  # ended with the last delta
    metrics = _metrics(reader)
    (duration,) = metrics["gen_ai.client.operation.duration"]  # one attribute set: one point
    assert duration.count == 4 and duration.attributes["gen_ai.provider.name"] == "vllm"
    tokens = {p.attributes["gen_ai.token.type"]: p for p in metrics["gen_ai.client.token.usage"]}
    assert tokens["output"].sum == sum(r.usage.completion_tokens for r in results.values()
                                       if r.usage and r.usage.completion_tokens)
    assert tokens["input"].count == 4
    assert [p.count for p in metrics["gen_ai.client.operation.time_to_first_chunk"]] == [2]


def test_error_spans_when_the_server_is_down(traced: tuple[Any, Any]) -> None:
    from opentelemetry.trace import StatusCode

    spans, reader = traced
    llm = create_llm("vllm", base_url=f"http://127.0.0.1:{free_port()}/v1", model=MODEL,
                     max_retries=0)
    with pytest.raises(BackendUnavailableError):
        llm.chat(MESSAGES)

    async def astream() -> None:
        async for _delta in llm.astream(MESSAGES):
            pass

    with pytest.raises(BackendUnavailableError):
        asyncio.run(astream())
    llm.close()
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    for span in finished:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "BackendUnavailableError"
        assert span.status.description.startswith("cannot reach the server at")
        assert "gen_ai.usage.output_tokens" not in span.attributes
    (point,) = _metrics(reader)["gen_ai.client.operation.duration"]
    assert point.count == 2 and point.attributes["error.type"] == "BackendUnavailableError"


def test_content_is_recorded_only_when_enabled(
        server: VllmServer, traced: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    spans, _reader = traced
    llm = create_llm("vllm", base_url=server.base_url, model=MODEL, max_tokens=4)
    llm.chat(MESSAGES)  # instrumented without capture by the fixture
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    otel.instrument(tracer_provider=provider)  # capture_content=None: read from the env
    result = llm.chat(MESSAGES)
    llm.close()
    plain, captured = spans.get_finished_spans()
    assert "gen_ai.input.messages" not in plain.attributes
    assert "gen_ai.output.messages" not in plain.attributes
    sent = json.loads(captured.attributes["gen_ai.input.messages"])
    assert sent[-1] == {"role": "user", "parts": [{"type": "text",
                                                   "content": MESSAGES[-1]["content"]}]}
    answered = json.loads(captured.attributes["gen_ai.output.messages"])
    assert answered[0]["parts"][-1] == {"type": "text", "content": result.content}


def test_the_env_switch_and_its_absence(server: VllmServer) -> None:
    probe = ("import sys\nfrom memscreen_llm import create_llm, otel\n"
             f"llm = create_llm('vllm', base_url={server.base_url!r}, model={MODEL!r}, "
             "max_tokens=2)\nllm.chat([{'role': 'user', 'content': 'hi'}])\n"
             "print(otel.is_instrumented(), 'opentelemetry' in sys.modules)\n")
    on = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                        env={"MEMSCREEN_LLM_OTEL": "1", "PATH": ""}, timeout=60)
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={"PATH": ""}, timeout=60)
    assert (on.stdout, off.stdout) == ("True True\n", "False False\n"), on.stderr + off.stderr
