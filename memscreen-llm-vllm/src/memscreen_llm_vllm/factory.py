"""`create(config)`: the backend's factory; imports openai or vllm only for the mode asked."""

from __future__ import annotations

from memscreen_llm import BackendIdentity, LLMBase
from memscreen_llm.config import BaseLlmConfig
from memscreen_llm.errors import ConfigError

from .config import VllmConfig


def create(config: BaseLlmConfig, identity: BackendIdentity | None = None) -> LLMBase:
    """A server-mode or offline backend, as `config.mode` says."""
    if not isinstance(config, VllmConfig):
        raise ConfigError(
            f"the vllm backend needs a VllmConfig, got {type(config).__name__}",
            fix="create it with create_llm('vllm', ...)",
        )
    if config.mode == "offline":
        from .offline import VllmOfflineLLM

        return VllmOfflineLLM(config, identity)
    from .server import VllmServerLLM

    return VllmServerLLM(config, identity)
