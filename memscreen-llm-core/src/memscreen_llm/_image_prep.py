"""Screenshot preprocessing: downscale, re-encode, size cap, once per image.

Pillow is the optional extra `memscreen-llm-core[vision]`. Without it an image passes
through as it came (type-checked, size-capped); a setting that needs Pillow says so.
A screen-memory app sends the same screenshot many times (history, retries, fallbacks):
results are kept by the bytes' digest and the settings, so each is processed once.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Any

import attrs

from ._image_part import ImagePart, sniff_mime
from .errors import ImageError

FORMATS = ("jpeg", "webp", "png")
LOW_DETAIL_SIDE = 512  # what "low" detail means here: OpenAI's low-res image is 512 px
_INSTALL = "pip install 'memscreen-llm-core[vision]'"
_KEPT = 64  # prepared images kept (a few screenshots of history, each a few hundred KB)


@attrs.frozen
class ImageSettings:
    """How images are prepared before sending; from the backend's config (`image_*`)."""

    max_side: int | None = None
    format: str | None = None
    quality: int = 85
    max_bytes: int = 20_000_000
    detail: str = "auto"

    @classmethod
    def from_config(cls, config: Any) -> ImageSettings:
        return cls(max_side=getattr(config, "image_max_side", None),
                   format=getattr(config, "image_format", None),
                   quality=getattr(config, "image_quality", 85),
                   max_bytes=getattr(config, "image_max_bytes", 20_000_000),
                   detail=getattr(config, "image_detail", "auto"))

    def side_for(self, detail: str) -> int | None:
        """The longest side an image of this detail is scaled down to (None: as it is)."""
        if detail == "low":
            return min(LOW_DETAIL_SIDE, self.max_side or LOW_DETAIL_SIDE)
        return self.max_side


def pillow_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("PIL") is not None


class _Prepared:
    """Prepared images by (digest, detail, settings), least recently used dropped."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[object, ...], ImagePart] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> ImagePart | None:
        with self._lock:
            part = self._items.get(key)
            if part is not None:
                self._items.move_to_end(key)
            return part

    def put(self, key: tuple[object, ...], part: ImagePart) -> None:
        with self._lock:
            self._items[key] = part
            while len(self._items) > _KEPT:
                self._items.popitem(last=False)


_prepared = _Prepared()


def prepare_image(part: ImagePart, settings: ImageSettings, where: str) -> ImagePart:
    """`part` scaled and re-encoded as `settings` ask, then checked against the size cap."""
    side = settings.side_for(part.detail)
    if side is None and settings.format is None:
        return _capped(part, settings, where)
    key = (part.digest, part.detail, side, settings.format, settings.quality)
    done = _prepared.get(key)
    if done is None:
        done = _with_pillow(part, side, settings, where)
        _prepared.put(key, done)
    elif done.origin != part.origin:
        done = attrs.evolve(done, origin=part.origin)  # the same bytes, sent from elsewhere
    return _capped(done, settings, where)


def _capped(part: ImagePart, settings: ImageSettings, where: str) -> ImagePart:
    if len(part.data) > settings.max_bytes:
        raise ImageError(where, f"{part.origin} is {len(part.data):,} bytes, over "
                         f"image_max_bytes={settings.max_bytes:,}",
                         "set image_max_side (e.g. 1280) and image_format='jpeg' to shrink it "
                         f"({_INSTALL}), or raise image_max_bytes")
    return part


def _with_pillow(part: ImagePart, side: int | None, settings: ImageSettings,
                 where: str) -> ImagePart:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        asked = (f"image_max_side={settings.max_side}" if settings.max_side else
                 f"image_format={settings.format!r}" if settings.format else
                 f"detail={part.detail!r}")
        raise ImageError(where, f"{asked} needs Pillow to resize or re-encode images",
                         f"{_INSTALL}, or unset it to send images as they are") from None
    try:
        image: Image.Image = Image.open(io.BytesIO(part.data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(where, f"{part.origin} cannot be decoded: {exc}",
                         "send a complete PNG, JPEG, GIF or WebP file") from None
    if side is not None and max(image.size) > side:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    elif settings.format is None:
        return part  # already small enough and no re-encode asked: the original bytes
    fmt = settings.format or _format_of(part.mime)
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")  # JPEG has no alpha; screenshots are opaque anyway
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": settings.quality} if fmt in ("jpeg", "webp") else {}
    image.save(out, format=fmt.upper(), **options)
    data = out.getvalue()
    return ImagePart(data, sniff_mime(data) or f"image/{fmt}", part.detail, part.origin)


def _format_of(mime: str) -> str:
    name = mime.partition("/")[2]
    return name if name in FORMATS else "png"
