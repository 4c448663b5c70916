"""Finding plugins through entry points and loading each one in isolation.

A plugin that fails in any way (raises, even SystemExit; hangs; prints; claims a name it
does not own) is recorded with the reason and skipped, so one broken distribution never
takes the others down; strict mode turns that into an error. How a plugin's code is kept
apart from the host: `_isolation`. Who may register a contested name: `_ownership`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pluggy

from . import _apiversion, hookspecs
from ._entrypoints import EntryPoint, entry_points
from ._isolation import Run, run_isolated
from ._ownership import Loaded, claimed_names, refusals
from ._registry import (
    PluginInfo,
    PluginStatus,
    RegisteredBackend,
    RegisteredParser,
    Registry,
)
from ._version import API_VERSION
from .errors import FIRST_PARTY_BACKENDS, ConfigError, PluginLoadError
from .specs import BackendSpec, ParserSpec

GROUP = "memscreen.llm_backends"
ENV_ALLOW = "MEMSCREEN_LLM_PLUGINS"
ENV_DENY = "MEMSCREEN_LLM_DISABLE_PLUGINS"
ENV_STRICT = "MEMSCREEN_LLM_STRICT_PLUGINS"
ENV_IMPORT_TIMEOUT = "MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT"
DEFAULT_IMPORT_TIMEOUT = 5.0
_ENV_KEYS = (ENV_ALLOW, ENV_DENY, ENV_STRICT, ENV_IMPORT_TIMEOUT)


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
    # Seconds a plugin's import (and hooks) may take before it is abandoned.
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscoverySettings:
        allow = env.get(ENV_ALLOW)
        return cls(
            allow=None if allow is None else _names(allow),
            deny=_names(env.get(ENV_DENY, "")),
            strict=env.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes", "on"),
            import_timeout=_seconds(env.get(ENV_IMPORT_TIMEOUT, "").strip()),
        )

    def enabled(self, plugin: PluginInfo) -> bool:
        names = {plugin.name, (plugin.distribution or "").lower()}
        if self.allow is not None and not names & self.allow:
            return False
        return not names & self.deny


def _names(text: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def _seconds(text: str) -> float:
    if not text:
        return DEFAULT_IMPORT_TIMEOUT
    try:
        value = float(text)
    except ValueError:  # not a number: reported below like any other bad value
        value = -1.0
    if not 0 < value < float("inf"):  # NaN fails this too
        raise ConfigError(
            f"{ENV_IMPORT_TIMEOUT}: bad value {text!r}: expected a number of seconds > 0",
            field=ENV_IMPORT_TIMEOUT, source=f"env {ENV_IMPORT_TIMEOUT}", value=text,
            fix=f"e.g. {ENV_IMPORT_TIMEOUT}=10, or unset it for {DEFAULT_IMPORT_TIMEOUT:g} s",
        )
    return value


def discover(env: Mapping[str, str] | None = None) -> Registry:
    """Load every plugin of the entry-point group, as the environment allows."""
    settings = DiscoverySettings.from_env(os.environ if env is None else env)
    plugins: list[PluginInfo] = []
    enabled: list[tuple[int, EntryPoint]] = []  # (position in plugins, its entry point)
    for entry_point in sorted(entry_points(group=GROUP), key=_sort_key):
        info = _plugin_info(entry_point)
        if settings.enabled(info):
            enabled.append((len(plugins), entry_point))
        else:
            info = dataclasses.replace(info, status=PluginStatus.DISABLED)
        plugins.append(info)
    runs = run_isolated([_work(entry_point, plugins[position])
                         for position, entry_point in enabled],
                        timeout=settings.import_timeout)
    loaded: list[Loaded] = []
    for (position, _), run in zip(enabled, runs, strict=True):
        plugin, found = _outcome(plugins[position], run, settings.import_timeout)
        if found is None and settings.strict:
            raise PluginLoadError(_describe(plugin))
        plugins[position] = plugin
        if found is not None:
            loaded.append(Loaded(plugin, position, *found))
    refused = refusals(loaded, disable_var=ENV_DENY)
    backends: dict[str, RegisteredBackend] = {}
    parsers: dict[str, RegisteredParser] = {}
    for index, item in enumerate(loaded):
        if index in refused:
            failed = dataclasses.replace(
                item.info, status=PluginStatus.ERROR, error="; ".join(refused[index]),
                refused_names=tuple(name for kind, name in claimed_names(item.backends, ())
                                    if kind == "backend"))
            if settings.strict:
                raise PluginLoadError(_describe(failed))
            plugins[item.position] = failed
            continue
        for spec in item.backends:
            backends[spec.name] = RegisteredBackend(spec, item.info)
        for parser in item.parsers:
            parsers[parser.name] = RegisteredParser(parser, item.info)
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


_Found = tuple[tuple[BackendSpec, ...], tuple[ParserSpec, ...]]


def _work(entry_point: EntryPoint, info: PluginInfo) -> Callable[[Run], _Found]:
    return lambda run: _run_plugin(entry_point, info, run)


def _outcome(info: PluginInfo, run: Run, timeout: float) -> tuple[PluginInfo, _Found | None]:
    """The plugin's info (status, error, warning) and, if its code ran cleanly, what it
    registered. Its code ran in a thread of its own (see _isolation)."""
    info = dataclasses.replace(info, warning=_stdout_warning(run))
    if not run.done:
        failure = _PluginFailed(
            PluginStatus.ERROR,
            f"{run.step} timed out after {timeout:g} s, so the plugin is skipped (it may "
            f"finish later, unregistered; {ENV_IMPORT_TIMEOUT} sets the bound)",
        )
    elif isinstance(run.error, _PluginFailed):
        failure = run.error
    elif run.error is not None:  # SystemExit, KeyboardInterrupt, ... raised by its code
        failure = _PluginFailed(PluginStatus.ERROR, f"{run.step} raised {_raised(run.error)}")
    else:
        found: _Found = run.value
        return info, found
    return dataclasses.replace(info, status=failure.status, error=str(failure)), None


def _run_plugin(entry_point: EntryPoint, info: PluginInfo, run: Run) -> _Found:
    """In the plugin's own thread: import it, check its hooks and API range, call them.

    Only `Exception`s are caught here, to word them; anything else its code raises
    (SystemExit, KeyboardInterrupt) ends its run and `_outcome` reports it with `run.step`.
    """
    run.step = "import"
    try:
        module = entry_point.load()
    except Exception as exc:  # any import-time failure is the plugin's, not the host's
        raise _PluginFailed(PluginStatus.ERROR, f"import failed: {_exc_text(exc)}") from exc
    run.step = "registering its hooks"
    manager = _manager()
    try:
        try:
            manager.register(module, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            # Bad hook signatures; ValueError: the module is registered under another name.
            raise _PluginFailed(PluginStatus.ERROR, f"invalid hooks: {exc}") from exc
        run.step = "supported_api"
        _check_api(module, manager)
        run.step = "register_backends"
        backends: list[BackendSpec] = _collect(manager, module, "register_backends",
                                               BackendSpec)
        run.step = "register_parsers"
        parsers: list[ParserSpec] = _collect(manager, module, "register_parsers", ParserSpec)
    finally:  # the manager is this thread's, for the next plugin: leave nothing behind
        if manager.get_plugin(info.name) is not None:  # (pluggy < 1.6 may leave a failed one)
            manager.unregister(name=info.name)
    seen: set[tuple[str, str]] = set()
    for kind, name in claimed_names(backends, parsers):
        if (kind, name) in seen:
            raise _PluginFailed(
                PluginStatus.ERROR, f"{kind} name {name!r} is registered twice by this plugin")
        seen.add((kind, name))
    return tuple(backends), tuple(parsers)


_per_thread = threading.local()


def _manager() -> pluggy.PluginManager:
    """The pluggy manager of this plugin thread: an abandoned thread shares none with the
    next one (and making one per plugin would cost every command a little)."""
    manager: pluggy.PluginManager | None = getattr(_per_thread, "manager", None)
    if manager is None:
        manager = _per_thread.manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
    return manager


def _stdout_warning(run: Run) -> str | None:
    notes = []
    if run.stdout.strip():
        notes.append(f"printed to stdout while loading (kept out of command output): "
                     f"{run.stdout.strip()!r}")
    if run.replaced_stdout:
        notes.append("replaced sys.stdout while loading (the original was put back)")
    return "; ".join(notes) or None


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


def _raised(exc: BaseException) -> str:
    """`SystemExit(3)`, `KeyboardInterrupt()`: what was raised, as it was raised."""
    return f"{type(exc).__name__}({', '.join(map(repr, exc.args))})"


_cache: dict[tuple[Any, ...], Registry] = {}


def get_registry(refresh: bool = False) -> Registry:
    """The registry for the current environment, discovered once per process."""
    import sys

    key = (tuple(os.environ.get(name) for name in _ENV_KEYS), tuple(sys.path))
    if refresh or key not in _cache:
        _cache[key] = discover()
    return _cache[key]

