"""`memscreen-llm compose NAME [--variant V] [--path]`."""

from __future__ import annotations

import argparse
import sys

from .._discovery import get_registry
from ..compose import compose_path


def run(args: argparse.Namespace) -> int:
    path = compose_path(get_registry().find_backend(args.name), args.variant)
    if args.path:
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0
