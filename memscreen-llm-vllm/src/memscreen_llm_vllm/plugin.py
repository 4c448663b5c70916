"""Entry point of the `vllm` backend: cheap to import (no openai, no vllm, no attrs)."""

from __future__ import annotations

from collections.abc import Callable

from memscreen_llm import BackendSpec, hookimpl


@hookimpl
def supported_api() -> str:
    return ">=1.0,<2"


@hookimpl
def register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        name="vllm",
        config_class="memscreen_llm_vllm.config:VllmConfig",
        factory="memscreen_llm_vllm.factory:create",
        description="vLLM: an OpenAI-compatible vLLM server, or vllm.LLM in-process (offline)",
        compose_files={
            "default": "memscreen_llm_vllm:compose/docker-compose.vllm.yml",
            "cpu": "memscreen_llm_vllm:compose/docker-compose.vllm.cpu.yml",
            # replicas (one GPU each) behind vllm-router: docs/SCALING.md
            "router": "memscreen_llm_vllm:compose/docker-compose.vllm.router.yml",
            # a vision-language model (screenshots): docs/VISION.md
            "vision": "memscreen_llm_vllm:compose/docker-compose.vllm.vision.yml",
        },
    ))
