"""Images for backends: the one typed part every input shape becomes, and its wire shapes.

A backend that declares `Capability.VISION` receives messages whose images are
`ImagePart`s among the content parts (core loaded, checked and prepared them, see
docs/VISION.md) and maps each with `openai_image_part` or `ImagePart.base64()`.
"""

from __future__ import annotations

from typing import Any

from ._image_part import DETAILS, ImagePart, load_image, sniff_mime
from ._image_prep import ImageSettings, pillow_available, prepare_image
from ._vision import count_images, has_images, normalize_messages

__all__ = [
    "DETAILS",
    "ImagePart",
    "ImageSettings",
    "count_images",
    "has_images",
    "load_image",
    "normalize_messages",
    "openai_image_part",
    "pillow_available",
    "prepare_image",
    "sniff_mime",
]


def openai_image_part(part: ImagePart, *, uuid: bool = False) -> dict[str, Any]:
    """The chat-completions `image_url` part (a data URL); `uuid=True` adds the bytes'
    digest as the item's cache key, for engines that read one (vLLM)."""
    image_url: dict[str, Any] = {"url": part.data_url()}
    if part.detail != "auto":
        image_url["detail"] = part.detail
    out: dict[str, Any] = {"type": "image_url", "image_url": image_url}
    if uuid:
        out["uuid"] = part.digest
    return out
