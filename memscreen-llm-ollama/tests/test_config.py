"""OllamaConfig through core's resolution: MemScreen's env names, validation, redaction."""

from __future__ import annotations

import pytest

from memscreen_llm import ConfigError, UsageError, create_llm, resolve_config
from memscreen_llm_ollama import DEFAULT_MODEL


def test_defaults_and_memscreen_env_names() -> None:
    default = resolve_config(None, env={})
    assert default.backend.name == "ollama"
    assert default.config.base_url == "http://localhost:11434"
    assert default.config.model == DEFAULT_MODEL
    env = {"MEMSCREEN_OLLAMA_URL": "http://gpu-box:11434", "MEMSCREEN_LLM_MODEL": "llama3.2:3b",
           "MEMSCREEN_OLLAMA_THINK": "high", "MEMSCREEN_OLLAMA_NUM_CTX": "8192"}
    resolved = resolve_config("ollama", env=env)
    config = resolved.config
    assert (config.base_url, config.model, config.think, config.num_ctx) == (
        "http://gpu-box:11434", "llama3.2:3b", "high", 8192)
    assert resolved.sources["base_url"] == "env MEMSCREEN_OLLAMA_URL"
    assert resolve_config("ollama", env={"MEMSCREEN_OLLAMA_THINK": "true"}).config.think is True


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("think", "maximum", "think must be true, false or one of low, medium, high"),
    ("base_url", "11434", "must be an http:// or https:// URL"),
    ("num_ctx", 0, "num_ctx must be >= 1"),
    ("options", "x", "options must be a table/object"),
])
def test_bad_values(field: str, value: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_llm("ollama", **{field: value})


def test_headers_are_secret() -> None:
    llm = create_llm("ollama", headers={"Authorization": "Bearer s3cret"})
    assert "s3cret" not in repr(llm) and "s3cret" not in str(llm.config.public_dict())


def test_request_options_map_to_ollama_names() -> None:
    from memscreen_llm.types import ChatRequest

    llm = create_llm("ollama", model="m", temperature=0.3, max_tokens=50, top_k=4,
                     options={"mirostat": 1}, keep_alive="10m")
    params = llm._params(ChatRequest(  # type: ignore[attr-defined]
        messages=({"role": "user", "content": "x"},),
        options={"seed": 3, "stop": ["\n"], "options": {"num_thread": 2}}))
    assert params["options"] == {"mirostat": 1, "temperature": 0.3, "num_predict": 50, "top_k": 4,
                                 "seed": 3, "stop": ["\n"], "num_thread": 2}
    assert params["keep_alive"] == "10m" and "think" not in params and "tools" not in params
    tools = [{"type": "function", "function": {"name": "f"}}]
    with pytest.raises(UsageError, match="Ollama cannot force a tool call"):
        llm.chat([{"role": "user", "content": "x"}], tools=tools, tool_choice="required")
