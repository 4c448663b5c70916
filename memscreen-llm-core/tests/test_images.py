"""Images in core: every input shape becomes one `ImagePart`, prepared once, or a typed
error that names the message and the fix. The engines' side (what reaches them) is in
the Ollama and vLLM suites, against the real engines."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from memscreen_llm import (
    BaseLlmConfig,
    Capability,
    CapabilityError,
    ChatResult,
    HealthReport,
    ImageError,
    ImagePart,
    LLMBase,
)
from memscreen_llm.images import (
    ImageSettings,
    load_image,
    normalize_messages,
    openai_image_part,
    prepare_image,
)
from memscreen_llm.testing import free_port, image_server


def _png(width: int = 64, height: int = 40, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _screenshot(width: int, height: int) -> bytes:
    """A PNG with detail in it (noise), so it is as big as a real screenshot's."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(out, "PNG")
    return out.getvalue()


PNG = _png()
B64 = base64.b64encode(PNG).decode()


class Seeing(LLMBase):
    capabilities = frozenset({Capability.VISION})

    def _chat(self, request: Any) -> ChatResult:
        return ChatResult(content=str(request.images))

    def _health(self) -> HealthReport:
        return HealthReport(self.backend_name, [])


class Blind(Seeing):
    capabilities = frozenset()


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "shot.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture
def http_image() -> Iterator[str]:
    with image_server(PNG) as url:
        yield url


def test_every_input_shape_is_the_same_image(png_file: Path, http_image: str) -> None:
    shapes: list[Any] = [PNG, bytearray(PNG), B64, f"data:image/png;base64,{B64}",
                         str(png_file), png_file, png_file.as_uri(), f"{http_image}/shot.png"]
    parts = [load_image(shape, "here") for shape in shapes]
    assert {part.digest for part in parts} == {parts[0].digest}
    assert all(part.mime == "image/png" and part.data == PNG for part in parts)
    # A PIL image is encoded once, as PNG: the same pixels.
    from_pil = load_image(Image.open(io.BytesIO(PNG)), "here")
    assert from_pil.mime == "image/png"
    assert Image.open(io.BytesIO(from_pil.data)).tobytes() == Image.open(
        io.BytesIO(PNG)).tobytes()


def test_both_message_shapes_become_image_parts_and_text_stays_untouched() -> None:
    text_only = {"role": "system", "content": "be brief"}
    ollama_style = {"role": "user", "content": "what is on screen?", "images": [B64, PNG]}
    openai_style = {"role": "user", "content": [
        {"type": "text", "text": "and here?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}",
                                            "detail": "high"}}]}
    mem0_style = {"role": "user", "content": {"type": "image_url",
                                              "image_url": {"url": f"data:image/png;base64,{B64}"}}}
    out = normalize_messages([text_only, ollama_style, openai_style, mem0_style],
                             ImageSettings())
    assert out[0] is text_only  # no image: not even copied
    first = out[1]["content"]
    assert "images" not in out[1]
    assert [type(p).__name__ for p in first] == ["ImagePart", "ImagePart", "dict"]
    assert first[2] == {"type": "text", "text": "what is on screen?"}  # images first, as Ollama
    second = out[2]["content"]
    assert second[0] == {"type": "text", "text": "and here?"}
    assert isinstance(second[1], ImagePart) and second[1].detail == "high"
    assert isinstance(out[3]["content"][0], ImagePart)
    assert ollama_style["images"] == [B64, PNG]  # the caller's message is not changed


def test_a_backend_gets_the_count_and_one_that_cannot_see_refuses() -> None:
    config = BaseLlmConfig(model="m")
    messages = [{"role": "user", "content": "look", "images": [PNG, PNG]}]
    request = Seeing(config).build_request(messages)
    assert request.images == 2
    assert Seeing(config).chat(messages).content == "2"
    assert Seeing(config).build_request([{"role": "user", "content": "hi"}]).images == 0
    with pytest.raises(CapabilityError, match="does not support vision"):
        Blind(config).chat(messages)
    assert Blind(config).can_see() is False and Seeing(config).can_see() is None


@pytest.mark.parametrize(("image", "words"), [
    ("no/such/shot.png", "no such image file: no/such/shot.png"),
    (b"GIF8 not really", "not an image: the raw bytes"),
    ("aGVsbG8gd29ybGQ=", "not an image: the base64 text"),
    ("data:image/png;base64,%%%", "the data: URL's base64 is broken"),
    ("data:image/png,rawtext", "is not base64"),
    (12, "an image cannot be a int"),
])
def test_unreadable_images_are_typed_errors_naming_the_message(image: Any, words: str) -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "user", "content": "y",
                                                   "images": [PNG, image]}]
    with pytest.raises(ImageError) as err:
        Seeing(BaseLlmConfig(model="m")).chat(messages)
    assert err.value.where == "messages[1].images[1]" and words in str(err.value)
    assert "fix:" in str(err.value)


def test_an_image_url_that_cannot_be_fetched_is_our_error(http_image: str) -> None:
    with pytest.raises(ImageError, match="gave HTTP 404"):
        load_image(f"{http_image}/missing.png", "messages[0].content[1]")
    closed = f"http://127.0.0.1:{free_port()}/shot.png"
    with pytest.raises(ImageError, match="cannot fetch the image") as err:
        load_image(closed, "messages[0].content[1]")
    assert "reachable" in str(err.value)


