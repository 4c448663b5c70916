"""`memscreen-llm config show`: each resolved value and its source, secrets redacted."""

from __future__ import annotations

import argparse
import json

from .._config_resolve import resolve_config
from ._common import resolve_from_args


def run(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)
    rows = resolved.described()
    chain = resolved.chain  # each fallback resolved from its own section
    members = [resolve_config(name, config_file=args.config) for name in chain.fallbacks]
    if args.json:
        print(json.dumps({
            "backend": resolved.backend.name,
            "backend_source": resolved.backend_source,
            "fields": {name: {"value": value, "source": source} for name, value, source in rows},
            "fallbacks": {
                "source": chain.source,
                "cooldown": {"value": chain.cooldown, "source": chain.cooldown_source},
                "backends": [{"backend": m.backend.name, "fields": {
                    name: {"value": value, "source": source}
                    for name, value, source in m.described()}} for m in members],
            },
        }, indent=2, default=str))
        return 0
    print(f"backend = {resolved.backend.name!r}    ({resolved.backend_source})")
    for name, value, source in rows:
        print(f"{name} = {value!r}    ({source})")
    if members:
        print(f"fallbacks = {list(chain.fallbacks)!r}    ({chain.source})")
        print(f"fallback_cooldown = {chain.cooldown!r}    ({chain.cooldown_source})")
    for member in members:
        print(f"[fallback {member.backend.name}]")
        for name, value, source in member.described():
            print(f"{name} = {value!r}    ({source})")
    return 0
