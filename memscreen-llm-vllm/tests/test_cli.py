"""The CLI with this plugin installed: backends, compose, doctor and chat against real servers."""

from __future__ import annotations

import json

from conftest import MODEL

from memscreen_llm.testing import free_port, imported_by_discovery, run_cli
from memscreen_llm_vllm.testing import VllmServer


def test_backends_lists_vllm_without_importing_any_sdk() -> None:
    entries = json.loads(run_cli("backends", "--json").stdout)
    vllm = next(e for e in entries if e["name"] == "vllm")
    assert vllm["status"] == "ok" and vllm["distribution"] == "memscreen-llm-vllm"
    sdks = ("openai", "httpx", "httpx2", "httpcore", "vllm", "torch", "pydantic")
    assert imported_by_discovery(*sdks) == []


def test_compose_default_and_cpu_variants() -> None:
    default = run_cli("compose", "vllm")
    assert default.returncode == 0 and "image: vllm/vllm-openai:v" in default.stdout
    assert "driver: nvidia" in default.stdout and "127.0.0.1:8000:8000" in default.stdout
    cpu = run_cli("compose", "vllm", "--variant", "cpu", "--path")
    assert cpu.returncode == 0 and cpu.stdout.strip().endswith("docker-compose.vllm.cpu.yml")
    with open(cpu.stdout.strip(), encoding="utf-8") as fh:
        text = fh.read()
    assert "vllm/vllm-openai-cpu:v" in text and "nvidia" not in text
    bad = run_cli("compose", "vllm", "--variant", "tpu")
    assert bad.returncode == 2 and "variants: cpu, default, router" in bad.stderr


def test_doctor_against_the_real_server(server: VllmServer) -> None:
    ok = run_cli("doctor", "-b", "vllm", env={"MEMSCREEN_VLLM_URL": server.base_url})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"ok    server     vLLM at {server.host_url} healthy" in ok.stdout
    assert f"ok    model      '{MODEL}' (the server's only model" in ok.stdout
    assert "ok    context    max_model_len 1024 (from the server)" in ok.stdout
    missing = run_cli("doctor", "-b", "vllm", "--set", "model=nonesuch",
                      env={"MEMSCREEN_VLLM_BASE_URL": server.base_url})
    assert missing.returncode == 1
    assert "FAIL  model" in missing.stdout and f"one of: {MODEL}" in missing.stdout


def test_doctor_and_chat_with_the_server_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {"MEMSCREEN_VLLM_URL": url, "MEMSCREEN_VLLM_MAX_RETRIES": "0"}
    doctor = run_cli("doctor", "-b", "vllm", env=env)
    assert doctor.returncode == 3 and "FAIL  server" in doctor.stdout
    assert "memscreen-llm compose vllm --path" in doctor.stdout
    chat = run_cli("chat", "-b", "vllm", "-m", MODEL, "hi", env=env)
    assert chat.returncode == 3
    assert f"cannot reach the server at {url}" in chat.stderr
    assert "docker compose -f" in chat.stderr and "Traceback" not in chat.stderr


def test_chat_by_env_selected_backend(server: VllmServer) -> None:
    env = {"MEMSCREEN_LLM_BACKEND": "vllm", "MEMSCREEN_VLLM_URL": server.host_url,
           "MEMSCREEN_VLLM_MAX_TOKENS": "12", "MEMSCREEN_VLLM_TEMPERATURE": "0"}
    plain = run_cli("chat", "--json", "hello", env=env)
    assert plain.returncode == 0, plain.stderr
    data = json.loads(plain.stdout)
    assert data["model"] == MODEL and data["content"]
    streamed = run_cli("chat", "--stream", "--json", "hello", env=env)
    assert streamed.returncode == 0, streamed.stderr
    assert json.loads(streamed.stdout) == data