def test_a_password_in_an_image_url_is_not_shown() -> None:
    url = f"http://user:SECRET@127.0.0.1:{free_port()}/shot.png"
    with pytest.raises(ImageError) as err:
        load_image(url, "here")
    assert "SECRET" not in str(err.value)


@pytest.mark.parametrize(("part", "words"), [
    ({"type": "image_url"}, "holds no image"),
    ({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}",
                                         "detail": "ultra"}}, "detail 'ultra'"),
])
def test_bad_image_parts(part: dict[str, Any], words: str) -> None:
    with pytest.raises(ImageError, match=words):
        normalize_messages([{"role": "user", "content": [part]}], ImageSettings())


def test_images_must_be_a_list() -> None:
    with pytest.raises(ImageError, match="wrap it in a list"):
        normalize_messages([{"role": "user", "content": "x", "images": B64}], ImageSettings())


def test_a_screenshot_is_scaled_and_reencoded_once() -> None:
    shot = _screenshot(2560, 1600)
    settings = ImageSettings(max_side=1280, format="jpeg", quality=80)
    part = prepare_image(load_image(shot, "here"), settings, "here")
    assert part.mime == "image/jpeg" and Image.open(io.BytesIO(part.data)).size == (1280, 800)
    assert len(part.data) < len(shot)
    again = prepare_image(load_image(shot, "there"), settings, "there")
    assert again.data is part.data  # prepared once: the same bytes from the cache
    low = prepare_image(load_image(shot, "here", detail="low"), ImageSettings(), "here")
    assert Image.open(io.BytesIO(low.data)).size == (512, 320) and low.mime == "image/png"
    small = load_image(PNG, "here")
    assert prepare_image(small, ImageSettings(max_side=1280), "here") is small  # fits


def test_the_size_cap_is_checked_after_preparing() -> None:
    shot = _png(800, 600)
    with pytest.raises(ImageError, match="over image_max_bytes=100") as err:
        prepare_image(load_image(shot, "m"), ImageSettings(max_bytes=100), "m")
    assert "image_max_side" in str(err.value)
    fitted = prepare_image(load_image(shot, "m"),
                           ImageSettings(max_side=32, format="jpeg", max_bytes=5000), "m")
    assert len(fitted.data) <= 5000


def test_config_fields_drive_the_preparing() -> None:
    config = BaseLlmConfig(model="m", image_max_side=100, image_format="webp",
                           image_detail="high")
    request = Seeing(config).build_request([{"role": "user", "content": "x",
                                             "images": [_png(400, 200)]}])
    part = request.messages[0]["content"][0]
    assert part.mime == "image/webp" and part.detail == "high"
    assert Image.open(io.BytesIO(part.data)).size == (100, 50)


def test_without_pillow_images_pass_as_they_are_and_resizing_says_what_to_install(
        tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["PIL"] = None  # as if Pillow were not installed
from memscreen_llm import ImageError
from memscreen_llm.images import ImageSettings, load_image, pillow_available, prepare_image
assert not pillow_available()
png = bytes.fromhex({PNG.hex()!r})
assert prepare_image(load_image(png, "m"), ImageSettings(), "m").data == png
try:
    prepare_image(load_image(png, "m"), ImageSettings(max_side=10), "m")
except ImageError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "image_max_side=10 needs Pillow" in out
    assert "pip install 'memscreen-llm-core[vision]'" in out


def test_the_openai_wire_shape() -> None:
    part = load_image(PNG, "m", detail="low")
    wire = openai_image_part(part, uuid=True)
    assert wire == {"type": "image_url", "uuid": part.digest,
                    "image_url": {"url": f"data:image/png;base64,{B64}", "detail": "low"}}
    assert "detail" not in openai_image_part(load_image(PNG, "m"))["image_url"]
    # wire_messages (memscreen_llm.openai_compat, needs openai) is checked in the vLLM
    # plugin's test_units.py: core's tests run without any engine SDK.


def test_image_parts_repr_shows_no_bytes() -> None:
    assert "bytes>" in repr(load_image(PNG, "m")) and B64[:20] not in repr(load_image(PNG, "m"))


def test_an_empty_images_list_is_no_image_and_is_not_sent_on() -> None:
    message = {"role": "user", "content": "hi", "images": []}
    request = Seeing(BaseLlmConfig(model="m")).build_request([message])
    assert request.images == 0 and request.messages[0] == {"role": "user", "content": "hi"}
    assert Blind(BaseLlmConfig(model="m")).chat([message]).content == "0"  # no vision needed


def test_base64_text_that_is_no_possible_file_name_is_read_as_base64() -> None:
    # A small image's base64 is short enough to be tried as a path, with a component
    # longer than a file system takes (ENAMETOOLONG): still base64.
    small = _png(120, 80)
    text = base64.b64encode(small).decode()
    assert len(text) < 4096 and max(len(piece) for piece in text.split("/")) > 255
    assert load_image(text, "m").data == small
