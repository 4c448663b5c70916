"""The CLI with the real plugin installed and a real server: backends, doctor, chat."""

from __future__ import annotations

import json

from memscreen_llm.testing import free_port, imported_by_discovery, run_cli
from memscreen_llm_ollama.testing import OllamaServer


def test_backends_lists_ollama_without_importing_the_sdk() -> None:
    entries = json.loads(run_cli("backends", "--json").stdout)
    ollama = next(e for e in entries if e["name"] == "ollama")
    assert ollama["status"] == "ok" and ollama["distribution"] == "memscreen-llm-ollama"
    assert imported_by_discovery("ollama", "httpx", "openai", "vllm", "torch", "pydantic") == []


def test_doctor_against_the_real_server(server: OllamaServer) -> None:
    ok = run_cli("doctor", env={"MEMSCREEN_OLLAMA_URL": server.base_url,
                                "MEMSCREEN_LLM_MODEL": "tiny"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok    server     Ollama 0.9.3" in ok.stdout
    assert "ok    model      'tiny' present" in ok.stdout
    assert "ok    context" in ok.stdout and "num_ctx 512" in ok.stdout
    missing = run_cli("doctor", "--set", "model=nonesuch",
                      env={"MEMSCREEN_OLLAMA_BASE_URL": server.base_url})
    assert missing.returncode == 1
    assert "FAIL  model" in missing.stdout and "ollama pull nonesuch" in missing.stdout


def test_doctor_and_chat_with_the_server_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    doctor = run_cli("doctor", env={"MEMSCREEN_OLLAMA_URL": url})
    assert doctor.returncode == 3 and "FAIL  server" in doctor.stdout
    chat = run_cli("chat", "hi", env={"MEMSCREEN_OLLAMA_URL": url})
    assert chat.returncode == 3
    assert f"cannot reach the server at {url}" in chat.stderr
    assert "docker compose -f" in chat.stderr and "Traceback" not in chat.stderr


def test_chat_by_env_selected_backend(server: OllamaServer) -> None:
    env = {"MEMSCREEN_LLM_BACKEND": "ollama", "MEMSCREEN_OLLAMA_URL": server.base_url,
           "MEMSCREEN_LLM_MODEL": "tiny", "MEMSCREEN_OLLAMA_MAX_TOKENS": "12",
           "MEMSCREEN_OLLAMA_TEMPERATURE": "0"}
    plain = run_cli("chat", "--json", "hello", env=env)
    assert plain.returncode == 0, plain.stderr
    data = json.loads(plain.stdout)
    assert data["model"] == "tiny" and data["content"]
    streamed = run_cli("chat", "--stream", "hello", env=env)
    assert streamed.returncode == 0 and streamed.stdout.strip() == data["content"].strip()
