"""`memscreen-llm --version`: core's version, then each installed plugin distribution's."""

from __future__ import annotations

from .._discovery import get_registry
from .._version import API_VERSION, __version__


def text() -> str:
    lines = [f"memscreen-llm-core {__version__} (plugin API {API_VERSION})"]
    by_dist: dict[str, list[str]] = {}
    for plugin in get_registry().plugins:
        dist = f"{plugin.distribution or '(unknown distribution)'} {plugin.version or '?'}"
        status = plugin.status.value
        by_dist.setdefault(dist, []).append(
            plugin.name if status == "ok" else f"{plugin.name} ({status})")
    for dist, names in sorted(by_dist.items()):
        lines.append(f"{dist}: plugin {', '.join(names)}")
    return "\n".join(lines) + "\n"
