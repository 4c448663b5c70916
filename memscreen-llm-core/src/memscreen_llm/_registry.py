"""The outcome of discovery: which plugins loaded, the backends and parsers they registered."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import FIRST_PARTY_BACKENDS, UnknownBackendError
from .specs import BackendSpec, ParserSpec, load_target

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


@dataclasses.dataclass(frozen=True)
class RegisteredParser:
    spec: ParserSpec
    plugin: PluginInfo


@dataclasses.dataclass(frozen=True)
class Registry:
    plugins: tuple[PluginInfo, ...]
    backends: Mapping[str, RegisteredBackend]
    parsers: Mapping[str, RegisteredParser]

    def backend_names(self) -> list[str]:
        return sorted(self.backends)

    def find_backend(self, name: str) -> RegisteredBackend:
        """The backend called `name` (or aliased so); else an error listing what is installed."""
        key = name.strip().lower()
        for backend in self.backends.values():
            if key == backend.name or key in backend.spec.aliases:
                return backend
        for plugin in self.plugins:
            if plugin.name == key and plugin.status is not PluginStatus.OK:
                problem = (
                    f"backend {name!r}: its plugin ({plugin.distribution} {plugin.version}) "
                    f"is {plugin.status.value}" + (f": {plugin.error}" if plugin.error else "")
                )
                raise UnknownBackendError(name, self.backend_names(), problem=problem)
        raise UnknownBackendError(name, self.backend_names())

    def parser_names(self) -> list[str]:
        return sorted(self.parsers)

    def output_parser(
        self, name: str, tools: Sequence[Mapping[str, Any]] | None = None
    ) -> OutputParser:
        """The named parsers, instantiated (their modules are imported only now)."""
        found = self.parsers.get(name)
        if found is None:
            installed = ", ".join(self.parser_names()) or "(none)"
            dist = FIRST_PARTY_BACKENDS.get(name)
            hint = f"; to add it: pip install {dist}" if dist else ""
            raise UnknownBackendError(
                name, [], problem=f"unknown parser {name!r}; installed parsers: {installed}{hint}"
            )
        from .parsing import OutputParser

        spec = found.spec
        reasoning = load_target(spec.reasoning)() if spec.reasoning else None
        tool_calls = load_target(spec.tool_calls)(tools) if spec.tool_calls else None
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
        "description": description,
    }
