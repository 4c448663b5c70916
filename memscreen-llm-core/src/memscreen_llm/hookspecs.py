"""The whole plugin surface: the hooks a `memscreen.llm_backends` entry-point module implements."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from .specs import BackendSpec, ParserSpec

PROJECT = "memscreen_llm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def supported_api() -> str:  # type: ignore[empty-body]
    """Return the core plugin-API versions this plugin works with, e.g. ">=1.0,<2"."""


@hookspec
def register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register backends: call `register(BackendSpec(...))` once per backend."""


@hookspec
def register_parsers(register: Callable[[ParserSpec], None]) -> None:
    """Register named output parsers: call `register(ParserSpec(...))` once per name."""
