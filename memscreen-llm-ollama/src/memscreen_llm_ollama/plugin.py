"""Entry point of the `ollama` backend: cheap to import (no ollama SDK, no attrs)."""

from __future__ import annotations

from collections.abc import Callable

from memscreen_llm import BackendSpec, hookimpl


@hookimpl
def supported_api() -> str:
    return ">=1.0,<2"


@hookimpl
def register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        name="ollama",
        config_class="memscreen_llm_ollama.config:OllamaConfig",
        factory="memscreen_llm_ollama.backend:OllamaLLM",
        description="Ollama server via the official ollama client",
        compose_files={
            "default": "memscreen_llm_ollama:compose/docker-compose.ollama.yml",
            "gpu": "memscreen_llm_ollama:compose/docker-compose.ollama.gpu.yml",
        },
    ))
