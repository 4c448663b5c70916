"""The plugin as users meet it: installed next to the first-party plugins, in the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from memscreen_llm.testing import free_port, imported_by_discovery, run_cli

FIRST_PARTY = ("memscreen-llm-ollama", "memscreen-llm-vllm", "memscreen-llm-step35")


@pytest.fixture(scope="session")
def first_party_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first-party plugins, pip-installed (built as wheels) into a folder of their own.

    --no-deps: their engine SDKs are not needed to be discovered, and this venv already
    has core; discovery must not import the SDKs anyway.
    """
    site = tmp_path_factory.mktemp("first-party")
    dists = [str(REPO / name) for name in FIRST_PARTY]
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
                           "--disable-pip-version-check", "--no-deps", "--target", str(site),
                           *dists], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"pip install of the first-party plugins failed:\n{done.stderr[-3000:]}")
    return site


def test_backends_lists_sglang_next_to_the_first_party_plugins(first_party_site: Path) -> None:
    listed = run_cli("backends", "--json", pythonpath=[first_party_site])
    assert listed.returncode == 0, listed.stderr
    entries = {e["name"]: e for e in json.loads(listed.stdout)}
    assert {"ollama", "vllm", "step35", "sglang"} <= set(entries)
    assert all(e["status"] == "ok" for e in entries.values()), entries
    assert entries["sglang"]["distribution"] == "memscreen-llm-sglang"
    text = run_cli("backends", pythonpath=[first_party_site]).stdout
    assert "sglang       ok           memscreen-llm-sglang 0.1.0" in text


def test_listing_imports_no_client_library() -> None:
    assert imported_by_discovery("openai", "httpx") == []


def test_compose_file_is_shipped_in_the_package() -> None:
    done = run_cli("compose", "sglang", "--path")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.name == "docker-compose.sglang.yml" and path.is_file()
    text = run_cli("compose", "sglang").stdout
    assert "lmsysorg/sglang:v0." in text and "127.0.0.1:30000:30000" in text


def test_doctor_and_chat_against_the_server(server: Any) -> None:
    env = {"MEMSCREEN_SGLANG_URL": server.host_url, "MEMSCREEN_SGLANG_MAX_TOKENS": "8"}
    doctor = run_cli("doctor", "-b", "sglang", env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "server" in doctor.stdout and "'tiny' served" in doctor.stdout
    chat = run_cli("chat", "-b", "sglang", "--json", "Hello", env=env)
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["model"] == "tiny"


def test_server_down_says_how_to_start_it() -> None:
    env = {"MEMSCREEN_SGLANG_URL": f"http://127.0.0.1:{free_port()}"}
    chat = run_cli("chat", "-b", "sglang", "--set", "model=m", "Hello", env=env)
    assert chat.returncode == 3, chat.stderr
    assert "cannot reach the server" in chat.stderr
    assert 'docker compose -f "$(memscreen-llm compose sglang --path)" up -d' in chat.stderr
    doctor = run_cli("doctor", "-b", "sglang", env=env)
    assert doctor.returncode == 3 and "FAIL" in doctor.stdout
