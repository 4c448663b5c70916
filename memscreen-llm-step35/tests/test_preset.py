"""The step35 preset through discovery: aliases, preset values, variant, overrides, parsers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_parsers_golden import CASES

from memscreen_llm import ConfigError, get_registry, resolve_config
from memscreen_llm_step35.config import MODELS


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith("MEMSCREEN_") or var == "VLLM_API_KEY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def cli(*args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args], input=stdin,
                          capture_output=True, text=True, env=full, timeout=60)


def test_registered_with_aliases_extending_vllm() -> None:
    registry = get_registry()
    step35 = registry.find_backend("step-3.5-flash")
    assert step35 is registry.find_backend("step3p5") is registry.find_backend("step35")
    assert step35.spec.factory == registry.find_backend("vllm").spec.factory
    assert step35.plugin.distribution == "memscreen-llm-step35"
    assert "step3p5" in registry.parser_names()


def test_preset_values_and_their_source() -> None:
    resolved = resolve_config("step35", env={})
    config = resolved.config
    assert config.model == "stepfun-ai/Step-3.5-Flash"
    assert config.base_url == "http://localhost:8001/v1"
    assert config.max_model_len == 32768
    assert (config.reasoning_parser, config.tool_parser) == ("step3p5", "step3p5")
    assert config.trust_remote_code is True
    assert (config.temperature, config.top_p) == (1.0, 0.95)
    assert resolved.sources["max_model_len"] == "preset step35"


def test_every_preset_value_can_be_overridden(tmp_path: Path) -> None:
    toml = tmp_path / "memscreen-llm.toml"
    toml.write_text('[llm."step-3.5-flash"]\nmax_model_len = 16384\ntool_parser = "step3p5"\n')
    env = {"MEMSCREEN_VLLM_URL": "http://gpu:8001", "MEMSCREEN_STEP35_TEMPERATURE": "0.6",
           "MEMSCREEN_STEP35_VARIANT": "fp8"}
    resolved = resolve_config("step35", {"trust_remote_code": False}, env=env)
    config = resolved.config
    assert config.base_url == "http://gpu:8001/v1"  # MemScreen's name, /v1 added
    assert config.model == MODELS["fp8"] == "stepfun-ai/Step-3.5-Flash-FP8"
    assert (config.temperature, config.max_model_len, config.trust_remote_code) == (0.6, 16384, False)
    assert resolved.sources["max_model_len"] == f"file {toml.name} [llm.step-3.5-flash]"
    explicit = resolve_config("step35", {"model": "my/finetune", "variant": "fp8"}, env={})
    assert explicit.config.model == "my/finetune"
    with pytest.raises(ConfigError, match="variant must be one of: bf16, fp8"):
        resolve_config("step35", {"variant": "int4"}, env={})


def test_config_show_and_compose_from_the_cli() -> None:
    shown = cli("config", "show", "--json", "-b", "step35")
    assert shown.returncode == 0, shown.stderr
    fields = json.loads(shown.stdout)["fields"]
    assert fields["reasoning_parser"] == {"value": "step3p5", "source": "preset step35"}
    fp8 = cli("compose", "step35", "--variant", "fp8")
    assert fp8.returncode == 0 and "Step-3.5-Flash-FP8" in fp8.stdout
    bad = cli("compose", "step35", "--variant", "int4")
    assert bad.returncode == 2
    assert "variants: default, fp8, multihost, replicas, worker" in bad.stderr


def test_the_preset_takes_a_session_id_for_a_router_in_front() -> None:
    """step35 is vLLM's backend: `session_id` (the X-Session-ID header) is its too."""
    env = {"MEMSCREEN_STEP35_SESSION_ID": "chat-7"}
    resolved = resolve_config("step35", env=env)
    assert resolved.config.session_id == "chat-7"  # type: ignore[attr-defined]
    assert resolved.sources["session_id"] == "env MEMSCREEN_STEP35_SESSION_ID"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_cli_parse_runs_the_registered_parsers(case: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(case.get("tools", [])))
    for extra in ([], ["--chunk-size", "3"]):
        result = cli("parse", "step3p5", "--tools", str(tools), *extra, stdin=case["text"])
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert (data["reasoning"], data["content"]) == (case["reasoning"], case["content"])
        assert [(c["name"], json.loads(c["arguments"])) for c in data["tool_calls"]] == [
            (c["name"], c["arguments"]) for c in case["tool_calls"]]
