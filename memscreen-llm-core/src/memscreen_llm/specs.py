"""What a plugin registers: a `BackendSpec` per backend, a `ParserSpec` per named parser.

These are stdlib frozen dataclasses, not attrs classes, so that discovery (which builds
them) does not pay for importing attrs: `memscreen-llm backends` stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import LLMBase
    from .config import BaseLlmConfig

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# "package.module:attribute", imported only when first needed so discovery stays cheap.
Target = str


def env_name(backend: str, field: str) -> str:
    """The environment variable of a backend's config field: MEMSCREEN_<BACKEND>_<FIELD>."""
    return f"MEMSCREEN_{re.sub(r'[^A-Z0-9]+', '_', backend.upper())}_{field.upper()}"


def _check_names(field: str, names: tuple[str, ...]) -> None:
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{field}: {name!r} is not a valid name (lowercase letters, digits, . _ -)"
            )


def _check_target(field: str, value: Any) -> None:
    if value is None or callable(value):
        return
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"{field} must be a callable or 'package.module:attribute'")


def load_target(target: Target | Callable[..., Any]) -> Any:
    """Import a 'package.module:attribute' target (or return a callable as it is)."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackendSpec:
    """A backend as a plugin registers it.

    `factory` builds the backend from its config: a callable or a lazy 'module:attr' target,
    so that the engine's SDK is imported only when a backend is created; `config_class`
    may be a lazy target too (attrs then loads only when a config is built). A preset sets
    `extends` to another backend's name and inherits whatever it leaves unset (config class,
    factory, compose files), with `defaults` laid over the config class's own defaults.
    """

    name: str
    config_class: type[BaseLlmConfig] | Target | None = None
    factory: Target | Callable[[BaseLlmConfig], LLMBase] | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    # variant name ("default", "cpu", "fp8", ...) -> "package:relative/path.yml"
    compose_files: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # How to start the server; unset = the `docker compose` command for `compose_files`.
    compose_hint: str | None = None
    extends: str | None = None
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aliases", tuple(self.aliases))  # a list would do as well
        _check_names("name", (self.name,))
        _check_names("aliases", self.aliases)
        _check_target("factory", self.factory)
        if not isinstance(self.config_class, type):
            _check_target("config_class", self.config_class)
        if self.extends is None and (self.config_class is None or self.factory is None):
            raise ValueError(
                f"backend {self.name!r}: config_class and factory are required "
                "unless it extends another backend"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParserSpec:
    """Named output parsers any backend can apply to raw model text (classes as lazy targets)."""

    name: str
    reasoning: Target | None = None
    tool_calls: Target | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_names("name", (self.name,))
        _check_target("reasoning", self.reasoning)
        _check_target("tool_calls", self.tool_calls)
        if self.reasoning is None and self.tool_calls is None:
            raise ValueError(f"parser {self.name!r} needs a reasoning or a tool_calls parser")


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackendIdentity:
    """Who a backend is, handed to it when it is built: its registered name, aliases, the
    distribution it came from and the command that starts its server."""

    name: str
    aliases: tuple[str, ...] = ()
    distribution: str | None = None
    compose_hint: str | None = None

    def env(self, field: str) -> str:
        """This backend's environment variable for `field`, e.g. MEMSCREEN_VLLM_MODEL."""
        return env_name(self.name, field)
