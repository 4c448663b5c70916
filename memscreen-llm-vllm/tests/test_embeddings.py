"""embed() against a real vLLM server running the tiny model as an embedding model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memscreen_llm import create_llm
from memscreen_llm_vllm.testing import Engine, VllmServer, serve


@pytest.fixture(scope="module")
def pooling(engine: Engine) -> Iterator[VllmServer]:
    yield from serve(engine, "--runner", "pooling", "--convert", "embed",
                     served_model_name="tiny-embed")


def test_embeddings_from_v1_embeddings(pooling: VllmServer) -> None:
    llm = create_llm("vllm", base_url=pooling.base_url)  # model: the server's only one
    vectors = llm.embed(["the sea", "a mountain", "the sea"])
    assert len(vectors) == 3
    assert len(vectors[0]) == len(vectors[1]) > 0
    assert all(isinstance(x, float) for x in vectors[0])
    assert vectors[0] != vectors[1] and vectors[0] == pytest.approx(vectors[2])
