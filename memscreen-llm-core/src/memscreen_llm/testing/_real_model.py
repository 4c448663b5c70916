"""`RealModelContract`: what a backend must get right with a real (trained) chat model.

The contract kit's checks run on any model (random weights prove the plumbing); these
need a model that knows things, at temperature 0:

    class TestRealModel(RealModelContract):
        backend = "mine"

        @pytest.fixture
        def real_endpoint(self, my_real_model_server):
            return my_real_model_server.url, "smollm2"   # (base_url, model)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from ..base import LLMBase
from ..factory import create_llm

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PLACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


class RealModelContract:
    """Subclass it (name it Test...), set `backend`, provide `real_endpoint`."""

    backend: ClassVar[str] = ""

    # Whether the engine enforces additionalProperties: false (vLLM's guided decoding
    # does; Ollama's grammar only requires the listed properties).
    exact_schema: ClassVar[bool] = True

    @pytest.fixture
    def real_endpoint(self) -> tuple[str, str]:
        """(base_url, model) of a server with a real chat model."""
        pytest.fail(f"{type(self).__name__} must define a `real_endpoint` fixture")

    @pytest.fixture
    def llm(self, real_endpoint: tuple[str, str]) -> Iterator[LLMBase]:
        base_url, model = real_endpoint
        client = create_llm(self.backend, base_url=base_url, model=model, temperature=0.0,
                            max_tokens=48)
        yield client
        client.close()

    def test_real_model_knows_the_capital_of_france(self, llm: LLMBase) -> None:
        result = llm.chat(QUESTION)
        assert result.content is not None and "Paris" in result.content, result
        assert result.finish_reason == "stop"
        assert result.usage is not None and (result.usage.completion_tokens or 0) > 0

    def test_real_model_stream_joins_to_the_plain_answer(self, llm: LLMBase) -> None:
        plain = llm.chat(QUESTION).content
        pieces = [d.content for d in llm.stream(QUESTION) if d.content]
        assert len(pieces) > 1  # really streamed, token by token
        assert "".join(pieces) == plain
        assert "Paris" in "".join(pieces)

    def test_real_model_json_schema_output_validates(self, llm: LLMBase) -> None:
        messages = [{"role": "user", "content": "Paris is the capital of France. "
                     "Give the city and its country as JSON."}]
        result = llm.chat(messages, response_format={
            "type": "json_schema", "json_schema": {"name": "place", "schema": PLACE_SCHEMA}})
        data = json.loads(result.content or "")
        assert isinstance(data, dict) and {"city", "country"} <= set(data), data
        if self.exact_schema:
            assert set(data) == {"city", "country"}, data
        assert isinstance(data["city"], str) and isinstance(data["country"], str), data
        assert "paris" in data["city"].lower(), data
