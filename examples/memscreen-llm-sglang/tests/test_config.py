"""The config class through core's layering (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memscreen_llm import ConfigError, create_llm
from memscreen_llm_sglang.config import DEFAULT_BASE_URL, SglangConfig


def test_defaults_and_base_url_with_or_without_v1() -> None:
    assert SglangConfig().base_url == DEFAULT_BASE_URL == "http://localhost:30000/v1"
    for url in ("http://gpu-box:30000", "http://gpu-box:30000/", "http://gpu-box:30000/v1/"):
        assert SglangConfig(base_url=url).base_url == "http://gpu-box:30000/v1"
    assert SglangConfig(base_url="http://h:1").server_root == "http://h:1"


def test_env_file_and_argument_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "memscreen-llm.toml").write_text(
        '[llm]\nbackend = "sglang"\n\n[llm.sglang]\nmodel = "Qwen/Qwen3-8B"\ntemperature = 0.3\n')
    monkeypatch.setenv("MEMSCREEN_SGLANG_URL", "http://from-env:30000")
    llm = create_llm(temperature=0.0)  # the backend comes from the file
    assert llm.backend_name == "sglang"
    assert (llm.config.base_url, llm.config.model, llm.config.temperature) == (
        "http://from-env:30000/v1", "Qwen/Qwen3-8B", 0.0)


def test_bad_values_name_field_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCREEN_SGLANG_BASE_URL", "localhost:30000")
    with pytest.raises(ConfigError) as err:
        create_llm("sglang")
    assert err.value.field == "base_url" and err.value.source == "env MEMSCREEN_SGLANG_BASE_URL"


def test_api_key_is_redacted() -> None:
    llm = create_llm("sglang", api_key="sk-very-secret")
    assert llm.config.api_key == "sk-very-secret"
    for shown in (repr(llm), repr(llm.config), str(llm.config.public_dict())):
        assert "sk-very-secret" not in shown
