"""Reading one `<tool_call>...</tool_call>` block into a ToolCall (docs/FORMAT.md section 3)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm.types import ToolCall, new_tool_call_id

from ._text import trim_one_newline
from ._values import typed_value

FUNCTION_OPEN = "<function="
FUNCTION_CLOSE = "</function>"
PARAMETER_OPEN = "<parameter="
PARAMETER_CLOSE = "</parameter>"

Tools = Sequence[Mapping[str, Any]]

_NON_SPACE = re.compile(r"\S")


class BlockReader:
    """Turns the text inside a tool-call block into a ToolCall, typed by the tools' schemas."""

    def __init__(self, tools: Tools | None = None) -> None:
        self._properties = _properties_by_tool(tools)

    def read(self, inner: str) -> ToolCall | None:
        """The call in `inner`, or None when the block is not a well-formed call."""
        parsed = split_block(inner)
        if parsed is None:
            return None
        name, params = parsed
        properties = self._properties.get(name)
        arguments: dict[str, Any] = {}
        for key, raw in params:
            schema = properties.get(key) if properties is not None else None
            arguments[key] = typed_value(raw, schema if isinstance(schema, Mapping) else None)
        return ToolCall(
            name=name,
            arguments=json.dumps(arguments, ensure_ascii=False),
            id=new_tool_call_id(),
        )


def _properties_by_tool(tools: Tools | None) -> dict[str, Mapping[str, Any]]:
    """`parameters.properties` per tool name; accepts OpenAI `{"function": {...}}` or bare."""
    found: dict[str, Mapping[str, Any]] = {}
    for tool in tools or ():
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function", tool)
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            continue
        parameters = function.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        found.setdefault(function["name"], properties if isinstance(properties, Mapping) else {})
    return found


def _tag_name(text: str) -> str | None:
    """A function or parameter name: non-empty, one line, no markup inside."""
    name = text.strip()
    if not name or "<" in name or "\n" in name:
        return None
    return name


def split_block(inner: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(function name, [(key, raw value)]) for a block's inner text, or None if malformed.

    Only whitespace may surround `<function=...>...</function>` and separate parameters.
    A missing `</parameter>` is repaired: the value then ends at the next `<parameter=` or
    at `</function>`. The last `</function>` closes the body, so values may contain one.
    """
    found = _NON_SPACE.search(inner)
    start = found.start() if found else 0
    if not inner.startswith(FUNCTION_OPEN, start):
        return None
    name_end = inner.find(">", start + len(FUNCTION_OPEN))
    if name_end < 0:
        return None
    name = _tag_name(inner[start + len(FUNCTION_OPEN) : name_end])
    body_end = inner.rfind(FUNCTION_CLOSE)
    if name is None or body_end <= name_end or inner[body_end + len(FUNCTION_CLOSE) :].strip():
        return None
    params = _split_parameters(inner[name_end + 1 : body_end])
    return None if params is None else (name, params)


def _split_parameters(body: str) -> list[tuple[str, str]] | None:
    params: list[tuple[str, str]] = []
    # Next known positions of each marker; re-searched only once passed, so a body with
    # many unclosed parameters is still read in linear time.
    next_close = body.find(PARAMETER_CLOSE)
    next_open = body.find(PARAMETER_OPEN)
    pos = 0
    while True:
        found = _NON_SPACE.search(body, pos)
        if found is None:
            return params
        pos = found.start()
        if pos != next_open:
            return None  # text outside a parameter
        key_end = body.find(">", pos + len(PARAMETER_OPEN))
        if key_end < 0:
            return None
        key = _tag_name(body[pos + len(PARAMETER_OPEN) : key_end])
        if key is None:
            return None
        value_start = key_end + 1
        if 0 <= next_close < value_start:
            next_close = body.find(PARAMETER_CLOSE, value_start)
        if next_open < value_start:
            next_open = body.find(PARAMETER_OPEN, value_start)
        if next_close >= 0 and (next_open < 0 or next_close < next_open):
            value_end, pos = next_close, next_close + len(PARAMETER_CLOSE)
        elif next_open >= 0:
            value_end = pos = next_open  # repair: `</parameter>` missing before `<parameter=`
        else:
            value_end = pos = len(body)  # repair: `</parameter>` missing before `</function>`
        value = trim_one_newline(body[value_start:value_end], leading=True, trailing=True)
        params.append((key, value))
