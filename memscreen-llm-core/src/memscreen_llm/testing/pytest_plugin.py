"""pytest plugin of the contract kit (entry point `pytest11`): shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._env import clean_env
from ._ports import free_port


@pytest.fixture
def memscreen_free_port() -> int:
    """A loopback port with nothing listening on it."""
    return free_port()


@pytest.fixture
def memscreen_clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No MEMSCREEN_* / API-key variables and the test's tmp_path as cwd (no stray
    ./memscreen-llm.toml); returns tmp_path. Make it autouse in a conftest:

        @pytest.fixture(autouse=True)
        def _clean_env(memscreen_clean_env: Path) -> None:
            pass
    """
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path
