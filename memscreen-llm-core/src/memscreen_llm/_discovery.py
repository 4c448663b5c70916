"""Finding plugins through entry points and loading each one in isolation.

A plugin that fails in any way is recorded with the reason and skipped, so one broken
distribution never takes the others down; strict mode turns that into an error.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pluggy

from . import _apiversion, hookspecs
from ._entrypoints import EntryPoint, entry_points
from ._registry import (
    PluginInfo,
    PluginStatus,
    RegisteredBackend,
    RegisteredParser,
    Registry,
)
from ._version import API_VERSION
from .errors import FIRST_PARTY_BACKENDS, PluginLoadError
from .specs import BackendSpec, ParserSpec

GROUP = "memscreen.llm_backends"
ENV_ALLOW = "MEMSCREEN_LLM_PLUGINS"
ENV_DENY = "MEMSCREEN_LLM_DISABLE_PLUGINS"
ENV_STRICT = "MEMSCREEN_LLM_STRICT_PLUGINS"


class _PluginFailed(Exception):
    """Internal: this plugin is skipped, with `status` and the message."""

    def __init__(self, status: PluginStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class DiscoverySettings:
    allow: frozenset[str] | None
    deny: frozenset[str]
    strict: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscoverySettings:
        allow = env.get(ENV_ALLOW)
        return cls(
            allow=None if allow is None else _names(allow),
            deny=_names(env.get(ENV_DENY, "")),
            strict=env.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes", "on"),
        )

    def enabled(self, plugin: PluginInfo) -> bool:
        names = {plugin.name, (plugin.distribution or "").lower()}
        if self.allow is not None and not names & self.allow:
            return False
        return not names & self.deny


def _names(text: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def discover(env: Mapping[str, str] | None = None) -> Registry:
    """Load every plugin of the entry-point group, as the environment allows."""
    settings = DiscoverySettings.from_env(os.environ if env is None else env)
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    backends: dict[str, RegisteredBackend] = {}
    parsers: dict[str, RegisteredParser] = {}
    for entry_point in sorted(entry_points(group=GROUP), key=_sort_key):
        info = _plugin_info(entry_point)
        if not settings.enabled(info):
            plugins.append(dataclasses.replace(info, status=PluginStatus.DISABLED))
            continue
        try:
            found_backends, found_parsers = _load(entry_point, info, manager)
            _check_unclaimed(found_backends, found_parsers, backends, parsers)
        except _PluginFailed as failure:
            failed = dataclasses.replace(info, status=failure.status, error=str(failure))
            if settings.strict:
                raise PluginLoadError(_describe(failed)) from failure
            plugins.append(failed)
            continue
        plugins.append(info)
        for spec in found_backends:
            backends[spec.name] = RegisteredBackend(spec, info)
        for parser in found_parsers:
            parsers[parser.name] = RegisteredParser(parser, info)
    _resolve_presets(backends, plugins, settings.strict)
    return Registry(plugins=tuple(plugins), backends=backends, parsers=parsers)


def _sort_key(entry_point: EntryPoint) -> tuple[str, str]:
    return (entry_point.name, entry_point.distribution or "")


def _plugin_info(entry_point: EntryPoint) -> PluginInfo:
    return PluginInfo(
        name=entry_point.name.lower(),
        distribution=entry_point.distribution,
        version=entry_point.version,
    )


def _describe(plugin: PluginInfo) -> str:
    return (
        f"plugin {plugin.name!r} ({plugin.distribution} {plugin.version}) "
        f"is {plugin.status.value}: {plugin.error}"
    )


def _load(
    entry_point: EntryPoint, info: PluginInfo, manager: pluggy.PluginManager
) -> tuple[list[BackendSpec], list[ParserSpec]]:
    try:
        module = entry_point.load()
    except Exception as exc:  # any import-time failure is the plugin's, not the host's
        raise _PluginFailed(PluginStatus.ERROR, f"import failed: {_exc_text(exc)}") from exc
    try:
        manager.register(module, name=info.name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        # Bad hook signatures or unknown hook names; ValueError: module already registered.
        raise _PluginFailed(PluginStatus.ERROR, f"invalid hooks: {exc}") from exc
    try:
        _check_api(module, manager)
        backends: list[BackendSpec] = _collect(manager, module, "register_backends", BackendSpec)
        parsers: list[ParserSpec] = _collect(manager, module, "register_parsers", ParserSpec)
    except _PluginFailed:
        manager.unregister(module)
        raise
    return backends, parsers


def _impl(manager: pluggy.PluginManager, module: ModuleType, hook: str) -> Any:
    for impl in getattr(manager.hook, hook).get_hookimpls():
        if impl.plugin is module:
            return impl
    return None


def _check_api(module: ModuleType, manager: pluggy.PluginManager) -> None:
    impl = _impl(manager, module, "supported_api")
    if impl is None:
        raise _PluginFailed(
            PluginStatus.INCOMPATIBLE,
            f"declares no supported API range (implement the supported_api hook); "
            f"core API is {API_VERSION}",
        )
    try:
        declared = impl.function()
        _apiversion.check_range(declared)
    except Exception as exc:  # a hook that raises or returns junk is the plugin's fault
        raise _PluginFailed(PluginStatus.ERROR, f"supported_api: {_exc_text(exc)}") from exc
    if not _apiversion.in_range(API_VERSION, declared):
        raise _PluginFailed(
            PluginStatus.INCOMPATIBLE,
            f"supports core API {declared}, but this core provides API {API_VERSION}",
        )


def _collect(manager: pluggy.PluginManager, module: ModuleType, hook: str, kind: type) -> list[Any]:
    impl = _impl(manager, module, hook)
    if impl is None:
        return []
    found: list[Any] = []

    def register(spec: Any) -> None:
        if not isinstance(spec, kind):
            raise TypeError(f"{hook}: expected {kind.__name__}, got {type(spec).__name__}")
        found.append(spec)

    try:
        impl.function(**({"register": register} if "register" in impl.argnames else {}))
    except Exception as exc:  # a hook that raises takes only its own plugin down
        raise _PluginFailed(PluginStatus.ERROR, f"{hook} raised {_exc_text(exc)}") from exc
    return found


def _check_unclaimed(
    new_backends: list[BackendSpec],
    new_parsers: list[ParserSpec],
    backends: Mapping[str, RegisteredBackend],
    parsers: Mapping[str, RegisteredParser],
) -> None:
    owners: dict[str, PluginInfo | None] = {}
    for backend in backends.values():
        for name in (backend.name, *backend.spec.aliases):
            owners[name] = backend.plugin
    for spec in new_backends:
        for name in (spec.name, *spec.aliases):
            if name in owners:
                owner = owners[name]
                who = f"{owner.distribution} {owner.version}" if owner else "this plugin"
                raise _PluginFailed(
                    PluginStatus.ERROR, f"backend name {name!r} is already registered by {who}"
                )
            owners[name] = None
    claimed: set[str] = set()
    for parser in new_parsers:
        if parser.name in parsers or parser.name in claimed:
            owner = parsers[parser.name].plugin if parser.name in parsers else None
            who = f"{owner.distribution} {owner.version}" if owner else "this plugin"
            raise _PluginFailed(
                PluginStatus.ERROR, f"parser name {parser.name!r} is already registered by {who}"
            )
        claimed.add(parser.name)


def _resolve_presets(
    backends: dict[str, RegisteredBackend], plugins: list[PluginInfo], strict: bool
) -> None:
    """Merge each preset with the backend it extends; a preset whose base is missing fails."""
    for name, backend in list(backends.items()):
        spec = backend.spec
        if spec.extends is None:
            continue
        base = _find(backends, spec.extends)
        if base is None or base.spec.extends is not None:
            dist = FIRST_PARTY_BACKENDS.get(spec.extends)
            reason = f"backend {name!r} extends {spec.extends!r}, which is not installed" + (
                f" (pip install {dist})" if dist else ""
            )
            failed = dataclasses.replace(backend.plugin, status=PluginStatus.ERROR, error=reason)
            if strict:
                raise PluginLoadError(_describe(failed))
            del backends[name]
            plugins[:] = [failed if p.name == failed.name else p for p in plugins]
            continue
        merged = dataclasses.replace(
            spec,
            config_class=spec.config_class or base.spec.config_class,
            factory=spec.factory or base.spec.factory,
            compose_files=spec.compose_files or base.spec.compose_files,
            compose_hint=spec.compose_hint or base.spec.compose_hint,
            defaults={**base.spec.defaults, **spec.defaults},
        )
        backends[name] = RegisteredBackend(merged, backend.plugin)


def _find(backends: Mapping[str, RegisteredBackend], name: str) -> RegisteredBackend | None:
    for backend in backends.values():
        if name in (backend.name, *backend.spec.aliases):
            return backend
    return None


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_cache: dict[tuple[Any, ...], Registry] = {}


def get_registry(refresh: bool = False) -> Registry:
    """The registry for the current environment, discovered once per process."""
    import sys

    key = (
        tuple(os.environ.get(name) for name in (ENV_ALLOW, ENV_DENY, ENV_STRICT)),
        tuple(sys.path),
    )
    if refresh or key not in _cache:
        _cache[key] = discover()
    return _cache[key]

