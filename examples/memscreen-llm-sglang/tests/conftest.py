"""Test fixtures: a REAL vLLM CPU server standing in for SGLang.

SGLang cannot run on the machines these tests run on (it needs a GPU). vLLM speaks the
same OpenAI-compatible API, so the tests run core's contract kit against a real vLLM
server on the CPU with a tiny random-weight model. Two stand-ins make it behave like an
SGLang server started without `--reasoning-parser` / `--tool-call-parser`: vLLM's own
parsers are off (raw text comes back), and a pass-through tool-call parser makes it
accept `tool_choice="auto"` as SGLang does (see vllm_passthrough_tool_parser.py).
SGLang's own answer fields (`reasoning_content`, streamed tool-call fragments) are
covered in test_wire.py by a loopback server that answers in SGLang's shapes.

The vLLM engine is the monorepo's (memscreen-llm-vllm/tests/engine/vllm_engine.py,
loaded by path): a third party copying this example brings its own engine fixture.
One server is shared by the whole session (it takes ~30 s and ~3 GB) and always stopped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from kit_parsers import write_kit_parsers

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]  # examples/memscreen-llm-sglang/tests -> the monorepo root
ENGINE_FILE = REPO / "memscreen-llm-vllm" / "tests" / "engine" / "vllm_engine.py"
PASSTHROUGH = HERE / "vllm_passthrough_tool_parser.py"
SERVER_ARGS = ("--enable-auto-tool-choice", "--tool-call-parser", "passthrough",
               "--tool-parser-plugin", str(PASSTHROUGH))
MODEL = "tiny"


def load_engine_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sglang_tests_vllm_engine", ENGINE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def _loud_skip(reason: str) -> None:
    message = f"REAL vLLM ENGINE UNAVAILABLE, real-server tests skipped: {reason}"
    print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine_module() -> ModuleType:
    if not ENGINE_FILE.is_file():
        _loud_skip(f"{ENGINE_FILE} not found (these tests run inside the memscreen-llm repo)")
    return load_engine_module()


@pytest.fixture(scope="session")
def engine(engine_module: ModuleType) -> Any:
    try:
        return engine_module.provision(log=lambda line: print(line, file=sys.stderr))
    except engine_module.EngineUnavailable as exc:
        _loud_skip(exc.reason)


@pytest.fixture(scope="session")
def server(engine: Any, engine_module: ModuleType,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The one vLLM server of the session (vLLM's own parsers off, tool_choice accepted)."""
    server = engine_module.VllmServer(engine, extra_args=SERVER_ARGS, served_model_name=MODEL,
                                      log_path=tmp_path_factory.mktemp("vllm") / "server.log")
    server.start()
    print(f"[sglang-tests] vLLM stand-in at {server.base_url}, up in "
          f"{server.startup_seconds:.0f} s", file=sys.stderr)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def parser_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `kit-think` / `kit-calls` parser plugin, installed on sys.path for the session."""
    site = write_kit_parsers(tmp_path_factory.mktemp("parser-site"))
    sys.path.insert(0, str(site))  # core's registry is keyed by sys.path: it rediscovers
    return site


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith("MEMSCREEN_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)  # no stray ./memscreen-llm.toml


def run_cli(*args: str, env: dict[str, str] | None = None,
            pythonpath: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `memscreen-llm` entry point in a new interpreter."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    if pythonpath:
        full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)
