"""Per-call `options={...}` in Ollama's names — how MemScreen's memory code passes its
sampling settings — folded into the per-call options every backend takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import UsageError

# Ollama option -> the per-call option of the same meaning on every backend.
OLLAMA_OPTIONS = {
    "num_predict": "max_tokens", "temperature": "temperature", "top_p": "top_p",
    "top_k": "top_k", "seed": "seed", "stop": "stop",
}


def fold_options(
    options: dict[str, Any], *, backend: str, native: bool, aliases: Mapping[str, str],
) -> dict[str, Any]:
    """`options` with its `options` entry folded in: a known name becomes its per-call
    option (one given directly wins); the rest stays in `options` for a backend that takes
    them as they are (`native`, Ollama), is renamed by `aliases` (e.g. repeat_penalty ->
    repetition_penalty), or is refused: never dropped."""
    given = options.get("options")
    if given is None:
        return options
    if not isinstance(given, Mapping):
        raise UsageError(f"options= must be a dict of Ollama option names, got "
                         f"{type(given).__name__}")
    folded = {name: value for name, value in options.items() if name != "options"}
    rest: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        name = OLLAMA_OPTIONS.get(key) or aliases.get(key)
        if name is None:
            rest[key] = value
        elif name not in folded:
            folded[name] = value
    if rest and not native:
        known = ", ".join(sorted({*OLLAMA_OPTIONS, *aliases}))
        raise UsageError(
            f"backend {backend!r} cannot honour options {', '.join(map(repr, rest))} "
            f"(in options=); it takes these Ollama option names: {known}")
    if rest:
        folded["options"] = rest
    return folded
