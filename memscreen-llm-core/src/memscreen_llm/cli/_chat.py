"""`memscreen-llm chat PROMPT`: one turn; reasoning goes to stderr, apart from the answer."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import attrs

from ..errors import UsageError
from ..factory import build_resolved
from ..types import ChatResult, StreamJoiner
from ._common import read_stdin, resolve_from_args


def run(args: argparse.Namespace) -> int:
    prompt = read_stdin() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    resolved = resolve_from_args(args, model=args.model)
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    if args.image:  # loaded, checked and prepared by core, like any app's images
        messages[-1]["images"] = list(args.image)
    with build_resolved(resolved, config_file=args.config) as llm:  # fallbacks too
        if args.stream:
            deltas = llm.stream(messages)
            result = _streamed(deltas, quiet=args.json)
            # who answered: a chain's stream says; a backend's own stream is its own
            result = attrs.evolve(result, backend=getattr(deltas, "backend", None)
                                  or llm.backend_name)
        else:
            result = llm.chat(messages)
    if args.json:
        print(json.dumps(_as_json(result), ensure_ascii=False, indent=2))
    elif not args.stream:
        if result.reasoning:
            print(f"[reasoning]\n{result.reasoning}\n[/reasoning]", file=sys.stderr)
        print(result.content or "")
    return 0


def _streamed(deltas: Any, *, quiet: bool) -> ChatResult:
    joiner = StreamJoiner()
    in_reasoning = False
    for delta in deltas:
        joiner.add(delta)
        if quiet:
            continue
        if delta.reasoning:
            if not in_reasoning:
                sys.stderr.write("[reasoning]\n")
                in_reasoning = True
            sys.stderr.write(delta.reasoning)
            sys.stderr.flush()
        if delta.content:
            if in_reasoning:
                sys.stderr.write("\n[/reasoning]\n")
                in_reasoning = False
            sys.stdout.write(delta.content)
            sys.stdout.flush()
    if not quiet:
        if in_reasoning:
            sys.stderr.write("\n[/reasoning]\n")
        sys.stdout.write("\n")
    return joiner.result()


def _as_json(result: ChatResult) -> dict[str, Any]:
    usage = result.usage
    return {
        "content": result.content,
        "reasoning": result.reasoning,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.tool_calls
        ],
        "finish_reason": result.finish_reason,
        "model": result.model,
        "backend": result.backend,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        },
    }
