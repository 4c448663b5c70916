"""Finding and reading the TOML config file: `[llm] backend = "..."` and `[llm.<backend>]`."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ENV_CONFIG = "MEMSCREEN_LLM_CONFIG"
DEFAULT_FILE = "memscreen-llm.toml"
_LLM_KEYS = ("backend", "fallbacks", "fallback_cooldown")


@attrs.frozen
class ConfigFile:
    path: Path | None
    backend: str | None = None
    tables: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    fallbacks: tuple[str, ...] | None = None  # [llm] fallbacks = ["ollama"]
    fallback_cooldown: float | None = None  # [llm] fallback_cooldown = 30

    def label(self, table: str | None = None) -> str:
        where = f"file {self.path}"
        return f"{where} [llm.{table}]" if table else f"{where} [llm]"

    def table_for(self, names: tuple[str, ...]) -> tuple[str, Mapping[str, Any]] | None:
        """The `[llm.<name>]` table for a backend, looked up by its name or any alias."""
        for name in names:
            if name in self.tables:
                return name, self.tables[name]
        return None


def locate(explicit: str | Path | None, env: Mapping[str, str]) -> tuple[Path | None, str]:
    """Which file to read and why: an argument, then the env var, then ./memscreen-llm.toml."""
    if explicit is not None:
        return Path(explicit), "--config"
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), f"env {ENV_CONFIG}"
    default = Path(DEFAULT_FILE)
    return (default, "default location") if default.is_file() else (None, "")


def load(explicit: str | Path | None, env: Mapping[str, str]) -> ConfigFile:
    path, why = locate(explicit, env)
    if path is None:
        return ConfigFile(path=None)
    try:
        data = tomllib.loads(utf8_text(path.read_bytes(), f"config file {path}"))
    except UsageError as exc:  # not UTF-8: TOML files are UTF-8 by definition
        raise ConfigError(str(exc), source=why, fix="save the file as UTF-8") from None
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", source=why,
            fix=f"create it, or point {why} at an existing file",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", source=why) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}", source=why,
            fix="see https://toml.io for the syntax",
        ) from None
    return _parse(path, data)


def utf8_text(data: bytes, what: str) -> str:
    """`data` as text (a leading byte-order mark dropped); else a UsageError naming `what`
    and the offset of the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} is not UTF-8 at byte {exc.start}") from None
    return text.removeprefix("\ufeff")


def _parse(path: Path, data: Mapping[str, Any]) -> ConfigFile:
    llm = data.get("llm", {})
    if not isinstance(llm, dict):
        raise ConfigError(f"'llm' in {path} must be a table", source=f"file {path}",
                          fix='write it as [llm] with backend = "..."')
    backend = None
    tables: dict[str, Mapping[str, Any]] = {}
    chain: dict[str, Any] = {}
    for key, value in llm.items():
        if isinstance(value, dict):
            tables[key.lower()] = value
        elif key in ("fallbacks", "fallback_cooldown"):
            chain[key] = _chain_value(key, value, f"file {path} [llm]")
        elif key == "backend":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"backend must be a backend name, got {value!r}", field="backend",
                    source=f"file {path} [llm]", value=value, fix='e.g. backend = "ollama"',
                )
            backend = value.strip()
        else:
            close = difflib.get_close_matches(key, _LLM_KEYS, n=1)
            raise ConfigError(
                f"unknown key {key!r} in [llm]"
                + (f"; did you mean {close[0]!r}?" if close else ""),
                field=key, source=f"file {path} [llm]", value=value,
                fix="[llm] holds `backend` and one [llm.<backend>] table per backend",
            )
    return ConfigFile(path=path, backend=backend, tables=tables, **chain)


def _chain_value(key: str, value: Any, source: str) -> Any:
    """`fallbacks` (a list of backend names) or `fallback_cooldown` (seconds), checked."""
    if key == "fallback_cooldown":
        from ._fallback import cooldown_value

        return cooldown_value(value, source)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"fallbacks must be a list of backend names, got {value!r}",
                          field="fallbacks", source=source, value=value,
                          fix='e.g. fallbacks = ["ollama"] (tried in order when the backend '
                          "is unavailable, timed out or overloaded)")
    return tuple(v.strip() for v in value)
