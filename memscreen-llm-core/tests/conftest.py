from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    for var in ("MEMSCREEN_LLM_PLUGINS", "MEMSCREEN_LLM_DISABLE_PLUGINS",
                "MEMSCREEN_LLM_STRICT_PLUGINS", "MEMSCREEN_LLM_BACKEND", "MEMSCREEN_LLM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    yield folder


def run_cli(site: Path, *args: str, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `memscreen-llm` entry point in a new interpreter, with `site` on its path."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    full_env["PYTHONPATH"] = str(site)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "memscreen_llm.cli", *args],
        capture_output=True, text=True, env=full_env, input=stdin, timeout=60,
        cwd=site.parent,
    )
