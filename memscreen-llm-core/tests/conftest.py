from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm import testing as kit

_counter = itertools.count()


@pytest.fixture
def unique() -> str:
    """A fresh module-name suffix: imported plugin modules stay in sys.modules."""
    return f"p{os.getpid()}_{next(_counter)}"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests write plugin distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    kit.clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    yield folder


def run_cli(site: Path, *args: str, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `memscreen-llm` entry point in a new interpreter, with `site` on its path."""
    return kit.run_cli(*args, env=env, pythonpath=[site], stdin=stdin, cwd=site.parent,
                       timeout=60)
