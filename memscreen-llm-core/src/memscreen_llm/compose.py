"""Docker Compose files that plugins ship inside their wheels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:  # the registry imports this module for the start command
    from ._registry import RegisteredBackend

DEFAULT_VARIANT = "default"


def variants(backend: RegisteredBackend) -> list[str]:
    return sorted(backend.spec.compose_files)


def compose_path(backend: RegisteredBackend, variant: str | None = None) -> Path:
    """The installed path of a backend's compose file for `variant` (default: "default")."""
    files = backend.spec.compose_files
    if not files:
        raise UsageError(f"backend {backend.name!r} ships no compose file")
    chosen = variant or DEFAULT_VARIANT
    if chosen not in files:
        raise UsageError(
            f"backend {backend.name!r} has no compose variant {chosen!r}; "
            f"variants: {', '.join(variants(backend))}"
        )
    import importlib.resources  # here, not at the top: plugins import this module at discovery

    package, _, relative = files[chosen].partition(":")
    resource = importlib.resources.files(package).joinpath(relative)
    # Wheels install as plain files, so the resource is a real path on disk.
    path = Path(str(resource))
    if not path.is_file():
        raise UsageError(f"compose file {files[chosen]} is missing from the installed package")
    return path


def compose_up_command(backend_name: str, variant: str | None = None) -> str:
    """The shell command that starts a backend's server from its shipped compose file."""
    flag = f" --variant {variant}" if variant and variant != DEFAULT_VARIANT else ""
    return f'docker compose -f "$(memscreen-llm compose {backend_name}{flag} --path)" up -d'
