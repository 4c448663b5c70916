"""`memscreen-llm --version`, and each distribution's version written in one place."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from conftest import run_cli
from plugin_dists import write_dist, write_echo

import memscreen_llm
from memscreen_llm import _version

CORE = Path(__file__).resolve().parents[1]


def test_version_lists_core_and_every_plugin_distribution(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique, dist="plugin-echo", version="2.3.1")
    write_dist(site, "plugin-bad", "bad", f"bad_{unique}", "import no_such_module_xyz\n", "0.9")
    result = run_cli(site, "--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (f"memscreen-llm-core {memscreen_llm.__version__} "
                        f"(plugin API {memscreen_llm.API_VERSION})")
    assert "plugin-echo 2.3.1: plugin echo" in lines
    assert "plugin-bad 0.9: plugin bad (error)" in lines
    assert result.stderr == ""


def test_version_with_no_plugins_and_a_disabled_one(site: Path, unique: str) -> None:
    assert run_cli(site, "--version", env={"MEMSCREEN_LLM_PLUGINS": ""}).stdout.startswith(
        "memscreen-llm-core ")
    write_echo(site, "echo", unique, dist="plugin-echo", version="1.0")
    done = run_cli(site, "--version", env={"MEMSCREEN_LLM_DISABLE_PLUGINS": "echo"})
    assert "plugin-echo 1.0: plugin echo (disabled)" in done.stdout.splitlines()


def test_version_needs_no_command(site: Path) -> None:
    done = run_cli(site, "--version")
    assert done.returncode == 0 and "COMMAND" not in done.stderr


def test_installed_version_is_the_one_in_version_py() -> None:
    assert importlib.metadata.version("memscreen-llm-core") == _version.__version__
    pyproject = (CORE / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert 'path = "src/memscreen_llm/_version.py"' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.M)  # no second copy to keep in sync
