"""SGLang backend for memscreen-llm: an example third-party plugin.

Nothing is imported eagerly: discovery imports `memscreen_llm_sglang.plugin` through this
package, and must stay cheap (no openai, no httpx, no attrs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DEFAULT_BASE_URL", "SglangConfig"]

if TYPE_CHECKING:
    from .config import DEFAULT_BASE_URL, SglangConfig


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'memscreen_llm_sglang' has no attribute {name!r}")
