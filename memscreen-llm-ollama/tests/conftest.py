"""A real Ollama server (Ollama 0.9.3 CPU build) with a tiny GGUF model built at test time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.ollama_engine import Engine, EngineUnavailable, OllamaServer, provision

MODEL = "tiny"


def _loud_skip(reason: str) -> None:
    message = f"REAL OLLAMA ENGINE UNAVAILABLE, real-server tests skipped: {reason}"
    print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return provision(log=lambda line: print(f"[ollama-engine] {line}", file=sys.stderr))
    except EngineUnavailable as exc:
        _loud_skip(str(exc))
        raise  # unreachable: skip raises


def _serve(engine: Engine) -> Iterator[OllamaServer]:
    server = OllamaServer(engine)
    server.start()
    try:
        server.create_model(MODEL)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[OllamaServer]:
    """One server for the session: tests that kill a server start their own."""
    yield from _serve(engine)


@pytest.fixture
def own_server(engine: Engine) -> Iterator[OllamaServer]:
    yield from _serve(engine)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith("MEMSCREEN_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)
