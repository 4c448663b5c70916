"""The preset's values: laid over VllmConfig's defaults, overridable like any value.

`memscreen-llm config show -b step35` names their source "preset step35".
"""

from __future__ import annotations

from typing import Any

MODELS = {
    "bf16": "stepfun-ai/Step-3.5-Flash",
    "fp8": "stepfun-ai/Step-3.5-Flash-FP8",
}
CONTEXT_BUDGET = 32768  # what this project's compose files serve (--max-model-len)
DEFAULT_BASE_URL = "http://localhost:8001/v1"  # the port the step35 compose files publish

PRESET: dict[str, Any] = {
    "base_url": DEFAULT_BASE_URL,
    "max_model_len": CONTEXT_BUDGET,
    "reasoning_parser": "step3p5",
    "tool_parser": "step3p5",
    "trust_remote_code": True,  # only read offline: the model repository ships its own code
    "temperature": 1.0,  # sampling for a reasoning model; lower it for determinism
    "top_p": 0.95,
    "max_tokens": 8192,  # reasoning takes room; clamped to what the context budget leaves
}
