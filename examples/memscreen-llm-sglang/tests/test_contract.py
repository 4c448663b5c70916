"""Core's contract kit against the sglang backend.

NOTE: SGLang cannot run on these machines, so the server here is a REAL vLLM CPU server
(same OpenAI-compatible API; see conftest.py). The tiny random-weight model cannot decide
to reason or call a tool, so the two checks that need that force its output with vLLM's
structured outputs (a regex of the exact text); the backend passes them through per call
as `extra_body`. Reasoning and tool calls are then split client-side by the registered
test parsers `kit-think` / `kit-calls`, exactly as for an SGLang server started without
`--reasoning-parser` / `--tool-call-parser`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from memscreen_llm import LLMBase, create_llm
from memscreen_llm.testing import BackendContract

REASONING_TEXT = "The user wants one colour.\n</think>\nBlue."
CALL_TEXT = ('Weather is asked.\n</think>\n<tool_call>{"name": "get_weather", '
             '"arguments": {"city": "Paris"}}</tool_call>')


class TestSglangContract(BackendContract):
    backend = "sglang"

    @pytest.fixture
    def llm(self, server: Any, parser_site: Path) -> LLMBase:
        # host_url has no /v1: the config adds it.
        return create_llm("sglang", base_url=server.host_url, model="tiny",
                          reasoning_parser="kit-think", tool_parser="kit-calls")

    @pytest.fixture
    def reasoning_options(self, engine: Any) -> Mapping[str, Any]:
        return {"max_tokens": 64, "extra_body": engine.forced_output_params(REASONING_TEXT)}

    @pytest.fixture
    def tool_call_options(self, engine: Any) -> Mapping[str, Any]:
        return {"max_tokens": 96, "extra_body": engine.forced_output_params(CALL_TEXT)}
