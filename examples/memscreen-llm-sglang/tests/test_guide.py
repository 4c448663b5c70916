"""docs/writing-a-backend.md, followed literally: its files written out, its commands run.

Every code block whose info string names a file (```python file=PATH) is written to that
path in an empty folder; every ```bash step block is run there, in order, with one
stand-in: `pip install -e DIR` installs DIR into a throwaway folder on PYTHONPATH instead
of into this test environment. The plugin that comes out must show in
`memscreen-llm backends`, pass the kit's offline checks with the guide's own test file,
and then pass the whole kit against the real vLLM server (the guide's backend speaks the
OpenAI API, which vLLM serves as llama-server does).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli

from memscreen_llm.testing import check_compose_file, compose_binary_or_skip

GUIDE = REPO / "docs" / "writing-a-backend.md"
FILE_BLOCK = re.compile(r"^```\w+ file=(\S+)\n(.*?)^```$", re.S | re.M)
STEP_BLOCK = re.compile(r"^```bash step\n(.*?)^```$", re.S | re.M)
PIP_SHIM = """
pip() {  # the guide's `pip install -e DIR`, into $GUIDE_SITE instead of this venv
  if [ "$1" = install ] && [ "$2" = -e ]; then
    python -m pip install --quiet --no-input --disable-pip-version-check --no-deps \\
      --target "$GUIDE_SITE" "$3"
  else
    python -m pip "$@"
  fi
}
set -e
"""


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The guide's files written out and its steps run; what each step printed."""
    text = GUIDE.read_text(encoding="utf-8")
    work = tmp_path_factory.mktemp("guide")
    site = work / "site"
    files = FILE_BLOCK.findall(text)
    for relative, body in files:
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    env.update(GUIDE_SITE=str(site), PYTHONPATH=str(site),
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    outputs = []
    for step in STEP_BLOCK.findall(text):
        done = subprocess.run(["bash", "-c", PIP_SHIM + step], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"guide step failed:\n{step}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return {"work": work, "site": site, "env": env, "files": [f for f, _ in files],
            "steps": outputs, "text": text}


def test_the_guide_writes_a_whole_plugin(followed: dict[str, Any]) -> None:
    assert {Path(f).name for f in followed["files"]} == {
        "pyproject.toml", "__init__.py", "config.py", "plugin.py", "backend.py",
        "docker-compose.llamacpp.yml", "test_contract.py"}
    assert len(followed["steps"]) == 2  # install-and-list, then the offline kit checks


def test_the_guides_python_is_under_80_lines(followed: dict[str, Any]) -> None:
    """On core's openai_compat kit a whole backend (config, hooks, class, kit test) is short."""
    python = re.findall(r"^```python file=\S+\n(.*?)^```$", followed["text"], re.S | re.M)
    assert len(python) == 5 and sum(len(body.splitlines()) for body in python) < 80


def test_installed_it_shows_in_backends(followed: dict[str, Any]) -> None:
    listing = followed["steps"][0]
    assert re.search(r"^llamacpp\s+ok\s+memscreen-llm-llamacpp 0\.1\.0 \(aliases: llama\.cpp\)",
                     listing, re.M), listing
    assert "base_url = 'http://localhost:8080/v1'    (default)" in listing
    entries = json.loads(run_cli("backends", "--json", pythonpath=[followed["site"]]).stdout)
    assert {"llamacpp", "sglang"} <= {e["name"] for e in entries if e["status"] == "ok"}
    compose = run_cli("compose", "llamacpp", "--path", pythonpath=[followed["site"]])
    assert compose.returncode == 0 and Path(compose.stdout.strip()).is_file()


def test_its_offline_kit_checks_pass(followed: dict[str, Any]) -> None:
    assert re.search(r"^4 passed, \d+ deselected", followed["steps"][1], re.M), followed["steps"][1]


def test_the_whole_kit_passes_against_a_real_openai_compatible_server(
    followed: dict[str, Any], server: Any
) -> None:
    assert "LLAMACPP_TEST_URL=http://127.0.0.1:8080 pytest tests -q -rs" in followed["text"]
    env = {**followed["env"], "LLAMACPP_TEST_URL": server.host_url, "LLAMACPP_TEST_MODEL": "tiny"}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-rs", "-p",
                           "no:cacheprovider"], cwd=followed["work"] / "memscreen-llm-llamacpp",
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # The kit declares every capability; the guide's test says how to force none of the
    # model's reasoning or tool calls, so exactly those checks skip (and the one for
    # undeclared capabilities, as there are none).
    assert re.search(r"^\d+ passed, 3 skipped", done.stdout, re.M), done.stdout[-2000:]
    for reason in ("define tool_call_request()", "define reasoning_request()",
                   "declares every capability"):
        assert reason in done.stdout


def test_its_compose_file_passes_docker_compose_config(followed: dict[str, Any]) -> None:
    compose_binary_or_skip()  # the kit fetches and caches the real Compose v2 binary
    compose = next(followed["work"].rglob("docker-compose.llamacpp.yml"))
    done = check_compose_file(compose, env={"MODEL_FILE": "m.gguf",
                                            "MODELS_DIR": str(followed["work"])})
    assert done.returncode == 0, done.stderr
