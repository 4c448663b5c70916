"""memscreen-llm: MemScreen's LLM layer as plugins for local and self-hosted engines.

Names are imported on first use (PEP 562), so `import memscreen_llm` and the CLI stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import API_VERSION, __version__

_WHERE = {
    "discover": "_discovery", "get_registry": "_discovery",
    "LLMBase": "base",
    "ImagePart": "images",
    "BaseLlmConfig": "config", "setting": "config",
    "available_backends": "factory", "create_llm": "factory",
    "EmbedderFactory": "compat.memscreen", "LlmFactory": "compat.memscreen",
    "hookimpl": "hookspecs",
    "BackendIdentity": "specs", "BackendSpec": "specs", "ParserSpec": "specs", "env_name": "specs",
    "ResolvedConfig": "_config_resolve", "resolve_config": "_config_resolve",
    "compose_up_command": "compose",
    "ConfiguredParsers": "parsing", "OutputParser": "parsing",
    **dict.fromkeys(
        ("Capability", "ChatDelta", "ChatRequest", "ChatResult", "HealthCheck", "HealthReport",
         "StreamJoiner", "ToolCall", "Usage", "join_deltas", "new_tool_call_id"), "types"),
    **dict.fromkeys(
        ("BackendError", "BackendOverloadedError", "BackendUnavailableError",
         "CapabilityError", "ConfigError",
         "ContextLengthError", "ImageError", "MemscreenLLMError", "ModelNotFoundError",
         "PluginLoadError",
         "RequestTimeoutError", "ResponseParseError", "StreamInterruptedError",
         "UnknownBackendError", "UsageError", "VisionUnsupportedError"),
        "errors"),
}

__all__ = [
    "API_VERSION",
    "BackendError",
    "BackendIdentity",
    "BackendOverloadedError",
    "BackendSpec",
    "BackendUnavailableError",
    "BaseLlmConfig",
    "Capability",
    "CapabilityError",
    "ChatDelta",
    "ChatRequest",
    "ChatResult",
    "ConfigError",
    "ConfiguredParsers",
    "ContextLengthError",
    "EmbedderFactory",
    "HealthCheck",
    "HealthReport",
    "ImageError",
    "ImagePart",
    "LLMBase",
    "LlmFactory",
    "MemscreenLLMError",
    "ModelNotFoundError",
    "OutputParser",
    "ParserSpec",
    "PluginLoadError",
    "RequestTimeoutError",
    "ResolvedConfig",
    "ResponseParseError",
    "StreamInterruptedError",
    "StreamJoiner",
    "ToolCall",
    "UnknownBackendError",
    "Usage",
    "UsageError",
    "VisionUnsupportedError",
    "__version__",
    "available_backends",
    "compose_up_command",
    "create_llm",
    "discover",
    "env_name",
    "get_registry",
    "hookimpl",
    "join_deltas",
    "lazy_exports",
    "new_tool_call_id",
    "resolve_config",
    "setting",
]


__getattr__ = lazy_exports(__name__, _WHERE)


if TYPE_CHECKING:
    from ._config_resolve import ResolvedConfig, resolve_config
    from ._discovery import discover, get_registry
    from .base import LLMBase
    from .compat.memscreen import EmbedderFactory, LlmFactory
    from .compose import compose_up_command
    from .config import BaseLlmConfig, setting
    from .errors import (
        BackendError,
        BackendOverloadedError,
        BackendUnavailableError,
        CapabilityError,
        ConfigError,
        ContextLengthError,
        ImageError,
        MemscreenLLMError,
        ModelNotFoundError,
        PluginLoadError,
        RequestTimeoutError,
        ResponseParseError,
        StreamInterruptedError,
        UnknownBackendError,
        UsageError,
        VisionUnsupportedError,
    )
    from .factory import available_backends, create_llm
    from .hookspecs import hookimpl
    from .images import ImagePart
    from .parsing import ConfiguredParsers, OutputParser
    from .specs import BackendIdentity, BackendSpec, ParserSpec, env_name
    from .types import (
        Capability,
        ChatDelta,
        ChatRequest,
        ChatResult,
        HealthCheck,
        HealthReport,
        StreamJoiner,
        ToolCall,
        Usage,
        join_deltas,
        new_tool_call_id,
    )
