"""VllmConfig through core's resolution: env names, /v1, validation, secrets, request mapping."""

from __future__ import annotations

import pytest

from memscreen_llm import ChatRequest, ConfigError, UsageError, create_llm, resolve_config
from memscreen_llm.openai_compat import chat_params, tokenize_body
from memscreen_llm_vllm import VllmConfig
from memscreen_llm_vllm._messages import vllm_body


def test_defaults() -> None:
    config = resolve_config("vllm", env={}).config
    assert isinstance(config, VllmConfig)
    assert (config.mode, config.base_url, config.model) == ("server", "http://localhost:8000/v1",
                                                            None)
    assert (config.max_retries, config.trust_remote_code, config.max_model_len) == (2, False, None)


def test_memscreen_env_names_and_vllm_api_key() -> None:
    env = {"MEMSCREEN_VLLM_URL": "http://gpu-box:8000", "MEMSCREEN_VLLM_LLM_MODEL": "Qwen/Qwen3-8B",
           "VLLM_API_KEY": "k1", "MEMSCREEN_VLLM_STOP": "END,STOP",
           "MEMSCREEN_VLLM_CHAT_TEMPLATE_KWARGS": '{"enable_thinking": false}',
           "MEMSCREEN_VLLM_MAX_MODEL_LEN": "32768"}
    resolved = resolve_config("vllm", env=env)
    config = resolved.config
    assert isinstance(config, VllmConfig)
    assert config.base_url == "http://gpu-box:8000/v1"  # /v1 added
    assert config.model == "Qwen/Qwen3-8B" and config.api_key == "k1"
    assert config.stop == ["END", "STOP"] and config.max_model_len == 32768
    assert config.chat_template_kwargs == {"enable_thinking": False}
    assert resolved.sources["base_url"] == "env MEMSCREEN_VLLM_URL"
    assert resolved.sources["api_key"] == "env VLLM_API_KEY"
    # The canonical names win over the aliases.
    both = resolve_config("vllm", env={**env, "MEMSCREEN_VLLM_API_KEY": "k2",
                                                "MEMSCREEN_VLLM_MODEL": "m2"}).config
    assert (both.api_key, both.model) == ("k2", "m2")


@pytest.mark.parametrize(("given", "expected"), [
    ("http://h:8000", "http://h:8000/v1"), ("http://h:8000/", "http://h:8000/v1"),
    ("http://h:8000/v1", "http://h:8000/v1"), ("http://h:8000/v1/", "http://h:8000/v1"),
    ("https://proxy/vllm", "https://proxy/vllm/v1"),
])
def test_base_url_gets_v1(given: str, expected: str) -> None:
    config = VllmConfig(base_url=given)
    assert config.base_url == expected
    assert config.server_root == expected.removesuffix("/v1")
    assert config.replace(temperature=0.5).base_url == expected  # type: ignore[attr-defined]


def test_secret_is_redacted_everywhere() -> None:
    llm = create_llm("vllm", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(llm)
    assert llm.config.public_dict()["api_key"] == "***"
    resolved = resolve_config("vllm", env={"VLLM_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in str(resolved.described())


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("mode", "remote", "mode must be one of: server, offline"),
    ("base_url", "localhost:8000", "must be an http:// or https:// URL"),
    ("stop", "END", "stop must be a list"),
    ("repetition_penalty", 0, "repetition_penalty must be > 0"),
    ("gpu_memory_utilization", 1.5, "gpu_memory_utilization must be <= 1"),
    ("tensor_parallel_size", 0, "tensor_parallel_size must be >= 1"),
    ("extra_body", "x", "extra_body must be a table/object"),
    ("reasoning_parser", "Step3P5", "lowercase parser name"),
    ("max_retries", -1, "max_retries must be >= 0"),
])
def test_bad_values(field: str, value: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_llm("vllm", **{field: value})


def test_bad_env_value_names_its_source() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_config("vllm", env={"MEMSCREEN_VLLM_TEMPERATURE": "hot"})
    assert "env MEMSCREEN_VLLM_TEMPERATURE" in str(err.value)


def test_offline_mode_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="mode 'offline' needs a model"):
        create_llm("vllm", mode="offline")


def test_creating_a_server_backend_contacts_nothing_and_imports_no_vllm() -> None:
    import sys

    llm = create_llm("vllm", base_url="http://127.0.0.1:9/v1")
    assert type(llm).__name__ == "VllmServerLLM" and "vllm" not in sys.modules


def test_request_mapping() -> None:
    config = VllmConfig(model="m", temperature=0.3, top_k=5, max_tokens=50,
                        repetition_penalty=1.1, stop=["\n\n"], extra_body={"min_p": 0.1},
                        chat_template_kwargs={"enable_thinking": False})
    request = ChatRequest(
        messages=({"role": "user", "content": "x"},),
        tools=({"type": "function", "function": {"name": "f"}},), tool_choice="auto",
        response_format={"type": "json_object"},
        options={"seed": 3, "structured_outputs": {"regex": "a+"}, "skip_special_tokens": False,
                 "chat_template_kwargs": {"x": 1}, "extra_body": {"min_p": 0.2}},
    )
    params = chat_params(request, config, "m", max_tokens=config.max_tokens,
                         body=vllm_body(request))
    assert params == {
        "model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.3, "seed": 3, "stop": ["\n\n"], "max_tokens": 50,
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto",
        "response_format": {"type": "json_object"},
        "extra_body": {"min_p": 0.2, "top_k": 5, "repetition_penalty": 1.1,
                       "chat_template_kwargs": {"enable_thinking": False, "x": 1},
                       "structured_outputs": {"regex": "a+"}, "skip_special_tokens": False},
    }
    assert chat_params(request, config, "m", max_tokens=None,
                       tool_choice="none")["tool_choice"] == "none"
    assert tokenize_body(request, config, "m") == {
        "model": "m", "messages": params["messages"], "add_generation_prompt": True,
        "tools": params["tools"], "chat_template_kwargs": {"enable_thinking": False, "x": 1}}


def test_a_single_stop_string_per_call_is_a_list_of_one() -> None:
    request = ChatRequest(messages=({"role": "user", "content": "x"},), options={"stop": "END"})
    assert chat_params(request, VllmConfig(), "m", max_tokens=None)["stop"] == ["END"]


def test_unknown_option_is_refused_with_a_suggestion() -> None:
    llm = create_llm("vllm", model="m")
    with pytest.raises(UsageError, match="did you mean 'structured_outputs'"):
        llm.chat([{"role": "user", "content": "x"}], structured_output={"regex": "a"})
