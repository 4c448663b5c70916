"""Backend configuration: `BaseLlmConfig`, the `setting()` field helper and its validators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._urls import redact_url

_META_KEY = "memscreen_llm"
REDACTED = "***"

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
Converter = Callable[[Any], Any]


@attrs.frozen
class SettingInfo:
    """What a config field declares beyond its type: env names, secrecy, help text."""

    env: tuple[str, ...] = ()
    secret: bool = False
    help: str = ""
    url: bool = False  # shown with its userinfo (a password in the URL) redacted


def _redacted_repr(value: object) -> str:
    return repr(None) if value is None else repr(REDACTED)


def _url_repr(value: object) -> str:
    return repr(redact_url(value)) if isinstance(value, str) else repr(value)


def setting(
    default: Any = attrs.NOTHING,
    *,
    validator: Validator | None = None,
    env: tuple[str, ...] = (),
    secret: bool = False,
    help: str = "",
    factory: Callable[[], Any] | None = None,
    converter: Converter | None = None,
) -> Any:
    """An attrs field for a config class; `env` adds names on top of MEMSCREEN_<BACKEND>_<FIELD>.

    A `converter` runs before the validator and must pass values it does not handle
    through unchanged, so the validator can name them.
    """
    info = SettingInfo(env=env, secret=secret, help=help,
                       url=bool(getattr(validator, "is_url", False)))
    return attrs.field(
        default=default if factory is None else attrs.Factory(factory),
        validator=validator,
        converter=converter,
        repr=_redacted_repr if secret else _url_repr if info.url else True,
        metadata={_META_KEY: info},
    )


def setting_info(field: attrs.Attribute[Any]) -> SettingInfo:
    info = field.metadata.get(_META_KEY)
    return info if isinstance(info, SettingInfo) else SettingInfo()


def url_ending(suffix: str) -> Converter:
    """Converter: a URL string gets `suffix` (e.g. "/v1") unless it already ends with it."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        stripped = value.rstrip("/")
        return stripped if stripped.endswith(suffix) else stripped + suffix

    return convert


# --- validators: each raises ValueError/TypeError saying what a good value looks like ---


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))  # NaN != NaN


def number(
    *, min: float | None = None, max: float | None = None, min_exclusive: bool = False,
    optional: bool = False,
) -> Validator:
    """A float (ints accepted) within [min, max]; `min_exclusive` makes the lower bound open."""

    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not _is_number(value):
            raise TypeError(f"{field.name} must be a number, got {type(value).__name__}")
        if not _finite(value):
            raise ValueError(f"{field.name} must be a finite number, got {value}")
        if min is not None and (value <= min if min_exclusive else value < min):
            raise ValueError(f"{field.name} must be {'>' if min_exclusive else '>='} {min}")
        if max is not None and value > max:
            raise ValueError(f"{field.name} must be <= {max}")

    return check


def integer(*, min: int | None = None, max: int | None = None, optional: bool = False) -> Validator:
    """An int within [min, max]."""

    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{field.name} must be an integer, got {type(value).__name__}")
        if min is not None and value < min:
            raise ValueError(f"{field.name} must be >= {min}")
        if max is not None and value > max:
            raise ValueError(f"{field.name} must be <= {max}")

    return check


def string(*, optional: bool = False, choices: tuple[str, ...] | None = None) -> Validator:
    """A non-empty string, optionally one of `choices`."""

    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise TypeError(f"{field.name} must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{field.name} must not be empty")
        if choices is not None and value not in choices:
            raise ValueError(f"{field.name} must be one of: {', '.join(choices)}")

    return check


def boolean() -> Validator:
    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"{field.name} must be true or false, got {type(value).__name__}")

    return check


def http_url(*, optional: bool = False) -> Validator:
    """An absolute http(s) URL with a host."""

    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise TypeError(f"{field.name} must be a URL string, got {type(value).__name__}")
        if value != value.strip() or any(char.isspace() for char in value):
            raise ValueError(f"{field.name} must not contain spaces: {value!r}")
        import urllib.parse  # here: config classes are imported at discovery, URLs checked later

        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"{field.name} must be an http:// or https:// URL with a host, "
                "e.g. http://localhost:11434"
            )
        try:
            parsed.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"{field.name} has a bad port: {exc}") from None

    check.is_url = True  # type: ignore[attr-defined]  # setting() redacts such fields
    return check


def mapping(*, optional: bool = True) -> Validator:
    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, dict):
            raise TypeError(f"{field.name} must be a table/object, got {type(value).__name__}")

    return check


def string_list() -> Validator:
    def check(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{field.name} must be a list of strings")

    return check


@attrs.frozen(kw_only=True)
class BaseLlmConfig:
    """Fields every backend has; each backend subclasses it with its own."""

    model: str | None = setting(None, validator=string(optional=True), help="model name")
    temperature: float = setting(0.1, validator=number(min=0, max=2), help="sampling temperature")
    top_p: float | None = setting(
        None, validator=number(min=0, min_exclusive=True, max=1, optional=True),
        help="nucleus sampling; unset = engine default",
    )
    top_k: int | None = setting(
        None, validator=integer(min=0, optional=True), help="top-k sampling; unset = engine default"
    )
    max_tokens: int | None = setting(
        2000, validator=integer(min=1, optional=True), help="most tokens to generate"
    )
    seed: int | None = setting(None, validator=integer(optional=True), help="sampling seed")
    # The limits of one call (docs/TIMEOUTS.md); the deadline transport enforces them.
    timeout: float = setting(
        120.0, validator=number(min=0, min_exclusive=True),
        help="seconds a whole call may take: connecting, retries, backoff, the whole answer",
    )
    first_token_timeout: float | None = setting(
        60.0, validator=number(min=0, min_exclusive=True, optional=True),
        help="seconds a stream may take to its first delta (a cold model load counts)",
    )
    stream_idle_timeout: float | None = setting(
        30.0, validator=number(min=0, min_exclusive=True, optional=True),
        help="seconds a stream may go without a delta",
    )
    max_retries: int = setting(
        2, validator=integer(min=0, max=10),
        help="retries of a call that failed before any output (connect errors, 408/429/5xx)",
    )
    api_key: str | None = setting(
        None, validator=string(optional=True), secret=True, help="API key, if the server wants one"
    )
    # How images are prepared before sending (docs/VISION.md); resizing needs Pillow.
    image_detail: str = setting(
        "auto", validator=string(choices=("auto", "low", "high")),
        help="detail of an image part that sets none: low = scaled to 512 px (needs Pillow)",
    )
    image_max_side: int | None = setting(
        None, validator=integer(min=16, optional=True),
        help="scale images down to this longest side in pixels (needs Pillow)",
    )
    image_format: str | None = setting(
        None, validator=string(optional=True, choices=("jpeg", "webp", "png")),
        help="re-encode images as jpeg, webp or png (needs Pillow); unset = as sent",
    )
    image_quality: int = setting(
        85, validator=integer(min=1, max=100), help="JPEG/WebP quality when re-encoding",
    )
    image_max_bytes: int = setting(
        20_000_000, validator=integer(min=1),
        help="largest image sent, in bytes after preparing; bigger is an error",
    )

    def replace(self, **changes: Any) -> BaseLlmConfig:
        """A copy with some fields changed, validated again."""
        return attrs.evolve(self, **changes)

    def public_dict(self) -> dict[str, Any]:
        """The fields as a dict, secrets redacted: safe to log or print."""
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            info = setting_info(field)
            if info.secret and value is not None:
                value = REDACTED
            elif info.url and isinstance(value, str):
                value = redact_url(value)
            out[field.name] = value
        return out
