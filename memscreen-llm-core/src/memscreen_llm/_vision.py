"""Images in chat messages, in either shape, as one: content parts holding `ImagePart`s.

Apps send OpenAI content parts (`{"type": "image_url", "image_url": {"url": ...,
"detail": ...}}`) or Ollama's `images: [...]` beside the text (MemScreen does), or a single
part dict as content (mem0). A message with images leaves here as
`{"role": ..., "content": [ImagePart, ..., {"type": "text", "text": ...}, ...]}` (an
`images` list first, as Ollama places them), each image loaded, checked and prepared
once; each backend maps those parts to its wire shape. Messages without images pass
through untouched, so text calls pay one scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._image_part import DETAILS, ImagePart, load_image
from ._image_prep import ImageSettings, prepare_image
from .errors import ImageError

IMAGE_PART_TYPES = ("image_url", "image")


def _is_image_part(part: Any) -> bool:
    return isinstance(part, ImagePart) or (
        isinstance(part, Mapping) and part.get("type") in IMAGE_PART_TYPES)


def carries_images(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    if message.get("images"):
        return True
    if isinstance(content, Mapping):
        return _is_image_part(content)
    return isinstance(content, list | tuple) and any(_is_image_part(p) for p in content)


def has_images(messages: Sequence[Mapping[str, Any]]) -> bool:
    return any(carries_images(message) for message in messages)


def count_images(messages: Sequence[Mapping[str, Any]]) -> int:
    """Image parts in normalised messages."""
    return sum(isinstance(part, ImagePart) for message in messages
               if isinstance(message.get("content"), list) for part in message["content"])


def needs_normalizing(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Images, or an `images` key even empty (Ollama's, which no other engine reads)."""
    return any("images" in message or carries_images(message) for message in messages)


def normalize_messages(messages: Sequence[Mapping[str, Any]],
                       settings: ImageSettings) -> tuple[Mapping[str, Any], ...]:
    """`messages` with every image as a prepared `ImagePart` content part."""
    return tuple(_normalized(message, index, settings)
                 if "images" in message or carries_images(message) else message
                 for index, message in enumerate(messages))


def _normalized(message: Mapping[str, Any], index: int,
                settings: ImageSettings) -> dict[str, Any]:
    where = f"messages[{index}]"
    parts: list[Any] = []
    images = message.get("images")
    if images is not None:
        if isinstance(images, str | bytes | bytearray) or not isinstance(images, Sequence):
            raise ImageError(f"{where}.images", f"must be a list of images, got "
                             f"{type(images).__name__}", "wrap it in a list: images=[image]")
        for number, image in enumerate(images):
            at = f"{where}.images[{number}]"
            parts.append(prepare_image(load_image(image, at, settings.detail), settings, at))
    content = message.get("content")
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "text": content})
    elif isinstance(content, Mapping):
        parts.append(_part(content, f"{where}.content", settings))
    elif isinstance(content, list | tuple):
        parts += [_part(part, f"{where}.content[{number}]", settings)
                  for number, part in enumerate(content)]
    out = {key: value for key, value in message.items() if key != "images"}
    if any(isinstance(part, ImagePart) for part in parts):
        out["content"] = parts
    return out


def _part(part: Any, where: str, settings: ImageSettings) -> Any:
    if isinstance(part, ImagePart):
        return prepare_image(part, settings, where)
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind not in IMAGE_PART_TYPES:
        return part  # text, or a part type the backend decides on (audio, video...)
    if kind == "image":
        value, detail = part.get("image"), part.get("detail")
    else:
        image_url = part.get("image_url")
        value = image_url.get("url") if isinstance(image_url, Mapping) else image_url
        detail = image_url.get("detail") if isinstance(image_url, Mapping) else None
    if value is None:
        shape = ("{'type': 'image', 'image': ...}" if kind == "image" else
                 "{'type': 'image_url', 'image_url': {'url': ...}}")
        raise ImageError(where, f"the {kind!r} part holds no image", f"use {shape}")
    detail = settings.detail if detail is None else detail
    if detail not in DETAILS:
        raise ImageError(where, f"detail {detail!r} is not one of {', '.join(DETAILS)}",
                         "use 'auto', 'low' (512 px) or 'high'")
    return prepare_image(load_image(value, where, detail), settings, where)
