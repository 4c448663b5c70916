"""`memscreen-llm config show`: each resolved value and its source, secrets redacted."""

from __future__ import annotations

import argparse
import json

from ._common import resolve_from_args


def run(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)
    rows = resolved.described()
    if args.json:
        print(json.dumps({
            "backend": resolved.backend.name,
            "backend_source": resolved.backend_source,
            "fields": {name: {"value": value, "source": source} for name, value, source in rows},
        }, indent=2, default=str))
        return 0
    print(f"backend = {resolved.backend.name!r}    ({resolved.backend_source})")
    for name, value, source in rows:
        print(f"{name} = {value!r}    ({source})")
    return 0
