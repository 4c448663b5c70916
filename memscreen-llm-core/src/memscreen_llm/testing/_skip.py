"""A skip nobody overlooks: for tests whose real engine cannot run on this machine."""

from __future__ import annotations

import sys
from typing import NoReturn

import pytest


def loud_skip(reason: str) -> NoReturn:
    """Print `reason` in a banner on stderr (seen even without -rs), then skip with it."""
    bar = "!" * 20
    print(f"\n{bar}\n{reason}\n{bar}", file=sys.stderr)
    pytest.skip(reason)
