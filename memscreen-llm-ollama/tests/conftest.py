"""A real Ollama server (Ollama 0.9.3 CPU build) with a tiny GGUF model built at test time.

The engine is the plugin's own test kit, `memscreen_llm_ollama.testing`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm.testing import loud_skip
from memscreen_llm_ollama.testing import (
    Engine,
    EngineUnavailable,
    OllamaServer,
    ensure_vision_model,
    provision_or_skip,
    serve,
)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return provision_or_skip()


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[OllamaServer]:
    """One server for the session: tests that kill a server start their own."""
    yield from serve(engine)


@pytest.fixture(scope="session")
def vision_model(server: OllamaServer) -> str:
    """VISION_MODEL ("tiny-vision": the tiny model + a tiny CLIP projector) on the
    session's server, or a loud skip; returns its name."""
    try:
        return ensure_vision_model(server, log=lambda line: print(line, file=sys.stderr))
    except EngineUnavailable as exc:
        loud_skip(f"TINY VISION MODEL UNAVAILABLE, vision tests skipped: {exc.reason}")


@pytest.fixture
def own_server(engine: Engine) -> Iterator[OllamaServer]:
    yield from serve(engine)


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd (the kit's fixture)."""
