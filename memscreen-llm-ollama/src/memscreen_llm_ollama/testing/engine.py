"""Provision and run a real Ollama server with a tiny model (or a real one), on a CPU-only machine.

Stdlib and core's contract kit only (``memscreen-llm-ollama[testing]``), so
test fixtures, benchmarks and demo scripts can use it without installing an
engine first. The pieces:

* ``provisioning``: ``provision()`` installs Ollama 0.9.3 (PyPI's bigdl-core-cpp CPU
  build, with a gcc-built ``libggml-sycl.so`` stand-in) and builds the tiny GGUF, cached;
* ``server``: ``OllamaServer`` runs ``ollama-lib serve`` on a free loopback port with a
  private models folder and HOME, and creates models through the HTTP API (no ``pull``);
* ``models``: SmolLM2-135M-Instruct from PyPI, for real answers.

This module keeps the command line and the names it always exported::

    python -m memscreen_llm_ollama.testing.engine provision [--cache DIR] [--python PY]
    python -m memscreen_llm_ollama.testing.engine serve [--port N] [--model NAME] [--cache DIR]
    python -m memscreen_llm_ollama.testing.engine serve --real   # SmolLM2 as "smollm2"

``serve`` prints ``READY http://127.0.0.1:PORT NAME`` on stdout once the model
exists, then runs until SIGTERM/SIGINT and stops the server and its runners.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .models import REAL_CHAT_NAME, create_real_chat_model
from .provisioning import (
    ENGINE_PINS,
    GGUF_BUILDER,
    GGUF_NAME,
    GGUF_PINS,
    LOG_PREFIX,
    OLLAMA_VERSION,
    SCRIPT_VERSION,
    STUB_SOURCE,
    Engine,
    EngineUnavailable,
    Log,
    default_cache_dir,
    provision,
)
from .server import PARAMETERS, TEMPLATE, OllamaServer, modelfile

__all__ = [
    "ENGINE_PINS",
    "GGUF_BUILDER",
    "GGUF_NAME",
    "GGUF_PINS",
    "LOG_PREFIX",
    "OLLAMA_VERSION",
    "PARAMETERS",
    "SCRIPT_VERSION",
    "STUB_SOURCE",
    "TEMPLATE",
    "Engine",
    "EngineUnavailable",
    "Log",
    "OllamaServer",
    "default_cache_dir",
    "main",
    "modelfile",
    "provision",
]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_provision(args: argparse.Namespace) -> int:
    engine = provision(args.cache, log=print, python=args.python)
    print(f"binary  {engine.binary}")
    print(f"gguf    {engine.gguf}")
    print(f"version {engine.version}")
    print(f"env     {' '.join(f'{k}={v}' for k, v in engine.env.items())}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    # Progress on stderr: stdout carries only the READY line for the caller.
    engine = provision(args.cache, log=_stderr, python=args.python)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = OllamaServer(engine, port=args.port, die_with_parent=True)
    try:
        server.start()
        if args.real:
            model = create_real_chat_model(server, args.model or REAL_CHAT_NAME, log=_stderr)
        else:
            model = server.create_model(args.model or "tiny")
        print(f"READY {server.base_url} {model}", flush=True)
        while not stop.wait(0.5):
            if not server.running:
                _stderr(f"ollama-lib serve exited unexpectedly:\n{server.log_tail()}")
                return 1
        return 0
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Real Ollama engine for memscreen-llm tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("provision", "serve"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--cache", type=Path, default=None, help="engine cache folder")
        cmd.add_argument("--python", default=None, help="interpreter for the engine venv")
        if name == "serve":
            cmd.add_argument("--port", type=int, default=None, help="default: a free port")
            cmd.add_argument("--model", default=None, help="name of the model to create")
            cmd.add_argument("--real", action="store_true",
                             help="SmolLM2-135M-Instruct instead of the tiny random model")
    args = parser.parse_args(argv)
    try:
        return _cmd_provision(args) if args.command == "provision" else _cmd_serve(args)
    except EngineUnavailable as exc:
        _stderr(f"{LOG_PREFIX} engine unavailable: {exc.reason}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
