"""embed() against a real vLLM pooling server running a real embedding model.

The model is all-MiniLM-L6-v2 from PyPI (`real_embed_model`, cached), so the vectors mean
something: one server serves both the plumbing test and the meaning test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from memscreen_llm import create_llm
from memscreen_llm_vllm import testing as kit


@pytest.fixture(scope="module")
def pooling(engine: kit.Engine) -> Iterator[kit.VllmServer]:
    model_dir = kit.model_or_skip(kit.real_embed_model, engine, "all-MiniLM-L6-v2")
    yield from kit.serve(engine, *kit.REAL_EMBED_ARGS, served_model_name=kit.REAL_EMBED_NAME,
                         model_dir=model_dir)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_embeddings_from_v1_embeddings(pooling: kit.VllmServer) -> None:
    llm = create_llm("vllm", base_url=pooling.base_url)  # model: the server's only one
    vectors = llm.embed(["the sea", "a mountain", "the sea"])
    assert len(vectors) == 3
    assert len(vectors[0]) == len(vectors[1]) > 0
    assert all(isinstance(x, float) for x in vectors[0])
    assert vectors[0] != vectors[1] and vectors[0] == pytest.approx(vectors[2])


def test_real_model_kitten_is_nearer_cat_than_stock_prices(pooling: kit.VllmServer) -> None:
    llm = create_llm("vllm", base_url=pooling.base_url, model=pooling.model)
    kitten, cat, stocks = llm.embed(["a kitten", "a cat", "stock prices"])
    assert len(kitten) == 384  # all-MiniLM-L6-v2
    assert _cosine(kitten, cat) > _cosine(kitten, stocks) + 0.2
