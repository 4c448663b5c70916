"""Core's contract kit against the vllm backend and the real vLLM CPU server.

The shared server runs without parser flags; the tiny model's reasoning and tool call
are forced with structured outputs and split by the registered test parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_server import FORCED_CALL, forced

from memscreen_llm import create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm.testing import BackendContract
from memscreen_llm_vllm.testing import VllmServer


class TestVllmContract(BackendContract):
    backend = "vllm"

    @pytest.fixture
    def llm(self, server: VllmServer, parser_site: Path) -> LLMBase:
        return create_llm("vllm", base_url=server.base_url, model="tiny",
                          reasoning_parser="test-think", tool_parser="test-calls")

    def reasoning_request(self) -> Mapping[str, Any]:
        return {"max_tokens": 64, **forced("The user wants one colour.\n</think>\nBlue.")}

    def tool_call_request(self) -> Mapping[str, Any]:
        return {"max_tokens": 96, **forced(FORCED_CALL)}
