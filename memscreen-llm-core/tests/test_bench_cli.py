"""`memscreen-llm bench` through the plugin system, with in-process plugin backends (the
engine-backed runs are in the Ollama and vLLM suites), and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from plugin_dists import GOOD_PLUGIN, write_dist, write_echo

from memscreen_llm import testing as kit

# A backend with no optional capability: no streaming, no asyncio (bench runs it in threads).
PLAIN_BACKEND = '''
from memscreen_llm import LLMBase, ChatResult, HealthReport, Usage

class EchoLLM(LLMBase):
    capabilities = frozenset()

    def _chat(self, request):
        text = str(request.messages[-1]["content"])
        return ChatResult(content=text, finish_reason="stop", model="plain-1",
                          usage=Usage(prompt_tokens=len(text.split()), completion_tokens=2))

    def _health(self):
        return HealthReport(self.backend_name, [])
'''


def write_plain(site: Path, module: str) -> None:
    write_dist(site, "plugin-plain", "plain", module,
               GOOD_PLUGIN.format(name="plain", module=module),
               extra_files={f"{module}_backend.py": PLAIN_BACKEND,
                            f"{module}_assets/__init__.py": "",
                            f"{module}_assets/compose.yml": "services: {}\n"})


def _ordered(stats: dict[str, float | None]) -> bool:
    p50, p90, p99 = stats["p50"], stats["p90"], stats["p99"]
    return p50 is not None and p90 is not None and p99 is not None and p50 <= p90 <= p99


def test_two_backends_side_by_side_as_json(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_plain(site, f"{unique}_plain")
    done = run_cli(site, "bench", "-b", "echo", "-b", "plain", "--no-stream", "-c", "1,3",
                   "--requests", "5", "--prompt", "one two three", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["workload"]["concurrency"] == [1, 3] and data["interrupted"] is False
    rows = data["results"]
    assert [(r["backend"], r["concurrency"]) for r in rows] == [
        ("echo", 1), ("echo", 3), ("plain", 1), ("plain", 3)]
    for row in rows:
        assert (row["requests"], row["ok"], row["failed"], row["errors"]) == (5, 5, 0, {})
        assert row["complete"] is True and _ordered(row["e2el_ms"])
        assert row["ttft_ms"]["p50"] is None  # not streamed: no first token to time
    plain = rows[2]
    assert plain["model"] == "plain-1"  # the model that answered the probe
    assert (plain["input_tokens"], plain["output_tokens"]) == (15, 10)  # the backend's usage
    assert plain["output_tokens_from_engine"] is True
    progress = [line for line in done.stderr.splitlines() if "requests" in line or "/5" in line]
    assert len(progress) == 4 and progress[-1].startswith("plain c=3 ")


def test_streamed_run_prints_the_table(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    done = run_cli(site, "bench", "-b", "echo", "-c", "2", "-n", "4", "--prompt-tokens", "6",
                   "--seed", "3", "--warmup", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("workload: 4 requests per level, synthetic prompts of ~6 words, "
                        "max_tokens 64, streamed, 0 warm-ups, seed 3")
    header = next(line for line in lines if line.startswith("backend "))
    assert header.split()[:8] == ["backend", "conc", "ok", "fail", "in", "tok", "out", "tok"]
    row = next(line for line in lines if line.startswith("echo "))
    assert row.split()[1:4] == ["2", "4", "0"]
    assert "the engine reported no usage" in done.stdout  # echo reports none: deltas counted


def test_a_backend_that_cannot_stream_is_told_so(site: Path, unique: str) -> None:
    write_plain(site, f"{unique}_plain")
    done = run_cli(site, "bench", "-b", "plain")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: backend 'plain' cannot stream; run with --no-stream")


@pytest.mark.parametrize("args, message", [
    (["-c", "0"], "--concurrency takes a whole number of at least 1, got '0'"),
    (["-c", "1,x"], "--concurrency takes a whole number of at least 1, got 'x'"),
    (["-c", "2,2"], "--concurrency 2,2: a level is given twice"),
    (["-n", "2", "--duration", "1"], "give --requests or --duration, not both"),
    (["--duration", "0"], "--duration takes seconds above 0, got '0'"),
    (["--prompt", "x", "--prompt-tokens", "3"], "give --prompt or --prompt-tokens, not both"),
    (["--prompt", "@nonexistent.txt"], "--prompt @nonexistent.txt: cannot read it"),
    (["--max-tokens", "-1"], "--max-tokens takes a whole number of at least 1, got '-1'"),
    (["-b", "echo-alias"], "backend 'echo' is given twice"),
    (["--set", "other.model=x"], "--set other.model=...: 'other' is not a backend of this run"),
    (["--plot", "chart.svg"], "--plot chart.svg: the file must end in .png or .html"),
])
def test_bad_input_is_one_line_and_exit_2(site: Path, unique: str, args: list[str],
                                          message: str) -> None:
    write_echo(site, "echo", unique)
    done = run_cli(site, "bench", "-b", "echo", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {message}") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unknown_backend_lists_the_installed(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    done = run_cli(site, "bench", "-b", "echo", "-b", "nosuch")
    assert done.returncode == 2
    first, second = done.stderr.splitlines()[:2]
    assert first == "error: unknown backend 'nosuch'"
    assert second.startswith("installed backends: ") and "echo" in second.split(": ")[1]


def test_plot_and_otel_without_their_extras_name_the_extra(
        site: Path, unique: str, tmp_path: Path) -> None:
    write_echo(site, "echo", unique)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for module in ("matplotlib", "opentelemetry"):
        (blocked / f"{module}.py").write_text(f"raise ImportError('no {module} here')\n")
    plot = kit.run_cli("bench", "-b", "echo", "--plot", str(tmp_path / "out.png"),
                       pythonpath=[blocked, site], cwd=tmp_path)
    assert plot.returncode == 2
    assert plot.stderr == ("error: --plot needs matplotlib, which is not installed: "
                           "pip install 'memscreen-llm-core[bench]'\n")
    assert not (tmp_path / "out.png").exists()
    otel = kit.run_cli("bench", "-b", "echo", "--otel", pythonpath=[blocked, site], cwd=tmp_path)
    assert otel.returncode == 2
    assert "OpenTelemetry is not installed" in otel.stderr
    assert "pip install 'memscreen-llm-core[otel]'" in otel.stderr
    env = kit.run_cli("chat", "-b", "echo", "hi", env={"MEMSCREEN_LLM_OTEL": "1"},
                      pythonpath=[blocked, site], cwd=tmp_path)
    assert env.returncode == 2 and "MEMSCREEN_LLM_OTEL=1 needs OpenTelemetry" in env.stderr
