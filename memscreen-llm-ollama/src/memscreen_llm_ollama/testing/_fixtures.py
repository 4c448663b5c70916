"""The pieces of a plugin's Ollama fixtures: an engine or a loud skip, a server to yield."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from memscreen_llm.testing import loud_skip

from .models import VISION_MODEL, create_vision_model
from .provisioning import Engine, EngineUnavailable, provision
from .server import OllamaServer

MODEL = "tiny"  # what serve() creates on the server (and VISION_MODEL)


def provision_or_skip(cache: Path | None = None) -> Engine:
    """`provision()`, or skip the test loudly, saying why Ollama cannot run here."""
    try:
        return provision(cache, log=lambda line: print(line, file=sys.stderr))
    except EngineUnavailable as exc:
        loud_skip(f"REAL OLLAMA ENGINE UNAVAILABLE, real-server tests skipped: {exc.reason}")


def serve(
    engine: Engine, model: str = MODEL, vision_model: str | None = VISION_MODEL
) -> Iterator[OllamaServer]:
    """Start a server, create the tiny model as `model` and the tiny vision model as
    `vision_model` (unless None; ~20 ms), yield it, stop it.

    For fixtures: `yield from serve(engine)`.
    """
    server = OllamaServer(engine)
    server.start()
    try:
        server.create_model(model)
        if vision_model is not None:
            create_vision_model(server, vision_model,
                                log=lambda line: print(line, file=sys.stderr))
        yield server
    finally:
        server.stop()


def serve_real_chat_model(engine: Engine) -> Iterator[OllamaServer]:
    """A server with the real chat model (SmolLM2, `create_real_chat_model`), or a loud
    skip when it cannot be had; stopped afterwards. For fixtures: `yield from ...`."""
    from .models import create_real_chat_model

    server = OllamaServer(engine)
    server.start()
    try:
        try:
            create_real_chat_model(server, log=lambda line: print(line, file=sys.stderr))
        except EngineUnavailable as exc:
            loud_skip(f"REAL MODEL UNAVAILABLE (SmolLM2 from PyPI), tests skipped: {exc.reason}")
        yield server
    finally:
        server.stop()
