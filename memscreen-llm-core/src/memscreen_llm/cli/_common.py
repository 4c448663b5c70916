"""Helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys

from .._config_file import utf8_text
from .._config_resolve import ResolvedConfig, resolve_config
from ..errors import UsageError

UTF8_FIX = "  fix: convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8"


def parse_settings(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise UsageError(f"--set takes FIELD=VALUE, got {pair!r}")
        out[field.strip()] = value
    return out


def resolve_from_args(args: argparse.Namespace, **arguments: object) -> ResolvedConfig:
    return resolve_config(
        getattr(args, "backend", None),
        {k: v for k, v in arguments.items() if v is not None},
        config_file=args.config,
        text_arguments=parse_settings(getattr(args, "settings", [])),
    )


def read_stdin() -> str:
    """All of stdin as UTF-8 text, whatever the locale says; else a UsageError."""
    if sys.stdin is None:
        raise UsageError("there is no stdin to read from")
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # stdin replaced by a text stream (an embedding app, a test): text already
        text: str = sys.stdin.read()
        return text
    try:
        return utf8_text(raw.read(), "stdin")
    except UsageError as exc:  # name the fix too
        raise UsageError(f"{exc}\n{UTF8_FIX}") from None
