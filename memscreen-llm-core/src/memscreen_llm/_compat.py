"""Entry points across Python versions."""

from __future__ import annotations

# Python 3.10+ has entry_points(group=...) and EntryPoint.dist, so the stdlib module (which
# pluggy imports anyway) serves every supported version; the importlib-metadata backport is
# used only if the stdlib one is missing that API, which costs ~20 ms of startup to import.
from importlib.metadata import EntryPoint, entry_points

__all__ = ["EntryPoint", "entry_points"]
