"""Test fixtures: a REAL vLLM CPU server standing in for SGLang.

SGLang cannot run on the machines these tests run on (it needs a GPU). vLLM speaks the
same OpenAI-compatible API, so the tests run core's contract kit against a real vLLM
server on the CPU with a tiny random-weight model. Two stand-ins make it behave like an
SGLang server started without `--reasoning-parser` / `--tool-call-parser`: vLLM's own
parsers are off (raw text comes back), and a pass-through tool-call parser makes it
accept `tool_choice="auto"` as SGLang does (see vllm_passthrough_tool_parser.py).
SGLang's own answer fields (`reasoning_content`, streamed tool-call fragments) are
covered in test_wire.py by a loopback server that answers in SGLang's shapes.

The vLLM engine is the vLLM plugin's test kit, `memscreen_llm_vllm.testing` (the nox
session installs memscreen-llm-vllm next to this example). A third party copying this
example brings its own engine fixture, or installs `memscreen-llm-vllm[testing]` and
uses that kit the same way. The parser plugin, run_cli and the clean environment are
core's kit (`memscreen_llm.testing`). One server is shared by the whole session (it
takes ~30 s and ~3 GB) and always stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscreen_llm.testing import run_cli as run_cli  # re-exported for the tests
from memscreen_llm.testing import write_parser_plugin
from memscreen_llm_vllm.testing import Engine, VllmServer, provision_or_skip, serve

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]  # examples/memscreen-llm-sglang/tests -> the monorepo root
PASSTHROUGH = HERE / "vllm_passthrough_tool_parser.py"
SERVER_ARGS = ("--enable-auto-tool-choice", "--tool-call-parser", "passthrough",
               "--tool-parser-plugin", str(PASSTHROUGH))
MODEL = "tiny"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return provision_or_skip()


@pytest.fixture(scope="session")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """The one vLLM server of the session (vLLM's own parsers off, tool_choice accepted)."""
    yield from serve(engine, *SERVER_ARGS, served_model_name=MODEL,
                     log_path=tmp_path_factory.mktemp("vllm") / "server.log")


@pytest.fixture(scope="session")
def parser_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's parser plugin as `kit-think` / `kit-calls`, on sys.path for the session."""
    site = write_parser_plugin(tmp_path_factory.mktemp("parser-site"), "kit")
    sys.path.insert(0, str(site))  # core's registry is keyed by sys.path: it rediscovers
    return site


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd: no stray ./memscreen-llm.toml."""


@pytest.fixture(scope="session")
def vlm(engine: Engine) -> Iterator[VllmServer]:
    """A vision-language model's server (vLLM with the kit's tiny VLM standing in for
    SGLang serving one), started by the first test that asks for it."""
    from memscreen_llm_vllm.testing import provision_vlm_or_skip, serve_vlm

    yield from serve_vlm(engine, provision_vlm_or_skip(engine))
