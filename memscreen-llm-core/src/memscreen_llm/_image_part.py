"""One image, whatever shape it came in: `ImagePart`, and the loaders for every input shape.

The shapes apps send (docs/VISION.md): a data URL, an http(s) URL, a local path (str,
`file://` or `os.PathLike`), base64 text (Ollama's `images`), raw bytes, or a PIL image.
Each is read once into bytes whose type is checked from their first bytes, so garbage
never reaches an engine (a text-only Ollama model would turn it into "[img-0]").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Any

import attrs

from ._urls import redact_url
from .errors import ImageError

DETAILS = ("auto", "low", "high")
# Longest URL/path shown in an error: a data URL can be megabytes.
_SHOWN = 80
_FETCH_TIMEOUT = 30.0  # seconds for an http(s) image; the call's own deadline is separate


def sniff_mime(data: bytes) -> str | None:
    """The image type from its first bytes (PNG, JPEG, GIF, WebP, BMP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM") and len(data) > 26:
        return "image/bmp"
    return None


@attrs.frozen(eq=False)
class ImagePart:
    """An image as backends receive it: its bytes, their MIME type, the detail asked for,
    and where it came from (for errors; a URL's password is redacted). `digest` (sha256 of
    the bytes) names it in engine caches (vLLM's multimodal `uuid`) and in ours."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    mime: str
    detail: str = attrs.field(default="auto", validator=attrs.validators.in_(DETAILS))
    origin: str = "bytes"
    digest: str = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ImagePart) and other.digest == self.digest
                and other.detail == self.detail)

    def __hash__(self) -> int:
        return hash((self.digest, self.detail))

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{self.base64()}"


def _shown(text: str) -> str:
    text = redact_url(text) if "://" in text else text
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _checked(data: bytes, where: str, origin: str, detail: str) -> ImagePart:
    mime = sniff_mime(data)
    if mime is None:
        head = data[:12]
        raise ImageError(where, f"not an image: {origin} ({len(data)} bytes starting "
                         f"{head!r}) is no PNG, JPEG, GIF, WebP or BMP",
                         "send the image file's bytes, base64 of them, or a data: URL")
    return ImagePart(data, mime, detail, origin)


def load_image(value: Any, where: str, detail: str = "auto") -> ImagePart:
    """`value` in any accepted shape as an `ImagePart`; an ImageError (naming `where`, the
    problem and the fix) for anything unreadable, missing or unreachable."""
    if isinstance(value, ImagePart):
        return value if value.detail == detail else attrs.evolve(value, detail=detail)
    if isinstance(value, bytes | bytearray | memoryview):
        return _checked(bytes(value), where, "the raw bytes", detail)
    if isinstance(value, os.PathLike):
        return _from_path(Path(value), where, detail)
    if isinstance(value, str):
        return _from_text(value, where, detail)
    if _is_pil_image(value):
        return _from_pil(value, where, detail)
    raise ImageError(where, f"an image cannot be a {type(value).__name__}",
                     "pass a data: URL, an http(s) URL, a file path, base64 text, bytes or a "
                     "PIL image")


def _from_text(text: str, where: str, detail: str) -> ImagePart:
    if text.startswith("data:"):
        return _from_data_url(text, where, detail)
    if text.startswith(("http://", "https://")):
        return _from_http(text, where, detail)
    if text.startswith("file://"):
        import urllib.parse
        import urllib.request

        return _from_path(Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path)),
                          where, detail)
    if _is_file(text):
        return _from_path(Path(text).expanduser(), where, detail)
    data = _b64decode(text)
    if data is not None and sniff_mime(data) is not None:
        return ImagePart(data, sniff_mime(data) or "", detail, "base64 text")
    if _could_be_path(text) and data is None:
        raise ImageError(where, f"no such image file: {_shown(text)}",
                         "check the path (relative paths are from the current directory: "
                         f"{os.getcwd()})")
    if data is None:
        raise ImageError(where, f"{_shown(text)!r} is neither an image file nor base64 data",
                         "pass a file path, base64 of the image's bytes, or a data: URL")
    return _checked(data, where, "the base64 text", detail)


def _could_be_path(text: str) -> bool:
    # Base64 of a screenshot is megabytes; a path is short and has no newline.
    return 0 < len(text) < 4096 and "\n" not in text


def _is_file(text: str) -> bool:
    if not _could_be_path(text):
        return False
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # base64 text is no name a file system takes (too long)
        return False


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _from_data_url(url: str, where: str, detail: str) -> ImagePart:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise ImageError(where, f"the data: URL {_shown(url)!r} is not base64",
                         "use 'data:image/png;base64,<base64 of the bytes>'")
    data = _b64decode(payload)
    if data is None:
        raise ImageError(where, "the data: URL's base64 is broken",
                         "encode the image's bytes with base64 (standard alphabet, padded)")
    return _checked(data, where, "the data: URL", detail)


def _from_path(path: Path, where: str, detail: str) -> ImagePart:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(where, f"no such image file: {_shown(str(path))}",
                         "check the path (relative paths are from the current directory: "
                         f"{os.getcwd()})") from None
    except OSError as exc:
        raise ImageError(where, f"cannot read the image file {_shown(str(path))}: "
                         f"{exc.strerror or exc}", "check the file and its permissions") from None
    return _checked(data, where, f"the file {_shown(str(path))}", detail)


def _from_http(url: str, where: str, detail: str) -> ImagePart:
    # Fetched here, once, so every backend gets bytes (Ollama takes no URLs) and an
    # unreachable image is our error before the engine is asked, not the engine's.
    import urllib.error
    import urllib.request

    shown = _shown(url)
    try:
        with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        raise ImageError(where, f"fetching the image {shown} gave HTTP {exc.code}",
                         "check the URL, or send the image's bytes instead") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(where, f"cannot fetch the image {shown}: {reason}",
                         "check that the URL is reachable from this machine, or send the "
                         "image's bytes instead") from None
    return _checked(data, where, f"the image at {shown}", detail)


def _is_pil_image(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def _from_pil(image: Any, where: str, detail: str) -> ImagePart:
    import io

    out = io.BytesIO()
    try:
        image.save(out, format="PNG")
    except (OSError, ValueError) as exc:
        raise ImageError(where, f"the PIL image cannot be saved as PNG: {exc}",
                         "convert it first, e.g. image.convert('RGB')") from None
    return ImagePart(out.getvalue(), "image/png", detail, "a PIL image")
