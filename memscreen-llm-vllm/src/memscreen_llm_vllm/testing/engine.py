"""Provision and run a real vLLM (CPU) engine with a tiny random-weight model (or a real one).

Stdlib and core's contract kit only (`memscreen-llm-vllm[testing]`), so pytest
fixtures and benchmarks of any package can import it without pulling vLLM into
their own environment. vLLM lives in a venv of its own (its pins clash with
other packages) and is always run as a subprocess.

    engine = provision()                 # cached; raises EngineUnavailable
    with VllmServer(engine) as server:   # waits for /health
        server.base_url                  # http://127.0.0.1:PORT/v1

The pieces: `provisioning` (the venv, the tiny model), `server` (VllmServer),
`models` (SmolLM2-135M-Instruct and all-MiniLM-L6-v2 from PyPI). This module keeps the
command line and the names it always exported.

CLI:
    python -m memscreen_llm_vllm.testing.engine provision
    python -m memscreen_llm_vllm.testing.engine serve [--port N] [--extra "--reasoning-parser ..."]
    python -m memscreen_llm_vllm.testing.engine serve --real chat|embed
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .models import (
    REAL_CHAT_NAME,
    REAL_EMBED_ARGS,
    REAL_EMBED_NAME,
    real_chat_model,
    real_embed_model,
)
from .provisioning import (
    BUILD_SCRIPT,
    MARKER_TOKENS,
    OK_FILE,
    SCRIPT_VERSION,
    UNINSTALL,
    VLLM_PIN,
    Engine,
    EngineUnavailable,
    Log,
    base_python,
    default_cache_dir,
    engine_env,
    engine_key,
    model_key,
    provision,
    regex_for_text,
)
from .server import (
    DEFAULT_SERVER_ARGS,
    EMBED_SERVER_ARGS,
    STEP35_SERVER_ARGS,
    ServerStartError,
    VllmServer,
)

__all__ = [
    "BUILD_SCRIPT",
    "DEFAULT_SERVER_ARGS",
    "EMBED_SERVER_ARGS",
    "MARKER_TOKENS",
    "OK_FILE",
    "SCRIPT_VERSION",
    "STEP35_SERVER_ARGS",
    "UNINSTALL",
    "VLLM_PIN",
    "Engine",
    "EngineUnavailable",
    "Log",
    "ServerStartError",
    "VllmServer",
    "base_python",
    "default_cache_dir",
    "engine_env",
    "engine_key",
    "main",
    "model_key",
    "provision",
    "regex_for_text",
]

def _cmd_provision(args: argparse.Namespace) -> int:
    try:
        engine = provision(args.cache_dir)
    except EngineUnavailable as exc:
        print(f"UNAVAILABLE {exc.reason}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "python": str(engine.python),
                "model_dir": str(engine.model_dir),
                "vllm_version": engine.vllm_version,
                "env": engine.env,
            },
            indent=2,
        )
    )
    return 0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        engine = provision(args.cache_dir, log=_stderr)
    except EngineUnavailable as exc:
        print(f"UNAVAILABLE {exc.reason}", file=sys.stderr)
        return 1
    extra = shlex.split(args.extra) if args.extra else []
    if args.step35:
        extra = [*STEP35_SERVER_ARGS, *extra]
    model_dir = None
    name = args.name
    try:
        if args.real == "chat":
            model_dir, name = real_chat_model(engine, log=_stderr), REAL_CHAT_NAME
        elif args.real == "embed":
            model_dir, name = real_embed_model(engine, log=_stderr), REAL_EMBED_NAME
            extra = [*REAL_EMBED_ARGS, *extra]
    except EngineUnavailable as exc:
        print(f"UNAVAILABLE {exc.reason}", file=sys.stderr)
        return 1
    server = VllmServer(
        engine, port=args.port, extra_args=extra, served_model_name=name, model_dir=model_dir
    )
    # SIGTERM behaves like Ctrl-C, also while the server is still starting.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.start()
        print(f"READY {server.base_url} {server.model}", flush=True)
        print(f"[vllm-engine] pid {server.pid}, log {server.log_path}", file=sys.stderr)
        while server.is_running():
            time.sleep(0.5)
        print(f"[vllm-engine] server died:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut cleanup
            signal.signal(sig, signal.SIG_IGN)
        return 0
    except ServerStartError as exc:
        print(f"FAILED {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("provision", help="install vLLM and build the tiny model (cached)")
    serve = sub.add_parser("serve", help="run a server until SIGTERM/SIGINT")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--name", default="tiny", help="served model name")
    serve.add_argument("--extra", default="", help="extra server args, shell-quoted")
    serve.add_argument("--step35", action="store_true", help="add the step3p5 parser flags")
    serve.add_argument("--real", choices=("chat", "embed"), default=None,
                       help="serve SmolLM2-135M-Instruct (chat) or all-MiniLM-L6-v2 (embed)")
    args = parser.parse_args(argv)
    return _cmd_provision(args) if args.cmd == "provision" else _cmd_serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
