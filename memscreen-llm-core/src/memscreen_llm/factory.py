"""Creating backends by name: `create_llm`, `available_backends`, MemScreen's `LlmFactory`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._config_resolve import resolve_config
from ._discovery import get_registry
from ._registry import RegisteredBackend
from .base import LLMBase
from .config import BaseLlmConfig
from .errors import BackendError
from .specs import load_target

log = logging.getLogger("memscreen_llm")

# Keys MemScreen and mem0 configs use that are named differently here.
_MEMSCREEN_RENAMES = {"ollama_base_url": "base_url", "vllm_base_url": "base_url"}
# MemScreen config keys with no meaning for a local engine backend; dropped with a note.
_MEMSCREEN_IGNORED = ("enable_vision", "vision_details", "http_client_proxies", "http_client")


def create_llm(
    name: str | None = None, *, config_file: str | Path | None = None, **fields: Any
) -> LLMBase:
    """A backend by name (None: MEMSCREEN_LLM_BACKEND, the config file, else "ollama")."""
    resolved = resolve_config(name, fields, config_file=config_file)
    return build(resolved.backend, resolved.config)


def build(backend: RegisteredBackend, config: BaseLlmConfig) -> LLMBase:
    """Instantiate a registered backend from a ready config (this imports its SDK)."""
    assert backend.spec.factory is not None  # discovery fills it in for presets
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


class LlmFactory:
    """Drop-in for MemScreen's `memscreen.llm.LlmFactory`."""

    @classmethod
    def create(
        cls, provider_name: str, config: BaseLlmConfig | Mapping[str, Any] | Any = None,
        **kwargs: Any,
    ) -> LLMBase:
        """Create `provider_name`'s backend from a config object or dict, like MemScreen's."""
        registry = get_registry()
        backend = registry.find_backend(provider_name)
        if isinstance(config, BaseLlmConfig) and not kwargs and isinstance(
            config, backend.config_class
        ):
            return build(backend, config)
        fields = _memscreen_fields(config, backend.name)
        fields.update(kwargs)
        return create_llm(backend.name, **fields)

    @classmethod
    def get_supported_providers(cls) -> list[str]:
        return available_backends()


def _memscreen_fields(config: Any, backend: str) -> dict[str, Any]:
    # None means "not set" in MemScreen's configs, so such keys fall back to env/file/defaults.
    if config is None:
        return {}
    if isinstance(config, Mapping):
        raw = dict(config)
    elif attrs.has(type(config)):
        raw = attrs.asdict(config, recurse=False)
    else:
        raw = {k: v for k, v in vars(config).items() if not k.startswith("_")}
    fields: dict[str, Any] = {}
    renames = {**_MEMSCREEN_RENAMES, f"{backend}_base_url": "base_url"}
    for key, value in raw.items():
        if value is None:
            continue
        if key in _MEMSCREEN_IGNORED:
            if value not in (None, False, "auto"):
                log.info("LlmFactory: ignoring MemScreen option %s (not used by this backend)", key)
            continue
        fields[renames.get(key, key)] = value
    return fields
