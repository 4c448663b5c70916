"""`memscreen-llm parse PARSER [--tools FILE] [--chunk-size N]`: raw text on stdin -> JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._config_file import utf8_text
from .._discovery import get_registry
from ..errors import UsageError
from ..types import StreamJoiner
from ._common import UTF8_FIX, read_stdin

TOOL_SHAPE = ('{"type": "function", "function": {"name": "get_weather", '
              '"description": "...", "parameters": {"type": "object", "properties": {...}}}}')


def _tools(path: str | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        text = utf8_text(Path(path).read_bytes(), f"--tools: {path}")
    except OSError as exc:  # missing, unreadable, a folder: one readable line
        raise UsageError(f"--tools: cannot read {path}: {exc.strerror}") from None
    except UsageError as exc:  # not UTF-8: name the fix too
        raise UsageError(f"{exc}\n{UTF8_FIX}") from None
    try:
        tools = json.loads(text)
    except json.JSONDecodeError as exc:  # say where the JSON goes wrong
        raise UsageError(f"--tools: {path} is not JSON: {exc}") from None
    if not isinstance(tools, list):
        raise UsageError(f"--tools: {path} must hold a JSON list of tools, each like {TOOL_SHAPE}")
    for index, tool in enumerate(tools):
        problem = _tool_problem(tool)
        if problem:
            raise UsageError(f"--tools: {path}: tool {index} ({json.dumps(tool)[:80]}) "
                             f"{problem}; an OpenAI tool looks like {TOOL_SHAPE}")
    return tools


def _tool_problem(tool: Any) -> str | None:
    """What is wrong with one entry of the tools list, if anything."""
    if not isinstance(tool, dict):
        return "is not a JSON object"
    if tool.get("type", "function") != "function":
        return f'has type {tool.get("type")!r}; only "function" tools exist'
    function = tool.get("function")
    if not isinstance(function, dict):
        return 'has no "function" object'
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        return 'has no "function": {"name": ...} string'
    if not isinstance(function.get("parameters", {}), dict):
        return '"parameters" must be a JSON schema object'
    return None


def run(args: argparse.Namespace) -> int:
    if args.chunk_size is not None and args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    parser = get_registry().output_parser(args.parser_name, _tools(args.tools))
    text = read_stdin()
    if args.chunk_size is None:
        result = parser.parse(text)
    else:
        streamer = parser.streamer()
        joiner = StreamJoiner()
        for start in range(0, len(text), args.chunk_size):
            joiner.add(streamer.feed(text[start:start + args.chunk_size]))
        joiner.add(streamer.finish())
        result = joiner.result()
    print(json.dumps({
        "reasoning": result.reasoning,
        "content": result.content,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in result.tool_calls
        ],
    }, ensure_ascii=False, indent=2))
    return 0
