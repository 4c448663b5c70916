"""`memscreen_llm.otel`'s attributes (pure), and that it costs nothing until switched on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from memscreen_llm import ChatResult, ToolCall, Usage
from memscreen_llm.config import BaseLlmConfig, http_url, setting, string_list
from memscreen_llm.otel import _attributes as a


@attrs.frozen(kw_only=True)
class UrlConfig(BaseLlmConfig):
    base_url: str = setting("http://user:s3cret@gpu-box:8000/v1", validator=http_url())
    stop: list[str] = setting(factory=list, validator=string_list())


def test_the_call_wins_over_the_config_and_every_name_is_the_conventions() -> None:
    config = UrlConfig(model="cfg-model", temperature=0.3, max_tokens=100, top_p=0.9)
    got = a.request_attributes("vllm", config, "chat",
                               {"model": "call-model", "temperature": 0, "seed": 5})
    assert got == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "vllm",
        "gen_ai.system": "vllm", "gen_ai.request.model": "call-model",
        "gen_ai.request.temperature": 0.0, "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 100, "gen_ai.request.seed": 5,
        "server.address": "gpu-box", "server.port": 8000,
    }
    assert isinstance(got["gen_ai.request.temperature"], float)


def test_memscreen_options_in_ollama_names_count_as_the_call_s() -> None:
    config = UrlConfig(model="m", max_tokens=100)
    got = a.request_attributes("ollama", config, "stream",
                               {"options": {"num_predict": 7, "top_k": 20, "stop": "END"}})
    assert got["gen_ai.request.max_tokens"] == 7
    assert got["gen_ai.request.top_k"] == 20.0
    assert got["gen_ai.request.stop_sequences"] == ["END"]
    json_call = a.request_attributes("ollama", config, "achat", {},
                                     {"type": "json_schema", "json_schema": {}})
    assert json_call["gen_ai.output.type"] == "json"
    assert "gen_ai.output.type" not in got  # plain text: no output format was asked for


def test_server_address_never_holds_the_password() -> None:
    got = a.request_attributes("vllm", UrlConfig(), "embed", {})
    assert (got["server.address"], got["server.port"]) == ("gpu-box", 8000)
    assert "s3cret" not in json.dumps(got) and "user" not in json.dumps(got)
    assert got["gen_ai.operation.name"] == "embeddings"
    assert a.server_of("https://example.org/v1") == ("example.org", 443)
    assert a.server_of("http://[::1]:11434") == ("::1", 11434)
    assert a.server_of(None) is None and a.server_of("not a url") is None


def test_result_attributes_are_the_engine_s_counts() -> None:
    result = ChatResult(content="hi", finish_reason="length", usage=Usage(12, 3), model="m-1")
    assert a.result_attributes(result) == {
        "gen_ai.response.model": "m-1", "gen_ai.response.finish_reasons": ["length"],
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3}
    assert a.result_attributes(ChatResult(content="x")) == {}


def test_content_in_the_conventions_shape() -> None:
    messages = [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:..."}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": "and this?", "images": ["iVBORw0KGgo="]},  # Ollama's
    ]
    image = {"type": "blob", "modality": "image"}  # never the bytes
    assert json.loads(a.input_messages(messages)) == [
        {"role": "system", "parts": [{"type": "text", "content": "be terse"}]},
        {"role": "user", "parts": [{"type": "text", "content": "what is this?"}, image]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f",
                                         "arguments": "{}"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "response": "42"}]},
        {"role": "user", "parts": [image, {"type": "text", "content": "and this?"}]},
    ]
    result = ChatResult(content="done", reasoning="hmm", finish_reason="stop",
                        tool_calls=[ToolCall(name="f", arguments={"x": 1}, id="c2")])
    assert json.loads(a.output_messages(result)) == [{
        "role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "reasoning", "content": "hmm"}, {"type": "text", "content": "done"},
            {"type": "tool_call", "id": "c2", "name": "f", "arguments": '{"x": 1}'}]}]


@pytest.mark.parametrize("value, on", [("true", True), ("TRUE", True), ("1", True),
                                       ("span_only", True), ("false", False), ("", False),
                                       ("no", False)])
def test_content_is_captured_only_when_asked(value: str, on: bool) -> None:
    assert a.capture_from_env({a.CAPTURE_ENV: value}) is on
    assert a.capture_from_env({}) is False


def test_errors_are_typed_and_their_passwords_redacted() -> None:
    exc = OSError("failed to connect to http://u:hunter2@host:1/v1\nmore")
    assert a.error_type(exc) == "OSError"
    assert a.error_description(exc) == "failed to connect to http://***@host:1/v1"


def _blocked(tmp_path: Path, module: str) -> Path:
    """A folder that, first on sys.path, makes `import module` fail as if not installed."""
    (tmp_path / f"{module}.py").write_text(f"raise ImportError('no {module} here')\n")
    return tmp_path


def test_import_and_create_pay_nothing_for_otel() -> None:
    probe = ("import sys, memscreen_llm, memscreen_llm.otel, memscreen_llm.bench\n"
             "from memscreen_llm.cli import main\n"
             "main(['backends', '--json'])\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('opentelemetry', 'matplotlib', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_instrument_without_opentelemetry_names_the_extra(tmp_path: Path) -> None:
    code = ("from memscreen_llm import otel, ConfigError\n"
            "try:\n    otel.instrument()\nexcept ConfigError as exc:\n    print(exc)\n"
            "try:\n    otel.instrument_from_env({'MEMSCREEN_LLM_OTEL': '1'})\n"
            "except ConfigError as exc:\n    print(exc)\n"
            "print(otel.instrument_from_env({'MEMSCREEN_LLM_OTEL': '0'}))\n"
            "try:\n    otel.instrument_from_env({'MEMSCREEN_LLM_OTEL': 'maybe'})\n"
            "except ConfigError as exc:\n    print(exc)\n")
    env = {"PYTHONPATH": str(_blocked(tmp_path, "opentelemetry")), "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert "OpenTelemetry is not installed" in out
    assert "fix: pip install 'memscreen-llm-core[otel]'" in out
    assert "MEMSCREEN_LLM_OTEL=1 needs OpenTelemetry" in out
    assert "source: env MEMSCREEN_LLM_OTEL" in out
    assert "False" in out.splitlines()
    assert "MEMSCREEN_LLM_OTEL: bad value 'maybe'" in out
