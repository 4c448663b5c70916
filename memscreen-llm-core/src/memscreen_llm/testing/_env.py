"""A clean process environment for tests: no MEMSCREEN_* settings, no API keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

# What a developer's shell may hold that would change what a test sees.
ENV_PREFIXES: tuple[str, ...] = ("MEMSCREEN_", "OPENAI_", "VLLM_API_KEY")


def clean_env(monkeypatch: pytest.MonkeyPatch, prefixes: Sequence[str] = ENV_PREFIXES) -> None:
    """Remove, for this test, every environment variable whose name starts with a prefix."""
    for var in list(os.environ):
        if var.startswith(tuple(prefixes)):
            monkeypatch.delenv(var)


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    pythonpath: Iterable[str | os.PathLike[str]] = (),
    stdin: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """`memscreen-llm ARGS` in a fresh interpreter; text output captured, never raises on exit.

    The child gets this process's environment without the ENV_PREFIXES variables, then
    `pythonpath` (folders of test plugin distributions) as PYTHONPATH, then `env`.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    folders = [str(Path(folder)) for folder in pythonpath]
    if folders:
        full_env["PYTHONPATH"] = os.pathsep.join(folders)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "memscreen_llm.cli", *args],
        capture_output=True, text=True, env=full_env, input=stdin, timeout=timeout, cwd=cwd,
    )
