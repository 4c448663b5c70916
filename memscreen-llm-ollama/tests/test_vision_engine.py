"""The kit's tiny vision model on the real Ollama 0.9.3 engine, over plain HTTP.

VISION_MODEL is the tiny text model plus a tiny random CLIP projector (llava-style). These
tests pin what later tests rely on to prove that images reach Ollama: only /api/show's
capabilities tell a vision model from a text-only one (which answers HTTP 200 to images,
taking each as the literal text "[img-N]"), and on the vision model each image adds
VISION_IMAGE_TOKENS embeddings to the prompt and changes the answer.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memscreen_llm.testing import png
from memscreen_llm_ollama.testing import MODEL, VISION_IMAGE_TOKENS, OllamaServer

OPTIONS = {"temperature": 0, "seed": 1, "num_predict": 8}
TEXT = "hello world"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_noise = random.Random(7)
RED = b64(png(8, 8, (200, 30, 30)))
BLUE = b64(png(8, 8, (20, 40, 220)))
NOISE = b64(png(56, 56, lambda x, y: (_noise.randrange(256), _noise.randrange(256),
                                      _noise.randrange(256))))


@pytest.fixture
def http(server: OllamaServer) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not get loopback requests.
    with httpx.Client(base_url=server.base_url, timeout=120.0, trust_env=False) as client:
        yield client


def capabilities(http: httpx.Client, model: str) -> list[str]:
    answer = http.post("/api/show", json={"model": model})
    assert answer.status_code == 200, answer.text
    return answer.json()["capabilities"]


def chat(http: httpx.Client, model: str, images: list[str], content: str = TEXT) -> httpx.Response:
    message: dict[str, Any] = {"role": "user", "content": content}
    if images:
        message["images"] = images
    return http.post("/api/chat", json={"model": model, "messages": [message],
                                        "stream": False, "options": OPTIONS})


def answer(http: httpx.Client, model: str, images: list[str], content: str = TEXT
           ) -> tuple[int, str]:
    """(prompt_eval_count, answer text) of a successful chat."""
    response = chat(http, model, images, content)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["prompt_eval_count"], body["message"]["content"]


def test_the_vision_model_reports_vision(http: httpx.Client, vision_model: str) -> None:
    assert capabilities(http, vision_model) == ["completion", "vision"]
    shown = http.post("/api/show", json={"model": vision_model}).json()
    assert shown["projector_info"]["clip.projector_type"] == "mlp"


def test_the_text_model_does_not_report_vision(http: httpx.Client) -> None:
    caps = capabilities(http, MODEL)
    assert "completion" in caps
    assert "vision" not in caps


def test_each_image_adds_its_embeddings_to_the_prompt(
    http: httpx.Client, vision_model: str
) -> None:
    counts = [answer(http, vision_model, [RED] * n)[0] for n in range(3)]
    assert counts[0] < counts[1] < counts[2], counts
    assert counts[1] - counts[0] == VISION_IMAGE_TOKENS, counts
    assert counts[2] - counts[1] == VISION_IMAGE_TOKENS, counts


def test_a_text_model_takes_an_image_as_literal_text(
    http: httpx.Client, vision_model: str
) -> None:
    """The silent failure later tests must rule out: HTTP 200, the image as "[img-0]"."""
    with_image = answer(http, MODEL, [RED])
    assert with_image == answer(http, MODEL, [], "[img-0]" + TEXT)
    assert with_image[0] - answer(http, MODEL, [])[0] != VISION_IMAGE_TOKENS
    # The vision model counts the same request differently.
    assert answer(http, vision_model, [RED])[0] != with_image[0]


def test_the_image_content_reaches_the_model(http: httpx.Client, vision_model: str) -> None:
    """At temperature 0 the answer depends on the pixels: the image is really encoded."""
    answers = {image: answer(http, vision_model, [image])[1] for image in (RED, BLUE, NOISE)}
    assert len(set(answers.values())) == 3, answers
    assert answer(http, vision_model, [RED])[1] == answers[RED]  # and deterministically
    assert answer(http, vision_model, [])[1] not in answers.values()


def test_an_undecodable_image_fails_only_on_the_vision_model(
    http: httpx.Client, vision_model: str
) -> None:
    garbage = b64(b"not an image at all")
    failed = chat(http, vision_model, [garbage])
    assert failed.status_code == 500
    assert "image" in failed.json()["error"]
    assert chat(http, MODEL, [garbage]).status_code == 200  # the text model never looks
