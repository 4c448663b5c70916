"""`Step35Config`: the vLLM config plus a weights variant that picks the model id."""

from __future__ import annotations

import attrs

from memscreen_llm.config import setting, string
from memscreen_llm_vllm.config import VllmConfig

from .preset import MODELS


@attrs.frozen(kw_only=True)
class Step35Config(VllmConfig):
    """Config of the `step35` backend (env: MEMSCREEN_STEP35_<FIELD>)."""

    variant: str = setting(
        "bf16", validator=string(choices=tuple(MODELS)),
        help="weights: bf16 (stepfun-ai/Step-3.5-Flash) or fp8 (stepfun-ai/Step-3.5-Flash-FP8)",
    )

    def __attrs_post_init__(self) -> None:
        # An explicit model wins; otherwise the variant names the model.
        if self.model is None:
            object.__setattr__(self, "model", MODELS[self.variant])
        super().__attrs_post_init__()
