"""The pieces of a plugin's vLLM fixtures: an engine or a loud skip, a server to yield."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from memscreen_llm.testing import loud_skip

from .provisioning import Engine, EngineUnavailable, provision, tiny_vlm
from .server import TINY_VLM_NAME, VLM_SERVER_ARGS, VllmServer


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def provision_or_skip(cache_dir: Path | None = None) -> Engine:
    """`provision()`, or skip the test loudly, saying why vLLM cannot run here."""
    try:
        return provision(cache_dir, log=_log)
    except EngineUnavailable as exc:
        loud_skip(f"REAL vLLM ENGINE UNAVAILABLE, real-server tests skipped: {exc.reason}")


def model_or_skip(build: Callable[..., Path], engine: Engine, what: str) -> Path:
    """A real model's folder (`real_chat_model`, `real_embed_model`), or a loud skip."""
    try:
        return build(engine, log=_log)
    except EngineUnavailable as exc:
        loud_skip(f"REAL MODEL UNAVAILABLE ({what} from PyPI), tests skipped: {exc.reason}")


def provision_vlm_or_skip(engine: Engine) -> Path:
    """`tiny_vlm(engine)`: the tiny vision-language model's folder, or a loud skip."""
    try:
        return tiny_vlm(engine, log=_log)
    except EngineUnavailable as exc:
        loud_skip(f"TINY VLM UNAVAILABLE, vision tests skipped: {exc.reason}")


def serve_vlm(engine: Engine, vlm_dir: Path, *extra: str, **kwargs: object) -> Iterator[VllmServer]:
    """`serve()` for the tiny VLM: VLM_SERVER_ARGS (2 images a prompt), named TINY_VLM_NAME."""
    kwargs.setdefault("served_model_name", TINY_VLM_NAME)
    yield from serve(engine, *VLM_SERVER_ARGS, *extra, model_dir=vlm_dir, **kwargs)


def serve(engine: Engine, *extra: str, **kwargs: object) -> Iterator[VllmServer]:
    """Start a server with extra flags, yield it, stop it (also if a test killed it).

    For fixtures: `yield from serve(engine, "--max-model-len", "4096")`; keyword
    arguments go to VllmServer (api_key=, served_model_name=, log_path=, ...).
    """
    server = VllmServer(engine, extra_args=extra, **kwargs)  # type: ignore[arg-type]
    server.start()
    _log(f"[vllm-engine] server {server.base_url} {' '.join(extra)} up in "
         f"{server.startup_seconds or 0:.0f} s")
    try:
        yield server
    finally:
        server.stop()
