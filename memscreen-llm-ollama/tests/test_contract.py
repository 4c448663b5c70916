"""Core's contract kit against the real Ollama server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from memscreen_llm import create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm.testing import BackendContract
from memscreen_llm_ollama.testing import OllamaServer

CALL_SCHEMA = {"type": "object", "required": ["name", "arguments"], "properties": {
    "name": {"const": "get_weather"},
    "arguments": {"type": "object", "required": ["city"],
                  "properties": {"city": {"const": "Paris"}}}}}


class TestOllamaContract(BackendContract):
    backend = "ollama"
    deterministic = {"temperature": 0.0, "seed": 7, "max_tokens": 16}

    @pytest.fixture
    def llm(self, server: OllamaServer) -> LLMBase:
        return create_llm("ollama", base_url=server.base_url, model="tiny")

    def reasoning_request(self) -> Mapping[str, Any]:
        return {"think": True}  # the test model is wired to think when asked

    def tool_call_request(self) -> Mapping[str, Any]:
        # The schema makes the random model write the call the template announces.
        return {"max_tokens": 64, "response_format": {
            "type": "json_schema", "json_schema": {"name": "call", "schema": CALL_SCHEMA}}}
