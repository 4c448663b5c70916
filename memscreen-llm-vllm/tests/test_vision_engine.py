"""Images reach the real vLLM engine: the tiny vision-language model, over plain HTTP.

No backend code here: these pin what vLLM 0.32 itself does with image content parts, so
the plugin's own vision tests can rely on it. Measured on the tiny VLM (Idefics3, 112 px
tiles of 16 `<image>` tokens, images resized to at most 448 px; `build_tiny_vlm.py`):
the text-only prompt below is 18 prompt tokens; a 64x64 PNG (upscaled, 4x4 tiles + a
global one) adds 312, a 400x100 one 93, a 100x400 one 96; two images add their sums.

Findings written down as tests:
* a per-part `"uuid"` on an `image_url` part is accepted and is the multimodal cache key:
  a later request may send `{"type": "image_url", "image_url": null, "uuid": ...}` (or
  `{"url": null}`) and gets the same prompt tokens; an unknown uuid without data is a
  400 "Cache miss ..."; vLLM trusts the uuid over the data (a second image under the same
  uuid is read as the first), so a client's uuid must be derived from the image bytes;
  `/tokenize` keeps a cache of its own (chat's uuids are unknown to it and back).
* `POST /tokenize` with `messages` counts image tokens exactly as chat's prompt_tokens,
  without generating, and is a 400 "<served name> is not a multimodal model" on a
  text-only model (chat's 400 too): a cheap "can this model see?" probe.
* offline code knows the loaded model is multimodal from
  `llm.llm_engine.model_config.is_multimodal_model` (also `llm.model_config`): the
  property is `multimodal_config is not None`, checked here on `ModelConfig` itself.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from typing import Any

from conftest import MODEL

from memscreen_llm.testing import data_url, png
from memscreen_llm_vllm.testing import (
    TINY_VLM_NAME,
    Engine,
    VllmServer,
    provision_vlm_or_skip,
    regex_for_text,
)

TEXT = [{"type": "text", "text": "What is this?"}]
TILE_TOKENS = 16  # <image> tokens per 112 px tile (build_tiny_vlm.IMAGE_SEQ_LEN)


SQUARE = data_url(png(64, 64))
WIDE = data_url(png(400, 100, (30, 200, 30)))
TALL = data_url(png(100, 400, (30, 30, 200)))


def image_part(url: str | None, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, **extra}


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [*TEXT, *parts]}]


def post(server: VllmServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        server.host_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def chat(server: VllmServer, messages: list[dict[str, Any]], **extra: Any) -> tuple[int, Any]:
    """(status, prompt_tokens) on 200, else (status, the error message)."""
    body = {"model": server.model, "messages": messages, "max_tokens": 1, **extra}
    status, data = post(server, "/v1/chat/completions", body)
    if status == 200:
        return status, data["usage"]["prompt_tokens"]
    return status, data["error"]["message"]


def tokenize(server: VllmServer, messages: list[dict[str, Any]]) -> tuple[int, Any]:
    """(status, count) on 200, else (status, the error message)."""
    status, data = post(server, "/tokenize", {"model": server.model, "messages": messages})
    if status == 200:
        return status, data["count"]
    return status, data["error"]["message"]


def ok(result: tuple[int, Any]) -> int:
    status, value = result
    assert status == 200, value
    return int(value)


def fresh_uuid(image_url: str) -> str:
    """A content-derived uuid (what a client should send), unique to this test run."""
    digest = hashlib.sha256(image_url.encode()).hexdigest()[:16]
    return f"{digest}-{uuid.uuid4().hex[:8]}"


# -- the text-only model first: its server is the session's shared one ----------------------


def test_text_only_model_refuses_an_image(server: VllmServer) -> None:
    assert server.model == MODEL
    status, message = chat(server, user(image_part(SQUARE)))
    assert status == 400
    assert message == f"{MODEL} is not a multimodal model"  # the served name


def test_tokenize_probe_on_the_text_only_model(server: VllmServer) -> None:
    """Text-only messages tokenize; an image part is the same 400 as chat, nothing generated."""
    assert ok(tokenize(server, user())) > 0
    status, message = tokenize(server, user(image_part(SQUARE)))
    assert status == 400
    assert message == f"{MODEL} is not a multimodal model"


# -- the tiny VLM ---------------------------------------------------------------------------


def test_vlm_is_served_under_its_name(vlm: VllmServer) -> None:
    assert vlm.model == TINY_VLM_NAME
    status, data = post(vlm, "/v1/chat/completions", {"model": "nope", "messages": user()})
    assert status == 404, data


def test_prompt_tokens_grow_with_one_image_and_with_two(vlm: VllmServer) -> None:
    text = ok(chat(vlm, user()))
    square = ok(chat(vlm, user(image_part(SQUARE))))
    wide = ok(chat(vlm, user(image_part(WIDE))))
    tall = ok(chat(vlm, user(image_part(TALL))))
    both = ok(chat(vlm, user(image_part(SQUARE), image_part(WIDE))))
    # Every image is at least its global tile and one more; tiles follow the aspect ratio.
    for one in (square, wide, tall):
        assert one >= text + 2 * TILE_TOKENS
    assert square > wide
    assert wide != tall
    # Two images: each one's tokens, counted once.
    assert both == text + (square - text) + (wide - text)
    # Measured on vLLM 0.32 (see the module docstring); a change here is worth knowing.
    assert (text, square, wide, tall, both) == (18, 330, 111, 114, 423)


def test_the_same_image_in_a_text_part_order_counts_the_same(vlm: VllmServer) -> None:
    before = [{"role": "user", "content": [image_part(WIDE), *TEXT]}]
    assert ok(chat(vlm, before)) == ok(chat(vlm, user(image_part(WIDE))))


def test_structured_outputs_force_the_text_with_an_image(vlm: VllmServer) -> None:
    body = {
        "model": vlm.model,
        "messages": user(image_part(TALL)),
        "max_tokens": 20,
        "temperature": 0,
        "structured_outputs": {"regex": regex_for_text("A blue bar.")},
    }
    status, data = post(vlm, "/v1/chat/completions", body)
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "A blue bar."
    assert data["usage"]["prompt_tokens"] == ok(chat(vlm, user(image_part(TALL))))


def test_three_images_are_over_the_limit(vlm: VllmServer) -> None:
    status, message = chat(vlm, user(*[image_part(SQUARE)] * 3))
    assert status == 400
    assert "At most 2 image(s) may be provided in one prompt." in message


def test_bad_base64_is_a_400(vlm: VllmServer) -> None:
    status, message = chat(vlm, user(image_part("data:image/png;base64,not-base64!!")))
    assert status == 400
    assert "base64" in message.lower(), message  # "Non-base64 digit found"


def test_base64_that_is_no_image_is_a_400(vlm: VllmServer) -> None:
    status, message = chat(vlm, user(image_part(data_url(b"not an image at all"))))
    assert status == 400
    assert "Failed to load image" in message


# -- (a) a per-part uuid: vLLM's multimodal cache key ---------------------------------------


def test_uuid_is_accepted_and_a_later_request_may_omit_the_image(vlm: VllmServer) -> None:
    key = fresh_uuid(TALL)
    plain = ok(chat(vlm, user(image_part(TALL))))
    assert ok(chat(vlm, user(image_part(TALL, uuid=key)))) == plain
    # The same uuid, no data: the cached, processed image is used.
    no_url = {"type": "image_url", "image_url": None, "uuid": key}
    assert ok(chat(vlm, user(no_url))) == plain
    assert ok(chat(vlm, user(image_part(None, uuid=key)))) == plain
    # Next to a new image that comes with its data.
    text, wide = ok(chat(vlm, user())), ok(chat(vlm, user(image_part(WIDE))))
    assert ok(chat(vlm, user(no_url, image_part(WIDE)))) == plain + wide - text


def test_an_unknown_uuid_without_data_is_a_400(vlm: VllmServer) -> None:
    part = {"type": "image_url", "image_url": None, "uuid": fresh_uuid("never sent")}
    status, message = chat(vlm, user(part))
    assert status == 400
    assert "Cache miss for image at index 0 but data is not provided." in message


def test_a_part_needs_its_type_even_with_a_uuid(vlm: VllmServer) -> None:
    key = fresh_uuid(TALL)
    ok(chat(vlm, user(image_part(TALL, uuid=key))))
    status, message = chat(vlm, user({"uuid": key}))
    assert status == 400
    assert "Missing 'type' field" in message


def test_the_uuid_is_trusted_over_the_data(vlm: VllmServer) -> None:
    """A second image under a known uuid is read as the first: uuids must hash the bytes."""
    key = fresh_uuid(TALL)
    tall = ok(chat(vlm, user(image_part(TALL, uuid=key))))
    wide = ok(chat(vlm, user(image_part(WIDE))))
    assert tall != wide
    assert ok(chat(vlm, user(image_part(WIDE, uuid=key)))) == tall


def test_tokenize_keeps_a_cache_of_its_own(vlm: VllmServer) -> None:
    key = fresh_uuid(TALL)
    no_url = {"type": "image_url", "image_url": None, "uuid": key}
    ok(chat(vlm, user(image_part(TALL, uuid=key))))
    status, message = tokenize(vlm, user(no_url))
    assert status == 400
    assert "Cache miss" in message
    other = fresh_uuid(TALL)
    count = ok(tokenize(vlm, user(image_part(TALL, uuid=other))))
    assert ok(tokenize(vlm, user({**no_url, "uuid": other}))) == count
    assert chat(vlm, user({**no_url, "uuid": other}))[0] == 400


# -- (b) /tokenize as a "can this model see?" probe ------------------------------------------


def test_tokenize_counts_image_tokens_like_chat(vlm: VllmServer) -> None:
    for messages in (
        user(),
        user(image_part(SQUARE)),
        user(image_part(TALL)),
        user(image_part(SQUARE), image_part(WIDE)),
    ):
        assert ok(tokenize(vlm, messages)) == ok(chat(vlm, messages))
    assert ok(tokenize(vlm, user(image_part(SQUARE)))) > ok(tokenize(vlm, user()))


def test_tokenize_refuses_what_chat_refuses(vlm: VllmServer) -> None:
    status, message = tokenize(vlm, user(*[image_part(SQUARE)] * 3))
    assert status == 400
    assert "At most 2 image(s)" in message
    status, message = tokenize(vlm, user(image_part(data_url(b"no image"))))
    assert status == 400
    assert "Failed to load image" in message


# -- (c) offline: is the loaded model multimodal? -------------------------------------------

OFFLINE_CHECK = """
import json, sys
from vllm.config import ModelConfig
print(json.dumps({d: ModelConfig(model=d, dtype="float32", max_model_len=1024)
                  .is_multimodal_model for d in sys.argv[1:]}))
"""


def test_model_config_says_which_model_is_multimodal(engine: Engine) -> None:
    """What `llm.llm_engine.model_config.is_multimodal_model` reads, without an engine."""
    vlm_dir, tiny_dir = str(provision_vlm_or_skip(engine)), str(engine.model_dir)
    proc = subprocess.run(
        [str(engine.python), "-c", OFFLINE_CHECK, vlm_dir, tiny_dir],
        capture_output=True,
        text=True,
        env=engine.environ(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {vlm_dir: True, tiny_dir: False}
