"""pytest plugin of the contract kit (entry point `pytest11`): shared fixtures."""

from __future__ import annotations

import pytest

from ._ports import free_port


@pytest.fixture
def memscreen_free_port() -> int:
    """A loopback port with nothing listening on it."""
    return free_port()
