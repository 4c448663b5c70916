"""Ollama backend for memscreen-llm.

Nothing is imported eagerly: discovery imports `memscreen_llm_ollama.plugin` through this
package, and must stay cheap (no ollama SDK, no attrs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DEFAULT_MODEL", "OllamaConfig"]

if TYPE_CHECKING:
    from .config import DEFAULT_MODEL, OllamaConfig


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'memscreen_llm_ollama' has no attribute {name!r}")
