"""Screenshots through the vLLM backend, on the real engine's tiny vision-language model.

Every input shape core takes reaches vLLM as the same image (its prompt_tokens count the
image's tokens: the tiny VLM tiles images into 112 px tiles of 16 tokens), in every call
style; the text-only tiny model's refusal is the typed error; the server's image limit
is an ImageError naming its flag; preprocessing changes what the engine sees.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL

from memscreen_llm import (
    ImageError,
    LLMBase,
    VisionUnsupportedError,
    create_llm,
    join_deltas,
)
from memscreen_llm.testing import data_url, image_server, png, run_cli
from memscreen_llm.testing.memscreen_patterns import RecordingProxy
from memscreen_llm_vllm.testing import TINY_VLM_NAME, VllmServer, regex_for_text

TALL = png(100, 400, (30, 30, 200))  # 96 image tokens on the tiny VLM
WIDE = png(400, 100, (30, 200, 30))  # 93
QUESTION = "What is this?"


def _ask(*images: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": QUESTION, "images": list(images)}]


def _prompt_tokens(llm: LLMBase, messages: list[dict[str, Any]]) -> int:
    usage = llm.chat(messages).usage
    assert usage is not None and usage.prompt_tokens is not None
    return usage.prompt_tokens


@pytest.fixture
def seeing(vlm: VllmServer) -> LLMBase:
    return create_llm("vllm", base_url=vlm.base_url, model=TINY_VLM_NAME, temperature=0.0,
                      max_tokens=2)


@pytest.fixture(scope="module")
def text_tokens(vlm: VllmServer) -> int:
    llm = create_llm("vllm", base_url=vlm.base_url, model=TINY_VLM_NAME, max_tokens=1)
    return _prompt_tokens(llm, [{"role": "user", "content": QUESTION}])


def test_every_input_shape_reaches_the_engine_as_the_same_image(
        vlm: VllmServer, text_tokens: int, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "shot.png"
    path.write_bytes(TALL)
    encoded = base64.b64encode(TALL).decode()
    with image_server(TALL) as http, RecordingProxy(vlm.host_url) as proxy:
        ollama_style = [TALL, encoded, data_url(TALL), str(path), path, path.as_uri(),
                        f"{http}/shot.png", Image.open(io.BytesIO(TALL))]
        openai_style = [data_url(TALL), str(path), path.as_uri(), f"{http}/shot.png"]
        messages = [_ask(shape) for shape in ollama_style] + [[{"role": "user", "content": [
            {"type": "text", "text": QUESTION},
            {"type": "image_url", "image_url": {"url": url}}]}] for url in openai_style]
        for message in messages:
            # A new backend each time: it has sent no image yet, so the data goes whole.
            llm = create_llm("vllm", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME,
                             max_tokens=1)
            assert _prompt_tokens(llm, message) == text_tokens + 96  # the image's tokens
            parts = proxy.last("/chat/completions")["messages"][0]["content"]
            [sent] = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
            # The same image on the wire, every shape (a PIL image as PNG: its pixels).
            pixels = Image.open(io.BytesIO(base64.b64decode(sent.partition(",")[2])))
            assert sent == data_url(TALL) or pixels.tobytes() == Image.open(
                io.BytesIO(TALL)).tobytes()


def test_two_images_in_a_message_and_in_history(seeing: LLMBase, text_tokens: int) -> None:
    tall, wide = (_prompt_tokens(seeing, _ask(image)) for image in (TALL, WIDE))
    both = _prompt_tokens(seeing, _ask(TALL, WIDE))
    assert both == tall + wide - text_tokens  # each image's tokens, the text once
    history = [*_ask(TALL), {"role": "assistant", "content": "A blue bar."}, *_ask(WIDE)]
    assert _prompt_tokens(seeing, history) > both  # both images, and more text


def test_stream_async_and_memscreens_call_with_an_image(seeing: LLMBase,
                                                        text_tokens: int) -> None:
    expected = text_tokens + 96
    streamed = join_deltas(seeing.stream(_ask(TALL)))
    assert streamed.usage is not None and streamed.usage.prompt_tokens == expected

    async def both() -> tuple[int | None, int | None]:
        answer = await seeing.achat(_ask(TALL))
        deltas = [d async for d in seeing.astream(_ask(TALL))]
        last = join_deltas(deltas)
        return (answer.usage.prompt_tokens if answer.usage else None,
                last.usage.prompt_tokens if last.usage else None)

    assert asyncio.run(both()) == (expected, expected)
    # MemScreen's generate_response with a screenshot; structured outputs force the words.
    forced = seeing.generate_response(_ask(TALL), max_tokens=20,
                                      structured_outputs={"regex": regex_for_text("A bar.")})
    assert forced == "A bar."


def test_the_text_only_model_refuses_with_the_typed_error(server: VllmServer,
                                                         vlm: VllmServer) -> None:
    with RecordingProxy(server.host_url) as proxy:
        blind = create_llm("vllm", base_url=f"{proxy.url}/v1", model=MODEL, max_tokens=2)
        with pytest.raises(VisionUnsupportedError) as err:
            blind.chat(_ask(TALL))
        assert f"model '{MODEL}' on backend 'vllm' cannot see images" in str(err.value)
        assert "Qwen2.5-VL" in str(err.value)  # what to use instead
        sent = len(proxy.bodies("/chat/completions"))
        for call in (lambda: blind.chat(_ask(TALL)), lambda: list(blind.stream(_ask(TALL))),
                     lambda: asyncio.run(blind.achat(_ask(TALL)))):
            with pytest.raises(VisionUnsupportedError):
                call()
        assert len(proxy.bodies("/chat/completions")) == sent  # known blind: not sent again
        # Text still goes, and is answered (by counted tokens: a random model's tokens
        # may both be special ones, skipped, so the text itself may be empty).
        text_only = blind.chat([{"role": "user", "content": "hi"}])
        assert len(proxy.bodies("/chat/completions")) == sent + 1
        assert text_only.usage is not None and 1 <= text_only.usage.completion_tokens <= 2
    assert create_llm("vllm", base_url=server.base_url, model=MODEL).can_see() is False
    assert create_llm("vllm", base_url=vlm.base_url, model=TINY_VLM_NAME).can_see() is True


def test_more_images_than_the_server_takes_names_the_flag(seeing: LLMBase) -> None:
    with pytest.raises(ImageError) as err:
        seeing.chat(_ask(TALL, WIDE, TALL))
    assert "at most 2 image(s)" in str(err.value)
    assert "--limit-mm-per-prompt" in str(err.value)


def test_preprocessing_shapes_what_the_engine_gets(vlm: VllmServer) -> None:
    from PIL import Image

    def sent_image(proxy: RecordingProxy) -> tuple[str, Any, str | None]:
        parts = proxy.last("/chat/completions")["messages"][0]["content"]
        image_url = next(p["image_url"] for p in parts if p["type"] == "image_url")
        header, _, payload = image_url["url"].partition(",")
        picture = Image.open(io.BytesIO(base64.b64decode(payload)))
        return header, picture, image_url.get("detail")

    screenshot = png(1600, 1000)
    with RecordingProxy(vlm.host_url) as proxy:
        scaled = create_llm("vllm", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME,
                            max_tokens=1, image_max_side=320, image_format="jpeg")
        tiles = _prompt_tokens(scaled, _ask(screenshot))  # the engine took the JPEG
        header, image, _ = sent_image(proxy)
        assert header == "data:image/jpeg;base64" and image.size == (320, 200)
        plain = create_llm("vllm", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME,
                           max_tokens=1)
        low = [{"role": "user", "content": [{"type": "text", "text": QUESTION}, {
            "type": "image_url", "image_url": {"url": data_url(screenshot), "detail": "low"}}]}]
        assert _prompt_tokens(plain, low) == tiles  # the same aspect: the same tiles here
        header, image, detail = sent_image(proxy)
        assert header == "data:image/png;base64" and image.size == (512, 320)
        assert detail == "low"  # passed on as well, for engines that read it


def test_a_screenshot_sent_again_goes_as_its_uuid_alone(vlm: VllmServer,
                                                         text_tokens: int) -> None:
    with RecordingProxy(vlm.host_url) as proxy:
        llm = create_llm("vllm", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME, max_tokens=1)
        first = _prompt_tokens(llm, _ask(TALL))
        sent_first = proxy.last("/chat/completions")["messages"][0]["content"][0]
        again = _prompt_tokens(llm, _ask(TALL))  # from the engine's cache, by the uuid
        sent_again = proxy.last("/chat/completions")["messages"][0]["content"][0]
    assert first == again == text_tokens + 96
    digest = hashlib.sha256(TALL).hexdigest()
    assert sent_first == {"type": "image_url", "uuid": digest,
                          "image_url": {"url": data_url(TALL)}}
    assert sent_again == {"type": "image_url", "uuid": digest, "image_url": None}


def test_an_image_the_server_no_longer_has_is_sent_whole(vlm: VllmServer,
                                                          text_tokens: int) -> None:
    # As after the server evicted it or restarted: the backend believes the server has
    # an image it never saw; the server's real "Cache miss" is recovered from once.
    fresh = png(100, 400, (90, 10, 10))
    with RecordingProxy(vlm.host_url) as proxy:
        llm = create_llm("vllm", base_url=f"{proxy.url}/v1", model=TINY_VLM_NAME, max_tokens=1)
        llm._seen_images = _seen_from(fresh)  # type: ignore[attr-defined]
        assert _prompt_tokens(llm, _ask(fresh)) == text_tokens + 96
        bodies = proxy.bodies("/chat/completions")
    assert [b["messages"][0]["content"][0]["image_url"] is None for b in bodies] == [True, False]


def _seen_from(image: bytes) -> object:
    from memscreen_llm_vllm.server import _SeenImages

    seen = _SeenImages()
    seen.took([{"content": [{"type": "image_url", "uuid": hashlib.sha256(image).hexdigest()}]}])
    return seen


def test_doctor_says_whether_the_model_can_see(vlm: VllmServer, server: VllmServer) -> None:
    seeing = run_cli("doctor", "-b", "vllm", env={"MEMSCREEN_VLLM_URL": vlm.base_url,
                                                  "MEMSCREEN_VLLM_MODEL": TINY_VLM_NAME})
    assert seeing.returncode == 0, seeing.stdout + seeing.stderr
    assert f"vision     model '{TINY_VLM_NAME}' takes images" in seeing.stdout
    blind = run_cli("doctor", "-b", "vllm", env={"MEMSCREEN_VLLM_URL": server.base_url,
                                                 "MEMSCREEN_VLLM_MODEL": MODEL})
    assert blind.returncode == 0, blind.stdout + blind.stderr
    assert f"model '{MODEL}' takes text only" in blind.stdout
