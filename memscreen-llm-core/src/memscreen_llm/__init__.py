"""memscreen-llm: MemScreen's LLM layer as plugins for local and self-hosted engines.

Names are imported on first use (PEP 562), so `import memscreen_llm` and the CLI stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import API_VERSION, __version__

_WHERE = {
    "discover": "_discovery", "get_registry": "_discovery",
    "LLMBase": "base",
    "BaseLlmConfig": "config", "setting": "config",
    "LlmFactory": "factory", "available_backends": "factory", "create_llm": "factory",
    "hookimpl": "hookspecs",
    "BackendSpec": "specs", "ParserSpec": "specs",
    **dict.fromkeys(
        ("Capability", "ChatDelta", "ChatRequest", "ChatResult", "HealthCheck", "HealthReport",
         "ToolCall", "Usage", "join_deltas"), "types"),
    **dict.fromkeys(
        ("BackendError", "BackendUnavailableError", "CapabilityError", "ConfigError",
         "ContextLengthError", "MemscreenLLMError", "ModelNotFoundError", "PluginLoadError",
         "ResponseParseError", "StreamInterruptedError", "UnknownBackendError", "UsageError"),
        "errors"),
}

__all__ = [
    "API_VERSION",
    "BackendError",
    "BackendSpec",
    "BackendUnavailableError",
    "BaseLlmConfig",
    "Capability",
    "CapabilityError",
    "ChatDelta",
    "ChatRequest",
    "ChatResult",
    "ConfigError",
    "ContextLengthError",
    "HealthCheck",
    "HealthReport",
    "LLMBase",
    "LlmFactory",
    "MemscreenLLMError",
    "ModelNotFoundError",
    "ParserSpec",
    "PluginLoadError",
    "ResponseParseError",
    "StreamInterruptedError",
    "ToolCall",
    "UnknownBackendError",
    "Usage",
    "UsageError",
    "__version__",
    "available_backends",
    "create_llm",
    "discover",
    "get_registry",
    "hookimpl",
    "join_deltas",
    "setting",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'memscreen_llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from ._discovery import discover, get_registry
    from .base import LLMBase
    from .config import BaseLlmConfig, setting
    from .errors import (
        BackendError,
        BackendUnavailableError,
        CapabilityError,
        ConfigError,
        ContextLengthError,
        MemscreenLLMError,
        ModelNotFoundError,
        PluginLoadError,
        ResponseParseError,
        StreamInterruptedError,
        UnknownBackendError,
        UsageError,
    )
    from .factory import LlmFactory, available_backends, create_llm
    from .hookspecs import hookimpl
    from .specs import BackendSpec, ParserSpec
    from .types import (
        Capability,
        ChatDelta,
        ChatRequest,
        ChatResult,
        HealthCheck,
        HealthReport,
        ToolCall,
        Usage,
        join_deltas,
    )
