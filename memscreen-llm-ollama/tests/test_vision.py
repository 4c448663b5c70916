"""Screenshots through the Ollama backend, on the real engine's tiny vision model.

Every input shape core takes reaches Ollama as the same image (prompt_eval_count grows
by the projector's 16 tokens per image), in every call style; a text-only model, which
Ollama itself would let answer (the image as the text "[img-0]"), is refused by us before
anything is sent; preprocessing reaches the wire.
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import pytest

from memscreen_llm import (
    ContextLengthError,
    ImageError,
    LLMBase,
    VisionUnsupportedError,
    create_llm,
    join_deltas,
)
from memscreen_llm.testing import data_url, image_server, png, run_cli
from memscreen_llm.testing.memscreen_patterns import RecordingProxy
from memscreen_llm_ollama.testing import MODEL, VISION_IMAGE_TOKENS, OllamaServer

SHOT = png(56, 56, (30, 30, 200))
OTHER = png(40, 80, (30, 200, 30))
QUESTION = "What is this?"


def _ask(*images: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": QUESTION, "images": list(images)}]


def _prompt_tokens(llm: LLMBase, messages: list[dict[str, Any]]) -> int:
    usage = llm.chat(messages).usage
    assert usage is not None and usage.prompt_tokens is not None
    return usage.prompt_tokens


@pytest.fixture
def seeing(server: OllamaServer, vision_model: str) -> LLMBase:
    return create_llm("ollama", base_url=server.base_url, model=vision_model,
                      temperature=0.0, seed=1, max_tokens=2)


@pytest.fixture
def text_tokens(seeing: LLMBase) -> int:
    return _prompt_tokens(seeing, [{"role": "user", "content": QUESTION}])


def test_every_input_shape_reaches_the_engine_as_the_same_image(
        seeing: LLMBase, text_tokens: int, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "shot.png"
    path.write_bytes(SHOT)
    with image_server(SHOT) as http:
        ollama_style = [SHOT, base64.b64encode(SHOT).decode(), str(path), path,
                        data_url(SHOT), f"{http}/shot.png", Image.open(io.BytesIO(SHOT))]
        counts = {_prompt_tokens(seeing, _ask(shape)) for shape in ollama_style}
        # OpenAI parts: Ollama's own client drops these; here they become `images`.
        openai_style = [data_url(SHOT), str(path), path.as_uri(), f"{http}/shot.png"]
        counts |= {_prompt_tokens(seeing, [{"role": "user", "content": [
            {"type": "text", "text": QUESTION},
            {"type": "image_url", "image_url": {"url": url}}]}]) for url in openai_style}
    assert len(counts) == 1, counts  # one image, whatever its shape
    # The projector's tokens (and the marker around them) reached the model.
    assert counts.pop() - text_tokens >= VISION_IMAGE_TOKENS


def test_several_images_history_stream_and_async(seeing: LLMBase, text_tokens: int) -> None:
    # Each image adds the projector's tokens (the "[img-N]" markers' text varies a little).
    one = _prompt_tokens(seeing, _ask(SHOT))
    two = _prompt_tokens(seeing, _ask(SHOT, OTHER))
    assert one - text_tokens >= VISION_IMAGE_TOKENS and two - one >= VISION_IMAGE_TOKENS
    history = [*_ask(SHOT), {"role": "assistant", "content": "A blue square."}, *_ask(OTHER)]
    # Ollama budgets 768 tokens an image when it keeps history: the tiny model's num_ctx
    # (512) would lose the first message without a word, so that is our error...
    with pytest.raises(ContextLengthError, match="768 tokens for each image"):
        seeing.chat(history)
    # ... and with room for them, both images reach the model.
    roomy = create_llm("ollama", base_url=seeing.config.base_url,  # type: ignore[attr-defined]
                       model=seeing.config.model, max_tokens=2, num_ctx=4096)
    assert _prompt_tokens(roomy, history) > two
    streamed = join_deltas(seeing.stream(_ask(SHOT)))
    assert streamed.usage is not None and streamed.usage.prompt_tokens == one

    async def both() -> tuple[int | None, int | None]:
        answer = await seeing.achat(_ask(SHOT))
        last = join_deltas([d async for d in seeing.astream(_ask(SHOT))])
        return (answer.usage.prompt_tokens if answer.usage else None,
                last.usage.prompt_tokens if last.usage else None)

    assert asyncio.run(both()) == (one, one)


def test_a_text_only_model_is_refused_before_sending(server: OllamaServer) -> None:
    with RecordingProxy(server.base_url) as proxy:
        blind = create_llm("ollama", base_url=proxy.url, model=MODEL, max_tokens=2)
        assert blind.can_see() is False
        for call in (lambda: blind.chat(_ask(SHOT)), lambda: list(blind.stream(_ask(SHOT))),
                     lambda: asyncio.run(blind.achat(_ask(SHOT))),
                     lambda: blind.generate_response(_ask(SHOT))):
            with pytest.raises(VisionUnsupportedError) as err:
                call()
            assert f"model '{MODEL}' on backend 'ollama' cannot see images" in str(err.value)
            assert "ollama pull" in str(err.value)
        assert proxy.bodies("/api/chat") == []  # nothing sent: no "[img-0]" answer
        assert blind.chat([{"role": "user", "content": "hi"}]).content is not None


def test_preprocessing_reaches_the_wire(server: OllamaServer, vision_model: str) -> None:
    from PIL import Image

    with RecordingProxy(server.base_url) as proxy:
        llm = create_llm("ollama", base_url=proxy.url, model=vision_model, max_tokens=2,
                         image_max_side=64, image_format="jpeg", image_quality=70)
        assert llm.chat(_ask(png(640, 400))).content is not None  # the engine took it
        sent = base64.b64decode(proxy.last("/api/chat")["messages"][0]["images"][0])
    image = Image.open(io.BytesIO(sent))
    assert image.format == "JPEG" and image.size == (64, 40)


def test_doctor_says_whether_the_model_can_see(server: OllamaServer, vision_model: str) -> None:
    for model, words in ((vision_model, "takes images"), (MODEL, "takes text only")):
        done = run_cli("doctor", "-b", "ollama", env={"MEMSCREEN_OLLAMA_URL": server.base_url,
                                                      "MEMSCREEN_OLLAMA_MODEL": model})
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"vision     model '{model}' {words}" in done.stdout


def test_image_bytes_the_projector_cannot_read_are_an_image_error_not_retried(
        server: OllamaServer, vision_model: str) -> None:
    broken = SHOT[:40]  # a PNG's signature and header, then nothing: passes the type check
    with RecordingProxy(server.base_url) as proxy:
        llm = create_llm("ollama", base_url=proxy.url, model=vision_model, max_tokens=2)
        with pytest.raises(ImageError, match="could not decode an image") as err:
            llm.chat(_ask(broken))
        assert "embedding from image" in str(err.value)  # Ollama's own words, kept
        assert len(proxy.bodies("/api/chat")) == 1  # a 500, but not retried: it would fail again


def test_cli_chat_sends_images(server: OllamaServer, vision_model: str, tmp_path: Path) -> None:
    import json

    path = tmp_path / "shot.png"
    path.write_bytes(SHOT)
    env = {"MEMSCREEN_OLLAMA_URL": server.base_url, "MEMSCREEN_OLLAMA_MODEL": vision_model,
           "MEMSCREEN_OLLAMA_MAX_TOKENS": "2"}
    plain = run_cli("chat", "-b", "ollama", "--json", QUESTION, env=env)
    seen = run_cli("chat", "-b", "ollama", "--json", "-i", str(path), QUESTION, env=env)
    assert plain.returncode == seen.returncode == 0, plain.stderr + seen.stderr
    tokens = [json.loads(done.stdout)["usage"]["prompt_tokens"] for done in (plain, seen)]
    assert tokens[1] - tokens[0] >= VISION_IMAGE_TOKENS
    missing = run_cli("chat", "-b", "ollama", "-i", str(tmp_path / "nope.png"), QUESTION,
                      env=env)
    assert missing.returncode == 2 and "no such image file" in missing.stderr
    assert "Traceback" not in missing.stderr
    blind = run_cli("chat", "-b", "ollama", "-i", str(path), QUESTION,
                    env={**env, "MEMSCREEN_OLLAMA_MODEL": MODEL})
    assert blind.returncode == 2 and "cannot see images" in blind.stderr
