"""Checking a plugin's declared API range (">=1.0,<2") against the core's API version."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)\s*$")
_OPERATORS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq,
    "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}


def _parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # "2" and "2.0" must compare equal, so both sides get the same length.
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


def check_range(spec: str) -> None:
    """Raise ValueError unless `spec` is a comma-separated list of comparisons."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"API range must be a string like '>=1.0,<2', got {spec!r}")
    for clause in spec.split(","):
        if not _CLAUSE.match(clause):
            raise ValueError(f"bad API range clause {clause.strip()!r} in {spec!r}")


def in_range(version: str, spec: str) -> bool:
    """Whether `version` satisfies every clause of `spec` (call check_range first)."""
    have = _parse_version(version)
    for clause in spec.split(","):
        match = _CLAUSE.match(clause)
        assert match is not None
        op, wanted = match.groups()
        left, right = _padded(have, _parse_version(wanted))
        if not _OPERATORS[op](left, right):
            return False
    return True
