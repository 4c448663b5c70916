"""Entry points of one group, read straight from the `.dist-info` folders on sys.path.

`importlib.metadata` reads the same files but costs ~26 ms to import in a virtualenv (it
pulls in email, csv, zipfile, pathlib), half of the CLI's startup budget. This reads
each folder's `entry_points.txt`, and `METADATA` for name and version, with plain file
I/O. The rules are importlib.metadata's: sys.path order, the first distribution of a
(normalised) name wins. Zipped path entries, which need its zip support, go to
importlib.metadata itself.

A distribution whose `entry_points.txt` or `METADATA` headers are not UTF-8 is skipped
with a logged warning naming the file, so one broken install elsewhere on sys.path never
breaks every command.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

_SUFFIXES = (".dist-info", ".egg-info")


@dataclasses.dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> Any:
        module_name, _, attribute = self.value.partition(":")
        value: Any = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            value = getattr(value, part)
        return value


def normalise(name: str) -> str:
    """PEP 503 name normalisation: `Memscreen_LLM.x` and `memscreen-llm-x` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_points(group: str, path: list[str] | None = None) -> list[EntryPoint]:
    """Every entry point of `group` in the distributions found on `path` (sys.path)."""
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path if path is None else path:
        for dist_name, version, text in _distributions(entry or "."):
            key = normalise(dist_name) if dist_name else ""
            if key in seen:
                continue  # an earlier path entry's copy of this distribution wins
            seen.add(key)
            found += [EntryPoint(name, value, dist_name or None, version)
                      for name, value in _group(text, group)]
    return found


def _distributions(entry: str) -> Iterator[tuple[str, str | None, str]]:
    """(name, version, entry_points.txt text) of each distribution in one sys.path entry."""
    if os.path.isfile(entry):
        yield from _zipped(entry)
        return
    try:
        names = sorted(os.listdir(entry))
    except OSError:  # a missing or unreadable path entry holds no distributions
        return
    for folder in names:
        if not folder.endswith(_SUFFIXES):
            continue
        base = os.path.join(entry, folder)
        path = os.path.join(base, "entry_points.txt")
        try:
            with open(path, "rb") as file:
                text = file.read().decode("utf-8")
        except OSError:  # most distributions declare no entry points
            continue
        except UnicodeDecodeError as exc:  # a broken install: skip it, say where
            _skipped(path, exc)
            continue
        try:
            name, version = _name_and_version(base, folder)
        except _BadMetadata as bad:  # its name is unreadable: skip it, say where
            _skipped(bad.path, bad.error)
            continue
        yield name, version, text


class _BadMetadata(Exception):
    def __init__(self, path: str, error: UnicodeDecodeError) -> None:
        super().__init__(path)
        self.path = path
        self.error = error


def _skipped(path: str, error: UnicodeDecodeError) -> None:
    import logging  # only on this rare path: the CLI's start-up never pays for it

    logging.getLogger("memscreen_llm.discovery").warning(
        "skipping the distribution of %s: not UTF-8 at byte %d (reinstall it)",
        path, error.start)


def _name_and_version(base: str, folder: str) -> tuple[str, str | None]:
    name = version = None
    for metadata in ("METADATA", "PKG-INFO"):
        path = os.path.join(base, metadata)
        try:
            with open(path, "rb") as file:
                offset = 0
                # Only the headers are decoded: a description in another encoding is
                # harmless, a header that is not UTF-8 makes the name unknowable.
                for raw in file:
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:  # the name is unknowable: skip it
                        exc.start += offset  # counted from the file's start
                        raise _BadMetadata(path, exc) from None
                    offset += len(raw)
                    if not line.strip():
                        break  # headers end at the first blank line
                    key, _, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
            break
        except OSError:  # try the next file name
            continue
    if name is None:  # fall back to the folder name: <name>-<version>.dist-info
        stem = folder.rsplit(".", 1)[0]
        name, _, guessed = stem.partition("-")
        version = version or guessed or None
    return name, version


def _group(text: str, group: str) -> Iterator[tuple[str, str]]:
    """`name = value` lines of one [group] section of an entry_points.txt."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _zipped(entry: str) -> Iterator[tuple[str, str | None, str]]:
    # Rare (eggs, zipapps); importlib.metadata's zip support is worth its import here.
    from importlib.metadata import distributions

    for dist in distributions(path=[entry]):
        try:
            text = dist.read_text("entry_points.txt")
            name, version = (dist.metadata["Name"] or "", dist.version) if text else ("", "")
        except UnicodeDecodeError as exc:  # a broken install: skip it, say where
            _skipped(f"{entry} ({getattr(dist, '_path', 'a distribution')})", exc)
            continue
        if text:
            yield name, version, text
