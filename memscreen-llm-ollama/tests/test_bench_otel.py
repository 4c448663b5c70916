"""`memscreen-llm bench` and `memscreen_llm.otel` against the real Ollama server."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memscreen_llm import BackendUnavailableError, ChatResult, create_llm, join_deltas, otel
from memscreen_llm.bench import Level, RequestRecord, Workload, run_bench
from memscreen_llm.testing import SEA_MESSAGES, free_port, run_cli, sigint_as_from_a_terminal
from memscreen_llm_ollama.testing import MODEL, OllamaServer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _env(server: OllamaServer) -> dict[str, str]:
    return {"MEMSCREEN_OLLAMA_URL": server.base_url, "MEMSCREEN_LLM_MODEL": MODEL}


def _ordered(stats: dict[str, Any]) -> bool:
    return 0 <= stats["p50"] <= stats["p90"] <= stats["p99"] and stats["p99"] > 0


def test_bench_streamed_sweep_as_json_and_png(server: OllamaServer, tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    done = run_cli("bench", "-b", "ollama", "-c", "1,4", "-n", "4", "--max-tokens", "8",
                   "--json", "--plot", str(png), env=_env(server))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [row["concurrency"] for row in data["results"]] == [1, 4]
    for row in data["results"]:
        assert (row["backend"], row["model"], row["server"]) == ("ollama", MODEL,
                                                                 server.base_url)
        assert (row["requests"], row["ok"], row["failed"], row["errors"]) == (4, 4, 0, {})
        assert row["output_tokens_from_engine"] is True  # Ollama's eval_count
        assert 4 <= row["output_tokens"] <= 4 * 8 and row["input_tokens"] > 4 * 20
        for key in ("ttft_ms", "itl_ms", "e2el_ms"):
            assert _ordered(row[key]), (key, row[key])
        assert 0 < row["ttft_ms"]["p50"] <= row["e2el_ms"]["p50"]
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000


def test_bench_with_the_server_down_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run_cli("bench", "-b", "ollama", "--plot", "x.html",
                   env={"MEMSCREEN_OLLAMA_URL": url, "MEMSCREEN_OLLAMA_MAX_RETRIES": "0"})
    assert done.returncode == 3
    assert done.stderr.startswith(f"error: backend 'ollama': cannot reach the server at {url}")
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not Path("x.html").exists()  # nothing measured, nothing drawn


def test_a_server_that_dies_mid_run_is_counted_as_failures(own_server: OllamaServer) -> None:
    llm = create_llm("ollama", base_url=own_server.base_url, model=MODEL, max_retries=0)

    def kill_after_two(level: Level, record: RequestRecord) -> None:
        if len(level.records) == 2:
            own_server.stop()

    run = run_bench([llm], Workload(concurrency=(1,), requests=6, max_tokens=4, warmup=1),
                    on_record=kill_after_two)
    llm.close()
    (row,) = run.to_json()["results"]
    assert (row["requests"], row["ok"], row["failed"]) == (6, 2, 4)
    assert row["errors"] == {"BackendUnavailableError": 4}
    assert "cannot reach the server" in row["error_examples"]["BackendUnavailableError"]
    assert row["e2el_ms"]["p50"] > 0  # the two that came back


def _lines(stream: Any) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            found.put(line)

    threading.Thread(target=read, daemon=True).start()
    return found


def test_ctrl_c_prints_the_partial_results(server: OllamaServer) -> None:
    command = [sys.executable, "-m", "memscreen_llm.cli", "bench", "-b", "ollama", "-c", "1,2",
               "--duration", "3", "--max-tokens", "4"]
    env = {**os.environ, **_env(server)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env,
                               preexec_fn=sigint_as_from_a_terminal)
    try:
        progress = _lines(process.stderr)
        first = progress.get(timeout=90)  # printed when the first level (3 s) is done
        assert first.startswith("ollama c=1 "), first
        process.send_signal(signal.SIGINT)  # during the second level
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130
    rows = [line.split() for line in out.splitlines() if line.startswith("ollama ")]
    assert rows and rows[0][1] == "1" and int(rows[0][2]) > 0  # the finished level, its ok
    assert "interrupted: these are the results measured until then" in out
    assert "Traceback" not in out


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
    otel.instrument(tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader]),
                    capture_content=False)
    try:
        yield spans, reader
    finally:
        otel.uninstrument()


def test_one_span_per_call_with_the_engines_token_counts(
        server: OllamaServer, traced: tuple[Any, Any]) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    spans, reader = traced
    llm = create_llm("ollama", base_url=server.base_url, model=MODEL, max_tokens=6,
                     temperature=0)
    results: dict[str, ChatResult] = {"chat": llm.chat(SEA_MESSAGES)}
    deltas = []
    for delta in llm.stream(SEA_MESSAGES, options={"num_predict": 5}):  # MemScreen's names
        deltas.append(delta)
        last_delta = time.time_ns()
    after = time.time_ns()
    results["stream"] = join_deltas(deltas)

    async def both() -> tuple[ChatResult, ChatResult]:
        chatted = await llm.achat(SEA_MESSAGES)
        return chatted, join_deltas([d async for d in llm.astream(SEA_MESSAGES)])

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
        assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"]) == ("chat", "ollama")
        assert (a["gen_ai.request.model"], a["gen_ai.response.model"]) == (MODEL, MODEL)
        assert (a["server.address"], a["server.port"]) == ("127.0.0.1", server.port)
        assert result.usage is not None and result.usage.completion_tokens
        assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
        assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
        assert a["gen_ai.response.finish_reasons"] == (result.finish_reason,)
        assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    assert [s.attributes["gen_ai.request.max_tokens"] for s in finished] == [6, 5, 6, 6]
    stream_span = finished[1]
    assert last_delta <= stream_span.end_time <= after  # ended with the last delta
    ttfc = stream_span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttfc * 1e9 < stream_span.end_time - stream_span.start_time
    data = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    points = {metric.name: list(metric.data.data_points) for metric in data}
    assert sum(p.count for p in points["gen_ai.client.operation.duration"]) == 4
    assert sum(p.count for p in points["gen_ai.client.token.usage"]) == 8
    assert sum(p.count for p in points["gen_ai.client.operation.time_to_first_chunk"]) == 2


def test_error_span_when_the_server_is_down(traced: tuple[Any, Any]) -> None:
    from opentelemetry.trace import StatusCode

    spans, _reader = traced
    llm = create_llm("ollama", base_url=f"http://127.0.0.1:{free_port()}", model=MODEL,
                     max_retries=0)
    with pytest.raises(BackendUnavailableError):
        list(llm.stream(SEA_MESSAGES))
    llm.close()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "BackendUnavailableError"
    assert span.attributes["memscreen_llm.call"] == "stream"
    assert "gen_ai.response.time_to_first_chunk" not in span.attributes
