"""Creating backends by name: `create_llm`, `build`, `available_backends`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._config_resolve import ResolvedConfig, resolve_config
from ._discovery import get_registry
from ._registry import RegisteredBackend
from .base import LLMBase
from .config import BaseLlmConfig
from .errors import BackendError
from .specs import load_target


def create_llm(
    name: str | None = None, *, config_file: str | Path | None = None,
    fallbacks: Sequence[str | LLMBase] | None = None, fallback_cooldown: float | None = None,
    **fields: Any,
) -> LLMBase:
    """A backend by name (None: MEMSCREEN_LLM_BACKEND, the config file, else "ollama").

    `fields` configure that backend. `fallbacks` (else MEMSCREEN_LLM_FALLBACKS, else
    `[llm] fallbacks` in the file; `[]` for none) names backends to move on to when it is
    unavailable, timed out or overloaded, each configured by its own section; then the
    result is a chain (`memscreen_llm._fallback.FallbackLLM`), a failing backend skipped
    for `fallback_cooldown` seconds (default 30)."""
    resolved = resolve_config(name, fields, config_file=config_file)
    return build_resolved(resolved, fallbacks=fallbacks, fallback_cooldown=fallback_cooldown,
                          config_file=config_file)


def build_resolved(
    resolved: ResolvedConfig, *, fallbacks: Sequence[str | LLMBase] | None = None,
    fallback_cooldown: float | None = None, config_file: str | Path | None = None,
) -> LLMBase:
    """The backend `resolved` names, in a fallback chain when `fallbacks` (else the
    resolved config's, from env or file) names any: what create_llm and the CLI build."""
    llm = build(resolved.backend, resolved.config)
    if fallbacks is None and not resolved.chain.fallbacks:
        return llm
    from ._fallback import with_fallbacks

    try:
        return with_fallbacks(llm, resolved, fallbacks=fallbacks, cooldown=fallback_cooldown,
                              config_file=config_file)
    except BaseException:
        llm.close()
        raise


def build(backend: RegisteredBackend, config: BaseLlmConfig) -> LLMBase:
    """Instantiate a registered backend from a ready config (this imports its SDK)."""
    assert backend.spec.factory is not None  # discovery fills it in for presets
    if os.environ.get("MEMSCREEN_LLM_OTEL"):  # tracing asked for: memscreen_llm.otel
        from .otel import instrument_from_env

        instrument_from_env()
    factory = load_target(backend.spec.factory)
    identity = backend.identity
    # API 1.0 factories take the config only: they are told who they are once built.
    llm = factory(config, identity) if _takes_identity(factory) else factory(config)
    if not isinstance(llm, LLMBase):
        raise BackendError(
            f"backend {backend.name!r}: its factory returned {type(llm).__name__}, not an LLMBase"
        )
    llm.identity = identity
    return llm


def _takes_identity(factory: Any) -> bool:
    """Whether `factory` accepts (config, identity): API 1.1's factory signature."""
    import inspect

    try:
        inspect.signature(factory).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to inspect (a builtin): call it the 1.0 way
        return False
    return True


def available_backends() -> list[str]:
    """Names of the backends whose plugins loaded."""
    return get_registry().backend_names()
