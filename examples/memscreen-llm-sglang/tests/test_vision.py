"""Images through the SGLang backend: nothing of its own, core's image parts and the
OpenAI kit's wire shape. Checked against a real vision-language model (the vLLM stand-in
with the kit's tiny VLM) and the text-only stand-in."""

from __future__ import annotations

import pytest
from conftest import MODEL

from memscreen_llm import VisionUnsupportedError, create_llm
from memscreen_llm.testing import data_url, png
from memscreen_llm.testing.memscreen_patterns import RecordingProxy
from memscreen_llm_vllm.testing import TINY_VLM_NAME, VllmServer

SHOT = png(100, 400, (30, 30, 200))
QUESTION = [{"role": "user", "content": "What is this?"}]


def test_a_screenshot_reaches_the_model_in_both_shapes(vlm: VllmServer) -> None:
    with RecordingProxy(vlm.host_url) as proxy:
        llm = create_llm("sglang", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME,
                         max_tokens=1)
        text = llm.chat(QUESTION).usage
        ollama_style = llm.chat([{**QUESTION[0], "images": [SHOT]}]).usage
        part = proxy.last("/chat/completions")["messages"][0]["content"][0]
        openai_style = llm.chat([{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": data_url(SHOT)}}]}]).usage
    assert text and ollama_style and openai_style
    assert ollama_style.prompt_tokens == openai_style.prompt_tokens
    assert ollama_style.prompt_tokens > text.prompt_tokens  # type: ignore[operator]
    # SGLang's shape: a data URL, no vLLM cache uuid.
    assert part == {"type": "image_url", "image_url": {"url": data_url(SHOT)}}


def test_a_text_only_model_refuses_with_the_typed_error(server: VllmServer) -> None:
    llm = create_llm("sglang", base_url=server.base_url, model=MODEL, max_tokens=1)
    with pytest.raises(VisionUnsupportedError, match="cannot see images"):
        llm.chat([{**QUESTION[0], "images": [SHOT]}])
