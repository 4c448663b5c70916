"""One piece of application code sends a screenshot through Ollama and through vLLM, the
backend picked by configuration alone: MemScreen's own image-description call, verbatim
in shape (memscreen/utils.py get_image_description), on both real engines' tiny vision
models; and the same code gets the same typed refusal from both text-only models."""

from __future__ import annotations

import base64

import pytest

from memscreen_llm import LLMBase, VisionUnsupportedError, create_llm
from memscreen_llm.testing import png
from memscreen_llm_ollama.testing import MODEL as OLLAMA_TEXT_MODEL
from memscreen_llm_ollama.testing import VISION_MODEL, OllamaServer
from memscreen_llm_vllm.testing import TINY_VLM_NAME, VllmServer

SCREENSHOT = base64.b64encode(png(120, 80, (40, 90, 200))).decode()
PROMPT = ("A user is providing an image. Provide a high level description of the image and "
          "do not include any additional text.")


def describe(llm: LLMBase, image_b64: str) -> str:
    """The application's code: the same for every backend."""
    answer = llm.generate_response(messages=[
        {"role": "user", "content": PROMPT, "images": [image_b64]}])
    assert isinstance(answer, str)
    return answer


def prompt_tokens(llm: LLMBase, images: list[str]) -> int:
    usage = llm.chat([{"role": "user", "content": PROMPT, "images": images}]).usage
    assert usage is not None and usage.prompt_tokens is not None
    return usage.prompt_tokens


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, vlm: VllmServer, vllm: VllmServer,
               ollama: OllamaServer):  # type: ignore[no-untyped-def]
    def configure(backend: str, *, seeing: bool) -> LLMBase:
        settings = {
            "MEMSCREEN_LLM_BACKEND": backend,
            "MEMSCREEN_OLLAMA_URL": ollama.base_url,
            "MEMSCREEN_OLLAMA_MODEL": VISION_MODEL if seeing else OLLAMA_TEXT_MODEL,
            "MEMSCREEN_VLLM_URL": (vlm if seeing else vllm).base_url,
            "MEMSCREEN_VLLM_MODEL": TINY_VLM_NAME if seeing else "tiny",
            "MEMSCREEN_OLLAMA_MAX_TOKENS": "8", "MEMSCREEN_VLLM_MAX_TOKENS": "8",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        return create_llm()  # the backend and model from the environment only
    return configure


@pytest.mark.parametrize("backend", ["ollama", "vllm"])
def test_the_same_screenshot_call_on_both_engines(configured, backend: str) -> None:  # type: ignore[no-untyped-def]
    llm = configured(backend, seeing=True)
    assert llm.backend_name == backend and llm.can_see() is True
    describe(llm, SCREENSHOT)
    # The screenshot reached the model: its tokens are in the prompt.
    assert prompt_tokens(llm, [SCREENSHOT]) > prompt_tokens(llm, [])


@pytest.mark.parametrize("backend", ["ollama", "vllm"])
def test_a_text_only_model_is_the_same_typed_error_on_both(configured, backend: str) -> None:  # type: ignore[no-untyped-def]
    llm = configured(backend, seeing=False)
    with pytest.raises(VisionUnsupportedError) as err:
        describe(llm, SCREENSHOT)
    assert err.value.backend == backend and "cannot see images" in str(err.value)
    assert llm.can_see() is False


def test_a_screenshot_falls_back_to_the_next_backend_whole(
        monkeypatch: pytest.MonkeyPatch, ollama: OllamaServer) -> None:
    # vLLM unreachable -> Ollama's vision model gets the screenshot (prepared once per
    # backend from the same message; nothing of it lost on the way).
    from memscreen_llm.testing import free_port

    for name, value in {"MEMSCREEN_LLM_FALLBACKS": "ollama",
                        "MEMSCREEN_VLLM_URL": f"http://127.0.0.1:{free_port()}/v1",
                        "MEMSCREEN_VLLM_MAX_RETRIES": "0",
                        "MEMSCREEN_OLLAMA_URL": ollama.base_url,
                        "MEMSCREEN_OLLAMA_MODEL": VISION_MODEL,
                        # Ollama's own section: max_tokens=4 below is vLLM's. A random
                        # model's long answer may hit Ollama's repeat guard (an error).
                        "MEMSCREEN_OLLAMA_MAX_TOKENS": "4"}.items():
        monkeypatch.setenv(name, value)
    chain = create_llm("vllm", model=TINY_VLM_NAME, max_tokens=4)
    with_image = chain.chat([{"role": "user", "content": PROMPT, "images": [SCREENSHOT]}])
    text_only = chain.chat([{"role": "user", "content": PROMPT}])
    assert with_image.backend == "ollama" and with_image.usage and text_only.usage
    assert with_image.usage.prompt_tokens > text_only.usage.prompt_tokens  # type: ignore[operator]
