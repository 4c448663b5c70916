"""Step-3.5-Flash preset for memscreen-llm.

Nothing is imported eagerly: discovery imports `memscreen_llm_step35.plugin` through this
package, and must stay cheap (no openai, no vllm, no attrs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memscreen_llm import lazy_exports  # cheap: core is lazy too

__all__ = ["MODELS", "Step35Config"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "config"))

if TYPE_CHECKING:
    from .config import MODELS, Step35Config
