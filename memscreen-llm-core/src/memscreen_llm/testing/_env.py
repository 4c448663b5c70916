"""A clean process environment for tests: no MEMSCREEN_* settings, no API keys."""

from __future__ import annotations

import json
import os
import signal
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


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}


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
    full_env = _clean_environ()
    folders = [str(Path(folder)) for folder in pythonpath]
    if folders:
        full_env["PYTHONPATH"] = os.pathsep.join(folders)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "memscreen_llm.cli", *args],
        capture_output=True, text=True, env=full_env, input=stdin, timeout=timeout, cwd=cwd,
    )


_PROBE = """
import json, sys
from memscreen_llm.cli import main
main(["backends", "--json"])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[1:])))
"""


def imported_by_discovery(*packages: str) -> list[str]:
    """The modules of `packages` (top-level names) that `memscreen-llm backends` imports.

    Run in a fresh interpreter with a clean environment; discovery must stay cheap, so a
    plugin's test asserts this is `[]` for its engine SDKs.
    """
    done = subprocess.run([sys.executable, "-c", _PROBE, *packages], capture_output=True,
                          text=True, env=_clean_environ(), check=True, timeout=120)
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def sigint_as_from_a_terminal() -> None:
    """`preexec_fn` for a child a test will Ctrl-C: SIGINT at its default, as a terminal's
    user has it. A shell's background job (a CI runner's, say) starts with SIGINT
    ignored, and Python keeps it ignored, so the child would never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
