"""The outcome of discovery: which plugins loaded, the backends and parsers they registered."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import FIRST_PARTY_BACKENDS, ConfigError, UnknownBackendError
from .specs import BackendIdentity, BackendSpec, ParserSpec, load_target

if TYPE_CHECKING:  # parsing pulls in the result types, which `backends` never needs
    from .config import BaseLlmConfig
    from .parsing import OutputParser


class PluginStatus(str, enum.Enum):
    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"
    INCOMPATIBLE = "incompatible"


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """One entry point of the `memscreen.llm_backends` group and how loading it went."""

    name: str
    distribution: str | None
    version: str | None
    status: PluginStatus = PluginStatus.OK
    error: str | None = None
    # Something it did that did not stop it loading (printing to stdout, say).
    warning: str | None = None
    # Backend names it registered that were refused (claimed by another plugin too).
    refused_names: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RegisteredBackend:
    """A backend spec (presets already merged with their base) and the plugin behind it."""

    spec: BackendSpec
    plugin: PluginInfo

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def config_class(self) -> type[BaseLlmConfig]:
        """The config class (imported now if it was registered as a lazy target)."""
        target = self.spec.config_class
        assert target is not None  # discovery fills it in for presets
        loaded: type[BaseLlmConfig] = load_target(target)
        return loaded

    @property
    def identity(self) -> BackendIdentity:
        """What the backend is told about itself when it is built."""
        spec = self.spec
        hint = spec.compose_hint
        if hint is None and spec.compose_files:
            from .compose import compose_up_command

            hint = compose_up_command(spec.name)
        return BackendIdentity(name=spec.name, aliases=spec.aliases,
                               distribution=self.plugin.distribution, compose_hint=hint)


@dataclasses.dataclass(frozen=True)
class RegisteredParser:
    spec: ParserSpec
    plugin: PluginInfo


@dataclasses.dataclass(frozen=True)
class Registry:
    plugins: tuple[PluginInfo, ...]
    backends: Mapping[str, RegisteredBackend]
    parsers: Mapping[str, RegisteredParser]
    # (name, kind) -> the parser class, imported once per registry.
    _parser_classes: dict[tuple[str, str], Any] = dataclasses.field(
        default_factory=dict, repr=False, compare=False)

    def backend_names(self) -> list[str]:
        return sorted(self.backends)

    def find_backend(self, name: str) -> RegisteredBackend:
        """The backend called `name` (or aliased so); else an error listing what is installed."""
        key = name.strip().lower()
        for backend in self.backends.values():
            if key == backend.name or key in backend.spec.aliases:
                return backend
        for plugin in self.plugins:
            if plugin.status is not PluginStatus.OK and (
                    key == plugin.name or key in plugin.refused_names):
                problem = (
                    f"backend {name!r}: its plugin ({plugin.distribution} {plugin.version}) "
                    f"is {plugin.status.value}" + (f": {plugin.error}" if plugin.error else "")
                )
                raise UnknownBackendError(name, self.backend_names(), problem=problem)
        raise UnknownBackendError(name, self.backend_names())

    def parser_names(self) -> list[str]:
        return sorted(self.parsers)

    def parser_class(self, name: str, kind: str, *, field: str | None = None) -> Any:
        """The `kind` ("reasoning" or "tool_calls") class of the parser called `name`.

        The one lookup of named parsers: imported on first use, then cached. An unknown
        name, or a parser without that part, is a ConfigError listing what is installed
        (`field` names the config field the name came from).
        """
        key = (name, kind)
        if key not in self._parser_classes:
            found = self.parsers.get(name)
            target = getattr(found.spec, kind) if found is not None else None
            if target is None:
                raise self._parser_error(name, kind, field, found is not None)
            self._parser_classes[key] = load_target(target)
        return self._parser_classes[key]

    def _parser_error(self, name: str, kind: str, field: str | None, exists: bool) -> ConfigError:
        installed = ", ".join(self.parser_names()) or "(none)"
        label = f"{field}: " if field else ""
        if exists:
            return ConfigError(f"{label}parser {name!r} has no {kind.replace('_', '-')} part",
                               field=field, value=name, fix=f"installed parsers: {installed}")
        dist = FIRST_PARTY_BACKENDS.get(name)
        return ConfigError(
            f"{label}unknown parser {name!r}; installed parsers: {installed}",
            field=field, value=name,
            fix=f"pip install {dist}" if dist else "install the plugin that provides it",
        )

    def output_parser(
        self, name: str, tools: Sequence[Mapping[str, Any]] | None = None
    ) -> OutputParser:
        """Both parts of the parser called `name`, ready to parse (tools for tool calls)."""
        from .parsing import OutputParser

        if name not in self.parsers:
            raise self._parser_error(name, "reasoning", None, False)
        spec = self.parsers[name].spec
        reasoning = self.parser_class(name, "reasoning")() if spec.reasoning else None
        tool_calls = self.parser_class(name, "tool_calls")(tools) if spec.tool_calls else None
        return OutputParser(reasoning=reasoning, tool_calls=tool_calls)

    def entries(self) -> list[dict[str, Any]]:
        """One dict per backend, and one per plugin that registered none (broken or disabled)."""
        out: list[dict[str, Any]] = []
        seen_plugins = set()
        for backend in sorted(self.backends.values(), key=lambda b: b.name):
            seen_plugins.add(backend.plugin.name)
            out.append(_entry(backend.name, backend.spec.aliases, backend.plugin,
                              backend.spec.description))
        for plugin in self.plugins:
            if plugin.name not in seen_plugins and plugin.status is not PluginStatus.OK:
                out.append(_entry(plugin.name, (), plugin, ""))
        return out


def _entry(
    name: str, aliases: Sequence[str], plugin: PluginInfo, description: str
) -> dict[str, Any]:
    return {
        "name": name,
        "aliases": list(aliases),
        "distribution": plugin.distribution,
        "version": plugin.version,
        "status": plugin.status.value,
        "error": plugin.error,
        "warning": plugin.warning,
        "description": description,
    }
