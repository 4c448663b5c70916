"""The entry point (`memscreen.llm_backends` -> `sglang`): the hooks core calls at discovery.

Keep this module cheap to import: the config and backend classes are lazy
"module:attr" targets, so discovery imports neither attrs nor the engine's client library.
"""

from __future__ import annotations

from collections.abc import Callable

from memscreen_llm import BackendSpec, hookimpl


@hookimpl
def supported_api() -> str:
    """The core plugin-API versions this plugin was written and tested against."""
    return ">=1.1,<2"


@hookimpl
def register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        name="sglang",
        config_class="memscreen_llm_sglang.config:SglangConfig",
        factory="memscreen_llm_sglang.backend:SglangLLM",  # imported only on create_llm()
        description="SGLang server via its OpenAI-compatible API (example third-party plugin)",
        compose_files={"default": "memscreen_llm_sglang:compose/docker-compose.sglang.yml"},
    ))
