"""The kit's Compose helper: one cached real Compose v2 binary, and `config -q` checks.

A good file passes; files Compose rejects (a bad port, an unset required variable) fail,
which shows the binary really validates rather than always exiting 0.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from memscreen_llm.testing import (
    ComposeUnavailable,
    _compose,
    check_compose_file,
    compose_binary,
    compose_binary_or_skip,
)

GOOD = """services:
  engine:
    image: example/engine:1.0
    command: ["--model", "${MODEL:?set MODEL}"]
    ports:
      - "127.0.0.1:8000:8000"
"""


@pytest.fixture(scope="module")
def binary() -> Path:
    return compose_binary_or_skip()


def test_binary_is_cached_and_runs(binary: Path) -> None:
    assert compose_binary() == binary  # one binary per process, found again
    done = subprocess.run([str(binary), "version", "--short"], capture_output=True,
                          text=True, check=False)
    assert done.stdout.strip() == _compose.COMPOSE_VERSION


def test_good_file_passes(binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(GOOD)
    done = check_compose_file(path)
    assert done.returncode == 0, done.stderr


def test_bad_port_fails(binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(GOOD.replace("127.0.0.1:8000:8000", "127.0.0.1:80000:8000"))
    done = check_compose_file(path)
    assert done.returncode != 0


def test_required_variable_is_interpolated(binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(GOOD.replace("MODEL:?", "ENGINE_MODEL_XYZ:?"))
    assert check_compose_file(path).returncode != 0
    assert check_compose_file(path, env={"ENGINE_MODEL_XYZ": "m"}).returncode == 0


def test_override_files_stack(binary: Path, tmp_path: Path) -> None:
    base = tmp_path / "docker-compose.yml"
    base.write_text(GOOD)
    override = tmp_path / "docker-compose.override.yml"
    override.write_text("services:\n  engine:\n    ports: ['not a port']\n")
    assert check_compose_file(base, overrides=[override]).returncode != 0


def test_a_named_binary_that_is_missing_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv(_compose.BINARY_ENV, str(tmp_path / "nothing"))
    with pytest.raises(ComposeUnavailable, match="is no executable file"):
        _compose._provision(log=False)
