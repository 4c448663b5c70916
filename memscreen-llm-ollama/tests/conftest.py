"""A real Ollama server (Ollama 0.9.3 CPU build) with a tiny GGUF model built at test time.

The engine is the plugin's own test kit, `memscreen_llm_ollama.testing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm_ollama.testing import Engine, OllamaServer, provision_or_skip, serve


@pytest.fixture(scope="session")
def engine() -> Engine:
    return provision_or_skip()


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[OllamaServer]:
    """One server for the session: tests that kill a server start their own."""
    yield from serve(engine)


@pytest.fixture
def own_server(engine: Engine) -> Iterator[OllamaServer]:
    yield from serve(engine)


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd (the kit's fixture)."""
