"""Turning text (env vars, `--set FIELD=VALUE`) into a config field's type."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NULL = {"", "none", "null"}


def _parts(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return (tp,)


def from_text(text: str, tp: Any) -> Any:
    """The value `text` means for a field of type `tp`; ValueError says what was expected."""
    parts = _parts(tp)
    stripped = text.strip()
    if type(None) in parts and stripped.lower() in _NULL:
        return None
    errors: list[str] = []
    for part in (p for p in parts if p is not type(None)):
        try:
            return _one(stripped, text, part)
        except ValueError as exc:
            errors.append(str(exc))
    raise ValueError(" or ".join(errors) or f"cannot read {text!r}")


def _one(stripped: str, raw: str, tp: Any) -> Any:
    origin = typing.get_origin(tp) or tp
    if tp is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ValueError("expected true/false")
    if tp is int:
        try:
            return int(stripped)
        except ValueError:
            raise ValueError("expected an integer") from None
    if tp is float:
        try:
            return float(stripped)
        except ValueError:
            raise ValueError("expected a number") from None
    if tp is str or tp is Any:
        return raw
    if origin in (dict, typing.Mapping) or origin is _abc_mapping():
        value = _json(stripped)
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value
    if origin in (list, tuple):
        if stripped.startswith("["):
            value = _json(stripped)
            if not isinstance(value, list):
                raise ValueError("expected a JSON list")
            return value
        return [item.strip() for item in stripped.split(",") if item.strip()]
    literal = typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None
    if literal:
        if stripped in literal:
            return stripped
        raise ValueError(f"expected one of {', '.join(map(str, literal))}")
    raise ValueError(f"cannot read a {tp!r} from text")


def _abc_mapping() -> Any:
    import collections.abc

    return collections.abc.Mapping


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected JSON ({exc.msg})") from None
