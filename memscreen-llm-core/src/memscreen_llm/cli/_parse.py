"""`memscreen-llm parse PARSER [--tools FILE] [--chunk-size N]`: raw text on stdin -> JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._discovery import get_registry
from ..errors import UsageError
from ..types import StreamJoiner


def _tools(path: str | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        tools = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--tools: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--tools: {path} is not JSON: {exc}") from None
    if not isinstance(tools, list):
        raise UsageError(f"--tools: {path} must hold a JSON list of tool definitions")
    return tools


def run(args: argparse.Namespace) -> int:
    if args.chunk_size is not None and args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    parser = get_registry().output_parser(args.parser_name, _tools(args.tools))
    text = sys.stdin.read()
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
