"""`memscreen-llm backends`."""

from __future__ import annotations

import argparse
import json

from .._discovery import get_registry


def run(args: argparse.Namespace) -> int:
    entries = get_registry().entries()
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("no backends installed; try: pip install memscreen-llm-ollama")
        return 0
    for entry in entries:
        dist = f"{entry['distribution']} {entry['version']}"
        aliases = f" (aliases: {', '.join(entry['aliases'])})" if entry["aliases"] else ""
        print(f"{entry['name']:<12} {entry['status']:<12} {dist}{aliases}")
        detail = entry["error"] or entry["description"]
        if detail:
            print(f"{'':<12} {detail}")
        if entry["warning"]:
            print(f"{'':<12} warning: {entry['warning']}")
    return 0
