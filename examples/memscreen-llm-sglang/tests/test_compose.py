"""The shipped compose files pass the real Compose v2 binary's `config -q`.

The binary is provisioned (downloaded once, cached) by core's contract kit, so this
check never depends on another test or nox session having fetched it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import memscreen_llm_sglang
from memscreen_llm.testing import check_compose_file, compose_binary_or_skip

COMPOSE = Path(memscreen_llm_sglang.__file__).parent / "compose"
FILES = sorted(path.name for path in COMPOSE.glob("*.yml"))


def test_compose_files_are_shipped() -> None:
    assert FILES, f"no compose files in {COMPOSE}"


@pytest.mark.parametrize("name", FILES)
def test_compose_file_passes_compose_config(name: str) -> None:
    compose_binary_or_skip()
    done = check_compose_file(COMPOSE / name)
    assert done.returncode == 0, f"{name}: {done.stderr}"
