"""Pure parts: the context budget and reading vLLM's error messages."""

from __future__ import annotations

import pytest

from memscreen_llm import ContextLengthError
from memscreen_llm.images import ImageSettings, normalize_messages
from memscreen_llm.openai_compat import wire_messages
from memscreen_llm.testing import png
from memscreen_llm_vllm import _context
from memscreen_llm_vllm._errors import context_numbers

SHORT = [{"role": "user", "content": "Hello there"}]


def test_fit_clamps_and_rejects() -> None:
    assert _context.fit(_context.PromptCount(100), 1024, 2000) == 924
    assert _context.fit(_context.PromptCount(100), 1024, 50) == 50
    assert _context.fit(_context.PromptCount(100), 1024, None) is None
    assert _context.fit(_context.PromptCount(1023), 1024, 10) == 1
    with pytest.raises(ContextLengthError) as err:
        _context.fit(_context.PromptCount(1024), 1024, 10)
    assert (err.value.prompt_tokens, err.value.max_context, err.value.estimated) == (1024, 1024,
                                                                                     False)


def test_an_estimate_says_so() -> None:
    count = _context.estimate([{"role": "user", "content": "x" * 40_000}])
    assert count.estimated and count.tokens >= 20_000  # chars / 2: conservative
    with pytest.raises(ContextLengthError) as err:
        _context.fit(count, 16384, 100)
    assert "about" in str(err.value) and "estimated" in str(err.value)


def test_counting_is_skipped_only_when_the_request_clearly_fits() -> None:
    assert _context.clearly_fits(SHORT, None, 32768, 2000)
    assert not _context.clearly_fits(SHORT, None, 1024, 2000)  # max_tokens alone is too big
    assert not _context.clearly_fits([{"role": "user", "content": "é" * 20_000}], None, 32768, 10)
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert _context.upper_bound(image) is None and not _context.clearly_fits(image, None, 10**6, 1)
    tools = [{"type": "function", "function": {"name": "f", "description": "d" * 40_000}}]
    assert not _context.clearly_fits(SHORT, tools, 32768, 10)


@pytest.mark.parametrize(("message", "numbers"), [
    ("This model's maximum context length is 1024 tokens. However, your prompt contains at "
     "least 1025 input tokens, which exceeds this limit even without any output tokens.",
     (1025, 1024)),
    ("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
     "(4000 in the messages, 1000 in the completion). Please reduce the length.", (4000, 4096)),
    ("The decoder prompt (length 1500) is longer than the maximum model length of 1024.",
     (1500, 1024)),
    ("max_tokens=2000 cannot be greater than max_model_len=1024.", None),
    ("something else entirely", None),
])
def test_context_numbers_from_vllm_messages(message: str, numbers: tuple[int, int] | None) -> None:
    assert context_numbers(message) == numbers


def test_wire_messages_put_ollama_style_images_first_as_data_urls() -> None:
    messages = normalize_messages([{"role": "user", "content": "x", "images": [png(4, 4)]}],
                                  ImageSettings())
    sent = wire_messages(messages)
    assert sent[0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert sent[0]["content"][1] == {"type": "text", "text": "x"}
    assert "uuid" not in sent[0]["content"][0]
    with_ids = wire_messages(messages, image_uuids=True)
    assert with_ids[0]["content"][0]["uuid"] == messages[0]["content"][0].digest
