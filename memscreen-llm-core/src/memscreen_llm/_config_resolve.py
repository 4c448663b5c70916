"""Layering config sources: arguments > environment > TOML file > preset > defaults."""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from . import _config_file, _config_values
from ._fallback import ChainSettings, chain_settings
from ._registry import RegisteredBackend, Registry
from .config import REDACTED, BaseLlmConfig, setting_info
from .errors import ConfigError
from .specs import env_name

ENV_BACKEND = "MEMSCREEN_LLM_BACKEND"
DEFAULT_BACKEND = "ollama"


@attrs.frozen
class ResolvedConfig:
    """A validated config, and where each value came from."""

    backend: RegisteredBackend
    backend_source: str
    config: BaseLlmConfig
    sources: Mapping[str, str]
    # The fallbacks env and file name for the chosen backend (create_llm builds them).
    chain: ChainSettings = attrs.field(factory=ChainSettings)

    def described(self) -> list[tuple[str, Any, str]]:
        """(field, printable value, source) rows; secrets redacted."""
        public = self.config.public_dict()
        return [(name, public[name], self.sources.get(name, "default")) for name in public]


def choose_backend(
    registry: Registry, name: str | None, env: Mapping[str, str], file: _config_file.ConfigFile
) -> tuple[RegisteredBackend, str]:
    if name:
        return registry.find_backend(name), "argument"
    if env.get(ENV_BACKEND, "").strip():
        return registry.find_backend(env[ENV_BACKEND]), f"env {ENV_BACKEND}"
    if file.backend:
        return registry.find_backend(file.backend), file.label()
    return registry.find_backend(DEFAULT_BACKEND), "default"


def resolve_config(
    name: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    text_arguments: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    defaults: Mapping[str, Any] | None = None,
    defaults_source: str = "caller defaults",
) -> ResolvedConfig:
    """The backend `name` (None: chosen as `create_llm` chooses) and its validated config,
    layered from `arguments` > `env` (default os.environ) > the TOML file > preset >
    `defaults` (an app's own, e.g. MemScreen's) > the class defaults, with the source of
    every value. `text_arguments` are values still as text (the CLI's `--set`). Raises
    ConfigError naming field, source and fix."""
    if registry is None:
        from ._discovery import get_registry

        registry = get_registry()
    env = os.environ if env is None else env
    file = _config_file.load(config_file, env)
    backend, backend_source = choose_backend(registry, name, env, file)
    spec = backend.spec
    config_class = backend.config_class
    fields = {f.name: f for f in attrs.fields(config_class)}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(field: str, value: Any, source: str, raw: Any = None) -> None:
        if field not in fields:
            close = difflib.get_close_matches(field, list(fields), n=1)
            raise ConfigError(
                f"unknown field {field!r} for backend {spec.name!r}"
                + (f"; did you mean {close[0]!r}?" if close else ""),
                field=field, source=source, value=value,
                fix=f"fields of {spec.name}: {', '.join(fields)}",
            )
        _validate_one(fields[field], value, source, value if raw is None else raw)
        values[field] = value
        sources[field] = source

    for field, value in (defaults or {}).items():
        put(field, value, defaults_source)
    for field, value in spec.defaults.items():
        put(field, value, f"preset {spec.name}")
    table = file.table_for((spec.name, *spec.aliases))
    if table is not None:
        for field, value in table[1].items():
            put(field, value, file.label(table[0]))
    hints = _type_hints(config_class)
    for field_name, field in fields.items():
        found = _from_env(spec.name, field, env)
        if found is not None:
            var, text = found
            value = _parse_text(field_name, text, hints, f"env {var}", field)
            put(field_name, value, f"env {var}", raw=text)
    for field, text in (text_arguments or {}).items():
        value = text
        if field in fields:
            value = _parse_text(field, text, hints, "argument --set", fields[field])
        put(field, value, "argument --set", raw=text)
    for field, value in (arguments or {}).items():
        put(field, value, "argument")
    try:
        config = config_class(**values)
    except (TypeError, ValueError) as exc:
        # Per-field checks passed, so this is a check across fields (__attrs_post_init__).
        raise ConfigError(f"invalid config for backend {spec.name!r}: {exc}",
                          source=", ".join(sorted(set(sources.values()))) or "defaults") from None
    return ResolvedConfig(backend=backend, backend_source=backend_source, config=config,
                          sources=sources, chain=chain_settings(env, file))


def _from_env(
    backend: str, field: attrs.Attribute[Any], env: Mapping[str, str]
) -> tuple[str, str] | None:
    # The canonical name wins over the names MemScreen users already set.
    for var in (env_name(backend, field.name), *setting_info(field).env):
        if var in env:
            return var, env[var]
    return None


_hints: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _hints:
        _hints[cls] = typing.get_type_hints(cls)
    return _hints[cls]


def _shown(field: attrs.Attribute[Any], value: Any) -> Any:
    return REDACTED if setting_info(field).secret and value is not None else value


def _parse_text(
    name: str, text: str, hints: Mapping[str, Any], source: str, field: attrs.Attribute[Any]
) -> Any:
    try:
        return _config_values.from_text(text, hints.get(name, str))
    except ValueError as exc:
        raise ConfigError(
            f"{name}: cannot use {_shown(field, text)!r}: {exc}",
            field=name, source=source, value=_shown(field, text),
            fix=f"set {name} to a valid value" + (f" ({setting_info(field).help})"
                                                   if setting_info(field).help else ""),
        ) from None


def _validate_one(field: attrs.Attribute[Any], value: Any, source: str, raw: Any) -> None:
    if field.validator is None:
        return
    try:
        field.validator(None, field, value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{field.name}: bad value {_shown(field, raw)!r}: {exc}",
            field=field.name, source=source, value=_shown(field, raw),
            fix=setting_info(field).help or f"give {field.name} a valid value",
        ) from None
