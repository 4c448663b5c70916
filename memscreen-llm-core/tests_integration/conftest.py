"""Tests across backends: a fallback chain vLLM -> Ollama on both real engines.

They need both plugins in one venv, which no distribution's own test venv holds (each
holds only itself and what it depends on), so nox runs them in a session of their own
(`nox -s integration`). One real vLLM CPU engine and one real Ollama CPU engine, both
with the tiny models, shared by the session and stopped by PID at its end.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm_ollama import testing as ollama_kit
from memscreen_llm_vllm import testing as vllm_kit

MESSAGES = [{"role": "user", "content": "Say something about the sea."}]


@pytest.fixture(scope="session")
def vllm() -> Iterator[vllm_kit.VllmServer]:
    # Room for a long stream: a stream frozen mid-way must not have been all sent already.
    yield from vllm_kit.serve(vllm_kit.provision_or_skip(), "--max-model-len", "4096")


@pytest.fixture(scope="session")
def ollama() -> Iterator[ollama_kit.OllamaServer]:
    yield from ollama_kit.serve(ollama_kit.provision_or_skip())


@pytest.fixture
def freezer(vllm: vllm_kit.VllmServer) -> Iterator[list[bool]]:
    """`freeze(vllm)` / `thaw(vllm)` in a test; thawed afterwards whatever it did."""
    yield []
    thaw(vllm)


def freeze(server: vllm_kit.VllmServer) -> None:
    """SIGSTOP the server's process group: connections are accepted (by the kernel),
    nothing answers, as with a stuck engine."""
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGSTOP)


def thaw(server: vllm_kit.VllmServer) -> None:
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGCONT)


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd (core kit's fixture)."""


@pytest.fixture(scope="session")
def vlm() -> Iterator[vllm_kit.VllmServer]:
    """vLLM serving the tiny vision-language model (started by the first test using it)."""
    engine = vllm_kit.provision_or_skip()
    yield from vllm_kit.serve_vlm(engine, vllm_kit.provision_vlm_or_skip(engine))
