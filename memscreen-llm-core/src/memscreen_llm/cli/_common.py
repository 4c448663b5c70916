"""Helpers shared by the commands."""

from __future__ import annotations

import argparse

from .._config_resolve import ResolvedConfig, resolve_config
from ..errors import UsageError


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
