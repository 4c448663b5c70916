"""What a plugin registers: a `BackendSpec` per backend, a `ParserSpec` per named parser."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .base import LLMBase
    from .config import BaseLlmConfig

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# "package.module:attribute", imported only when first needed so discovery stays cheap.
Target = str


def _check_name(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    names = value if isinstance(value, tuple) else (value,)
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{field.name}: {name!r} is not a valid name (lowercase letters, digits, . _ -)"
            )


def _check_target(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None or callable(value):
        return
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"{field.name} must be a callable or 'package.module:attribute'")


def load_target(target: Target | Callable[..., Any]) -> Any:
    """Import a 'package.module:attribute' target (or return a callable as it is)."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


@attrs.frozen(kw_only=True)
class BackendSpec:
    """A backend as a plugin registers it.

    `factory` builds the backend from its config: a callable or a lazy 'module:attr' target,
    so that the engine's SDK is imported only when a backend is created. A preset sets
    `extends` to another backend's name and inherits whatever it leaves unset (config class,
    factory, compose files), with `defaults` laid over the config class's own defaults.
    """

    name: str = attrs.field(validator=_check_name)
    config_class: type[BaseLlmConfig] | None = None
    factory: Target | Callable[[BaseLlmConfig], LLMBase] | None = attrs.field(
        default=None, validator=_check_target
    )
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_check_name)
    description: str = ""
    # variant name ("default", "cpu", "fp8", ...) -> "package:relative/path.yml"
    compose_files: Mapping[str, str] = attrs.field(factory=dict)
    compose_hint: str | None = None
    extends: str | None = None
    defaults: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.extends is None and (self.config_class is None or self.factory is None):
            raise ValueError(
                f"backend {self.name!r}: config_class and factory are required "
                "unless it extends another backend"
            )


@attrs.frozen(kw_only=True)
class ParserSpec:
    """Named output parsers any backend can apply to raw model text (classes as lazy targets)."""

    name: str = attrs.field(validator=_check_name)
    reasoning: Target | None = attrs.field(default=None, validator=_check_target)
    tool_calls: Target | None = attrs.field(default=None, validator=_check_target)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if self.reasoning is None and self.tool_calls is None:
            raise ValueError(f"parser {self.name!r} needs a reasoning or a tool_calls parser")
