"""Step-3.5-Flash preset for memscreen-llm.

Nothing is imported eagerly: discovery imports `memscreen_llm_step35.plugin` through this
package, and must stay cheap (no openai, no vllm, no attrs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["MODELS", "Step35Config"]

if TYPE_CHECKING:
    from .config import MODELS, Step35Config


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module 'memscreen_llm_step35' has no attribute {name!r}")
