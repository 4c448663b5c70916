"""Typing a tool-call parameter's raw text by the tool's JSON schema (docs/FORMAT.md section 3)."""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

# Marks a failed conversion; None cannot, since `null` legitimately converts to None.
_FAILED: Any = object()

# JSON-schema type names plus the loose aliases tool authors write; other names are strings.
_KIND_BY_TYPE = {
    "string": "string",
    "str": "string",
    "text": "string",
    "enum": "string",
    "integer": "number",
    "int": "number",
    "number": "number",
    "float": "number",
    "double": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "object": "json",
    "dict": "json",
    "array": "json",
    "list": "json",
}


def typed_value(raw: str, schema: Mapping[str, Any] | None) -> Any:
    """The JSON value for `raw` under `schema` (None: parameter or tool not described)."""
    if raw.strip().lower() == "null":
        return None  # `null` means None whatever the declared type
    if schema is None:
        return raw
    for kind in _kinds(schema):
        value = _CONVERTERS[kind](raw)
        if value is not _FAILED:
            return value
    return raw


def _kinds(schema: Mapping[str, Any]) -> list[str]:
    """The conversions to try, in order; a type list or anyOf/oneOf gives several."""
    declared = schema.get("type")
    names: list[str] = []
    if isinstance(declared, str):
        names = [declared]
    elif isinstance(declared, list):
        names = [name for name in declared if isinstance(name, str)]
    kinds = [_KIND_BY_TYPE[name.lower()] for name in names if name.lower() in _KIND_BY_TYPE]
    if not names:
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list):
                for option in options:
                    if isinstance(option, Mapping):
                        kinds.extend(_kinds(option))
    return kinds


def _as_string(raw: str) -> Any:
    return raw


def _as_number(raw: str) -> Any:
    """An int when the value is whole ("2.0" -> 2), else a float; integer and number alike."""
    text = raw.strip()
    try:
        return int(text)  # exact, even past float precision
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return _FAILED
    if not math.isfinite(number):
        return _FAILED  # inf/nan are not JSON
    return int(number) if number.is_integer() else number


def _as_boolean(raw: str) -> Any:
    text = raw.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return _FAILED


def _as_json(raw: str) -> Any:
    """JSON first, then a Python literal (the model often writes `True`, `'a'`, tuples)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = _FAILED
    if value is not _FAILED and _json_safe(value):
        return value
    try:
        value = _lists_for_tuples(ast.literal_eval(raw.strip()))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _FAILED
    return value if _json_safe(value) else _FAILED


def _lists_for_tuples(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_lists_for_tuples(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists_for_tuples(item) for key, item in value.items()}
    return value


def _json_safe(value: Any) -> bool:
    """Whether `value` dumps as strict JSON (no NaN, sets, bytes, complex, tuple keys)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "string": _as_string,
    "number": _as_number,
    "boolean": _as_boolean,
    "json": _as_json,
}
