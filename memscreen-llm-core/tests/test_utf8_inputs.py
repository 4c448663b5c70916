"""Every input the CLI and the config file read is UTF-8, whatever the locale says; bytes
that are not are a usage error (exit 2) naming the input and the byte, never an
"internal error". So is a `parse --tools` file that does not hold OpenAI tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_dists import write_echo

from memscreen_llm import ConfigError
from memscreen_llm import testing as kit
from memscreen_llm._config_file import load

LATIN1 = "caf\xe9 = 1\n".encode("latin-1")  # byte 3 is not UTF-8


def run_raw(site: Path, *args: str, stdin: bytes = b"",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real CLI with raw bytes on stdin (kit.run_cli takes text)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(kit.ENV_PREFIXES)}
    full_env.update(PYTHONPATH=str(site), **(env or {}))
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args], input=stdin,
                          capture_output=True, env=full_env, cwd=site.parent, timeout=60)


def run_bytes(site: Path, *args: str, stdin: bytes = b"",
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """run_raw, its output decoded."""
    done = run_raw(site, *args, stdin=stdin, env=env)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def assert_usage_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ")
    for needle in needles:
        assert needle in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


# -- the config file ---------------------------------------------------------------------

@pytest.mark.parametrize("how", ["--config", "--config-first", "env", "default"])
def test_a_config_file_that_is_not_utf8_names_file_byte_and_source(
        site: Path, unique: str, how: str) -> None:
    write_echo(site, "echo", unique)
    path = site.parent / ("memscreen-llm.toml" if how == "default" else "latin.toml")
    path.write_bytes(b'[llm]\nbackend = "echo"\n# ' + LATIN1)
    offset = path.read_bytes().index(b"\xe9")
    # --config-first: memscreen-llm --config FILE config show (once silently ignored)
    before = ["--config", str(path)] if how == "--config-first" else []
    args, env, source = {
        "--config": (["--config", str(path)], {}, "source: --config"),
        "--config-first": ([], {}, "source: --config"),
        "env": ([], {"MEMSCREEN_LLM_CONFIG": str(path)}, "source: env MEMSCREEN_LLM_CONFIG"),
        "default": ([], {}, "source: default location"),
    }[how]
    result = run_bytes(site, *before, "config", "show", *args, env=env)
    shown = path.name if how == "default" else str(path)
    assert_usage_error(result, f"config file {shown} is not UTF-8 at byte {offset}", source,
                       "fix: save the file as UTF-8")


def test_the_config_loader_raises_config_error_and_accepts_a_bom(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(LATIN1)
    with pytest.raises(ConfigError, match=f"config file {bad} is not UTF-8 at byte 3") as err:
        load(bad, {})
    assert err.value.source == "--config"
    good = tmp_path / "good.toml"
    good.write_bytes(b'\xef\xbb\xbf[llm]\nbackend = "caf\xc3\xa9"\n')  # BOM, then UTF-8
    assert load(None, {"MEMSCREEN_LLM_CONFIG": str(good)}).backend == "caf\u00e9"


# -- stdin -------------------------------------------------------------------------------

def test_chat_stdin_that_is_not_utf8_is_a_usage_error(site: Path) -> None:
    # printf 'caf\xe9' | memscreen-llm chat -b vllm -   (stdin is read before the backend)
    result = run_bytes(site, "chat", "-b", "vllm", "-", stdin=b"caf\xe9")
    assert_usage_error(result, "stdin is not UTF-8 at byte 3", "iconv")


def test_chat_stdin_is_utf8_whatever_the_locale_says(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    result = run_raw(site, "chat", "-b", "echo", "-", stdin="caf\u00e9 \u2713".encode(),
                     env={"PYTHONIOENCODING": "latin-1:replace"})
    assert result.returncode == 0, result.stderr
    # Read as UTF-8, not as the Latin-1 the environment names (that would echo the UTF-8
    # bytes back unchanged); the answer is written in Latin-1, the check mark replaced.
    assert result.stdout == b"caf\xe9 ?\n"
    with_bom = run_bytes(site, "chat", "-b", "echo", "-", stdin=b"\xef\xbb\xbfhello")
    assert (with_bom.returncode, with_bom.stdout) == (0, "hello\n")


def test_parse_stdin_that_is_not_utf8_is_a_usage_error(site: Path) -> None:
    kit.write_parser_plugin(site)
    good = run_bytes(site, "parse", "test-think", stdin="d\u00e9j\u00e0</think>ok".encode())
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["reasoning"] == "d\u00e9j\u00e0"
    result = run_bytes(site, "parse", "test-think", stdin=b"ok</think>\xff\xfe")
    assert_usage_error(result, "stdin is not UTF-8 at byte 10")


# -- parse --tools -----------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}


def tools_file(site: Path, data: bytes) -> str:
    path = site.parent / "tools.json"
    path.write_bytes(data)
    return str(path)


def test_a_tools_file_that_is_not_utf8_names_file_and_byte(site: Path) -> None:
    kit.write_parser_plugin(site)
    path = tools_file(site, b'[{"type": "function", "function": {"name": "caf\xe9"}}]')
    result = run_bytes(site, "parse", "test-calls", "--tools", path, stdin=b"x")
    assert_usage_error(result, f"--tools: {path} is not UTF-8 at byte 47")


@pytest.mark.parametrize(("content", "needle"), [
    ([5], "tool 0 (5) is not a JSON object"),
    ([TOOL, "get_weather"], 'tool 1 ("get_weather") is not a JSON object'),
    ([{"type": "function", "function": {}}], 'has no "function": {"name": ...} string'),
    ([{"name": "get_weather"}], 'has no "function" object'),
    ([{"type": "retrieval", "function": {"name": "x"}}], "has type 'retrieval'"),
    ([{"function": {"name": "f", "parameters": []}}], '"parameters" must be a JSON schema'),
    ({"tools": [TOOL]}, "must hold a JSON list of tools"),
])
def test_tools_that_are_not_openai_tools_say_what_a_tool_looks_like(
        site: Path, content: object, needle: str) -> None:
    kit.write_parser_plugin(site)
    path = tools_file(site, json.dumps(content).encode())
    result = run_bytes(site, "parse", "test-calls", "--tools", path, stdin=b"x")
    assert_usage_error(result, f"--tools: {path}", needle,
                       '{"type": "function", "function": {"name": "get_weather"')


def test_a_good_tools_file_is_used(site: Path) -> None:
    kit.write_parser_plugin(site)
    path = tools_file(site, b"\xef\xbb\xbf" + json.dumps([TOOL]).encode())
    raw = '<tool_call>{"name": "get_weather", "arguments": {"city": "Lisbon"}}</tool_call>'
    result = run_bytes(site, "parse", "test-calls", "--tools", path, stdin=raw.encode())
    assert result.returncode == 0, result.stderr
    [call] = json.loads(result.stdout)["tool_calls"]
    assert call["name"] == "get_weather"
    missing = run_bytes(site, "parse", "test-calls", "--tools", path + ".nope", stdin=b"x")
    assert_usage_error(missing, "cannot read", "No such file")
