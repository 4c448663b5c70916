"""Version differences in one place: entry points and TOML."""

from __future__ import annotations

import sys

# Python 3.10+ has entry_points(group=...) and EntryPoint.dist, so the stdlib module (which
# pluggy imports anyway) serves every supported version; the importlib-metadata backport is
# used only if the stdlib one is missing that API, which costs ~20 ms of startup to import.
from importlib.metadata import EntryPoint, entry_points

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = ["EntryPoint", "entry_points", "tomllib"]
