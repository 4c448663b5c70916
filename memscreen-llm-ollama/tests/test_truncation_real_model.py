"""Silent truncation caught with a real (trained) model and its real BPE tokenizer:
SmolLM2-135M-Instruct on the real Ollama engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memscreen_llm import create_llm
from memscreen_llm.errors import ContextLengthError
from memscreen_llm_ollama import testing as kit

# 40 words, each several tokens in SmolLM2's vocabulary: no word count sees 64 exceeded.
LONG_WORDS = " ".join(["Pneumonoultramicroscopicsilicovolcanoconiosis"] * 40)


@pytest.fixture(scope="module")
def smollm2(engine: kit.Engine) -> Iterator[kit.OllamaServer]:
    yield from kit.serve_real_chat_model(engine)


def test_a_real_prompt_cut_to_num_ctx_raises(smollm2: kit.OllamaServer) -> None:
    with create_llm("ollama", base_url=smollm2.base_url, model=kit.REAL_CHAT_NAME,
                    max_tokens=1, temperature=0.0) as llm:
        with pytest.raises(ContextLengthError) as caught:
            llm.chat([{"role": "user", "content": LONG_WORDS}], num_ctx=64)
        assert caught.value.max_context == 64 and caught.value.prompt_tokens > 64
        deltas = []
        with pytest.raises(ContextLengthError):
            for delta in llm.stream([{"role": "user", "content": LONG_WORDS}], num_ctx=64):
                deltas.append(delta)
        assert all(delta.finish_reason is None for delta in deltas)
        # A short one in the same window fits: an answer, no error.
        result = llm.chat([{"role": "user", "content": "Say hi."}], num_ctx=64)
        assert result.usage is not None and 0 < result.usage.prompt_tokens < 64  # type: ignore[operator]
