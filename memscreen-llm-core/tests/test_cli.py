"""The `memscreen-llm` command in a fresh interpreter: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from plugin_dists import API_HOOK, write_dist, write_echo

SDKS = ("openai", "ollama", "httpx", "vllm", "torch")

TOY_PARSER = """
import json
from memscreen_llm import ParserSpec, ToolCall, hookimpl

class SplitReasoning:
    # Everything before "|" is reasoning; streaming holds nothing back (toy rules).
    def parse(self, text):
        head, sep, tail = text.partition("|")
        return (head or None, tail or None) if sep else (text or None, None)
    def streamer(self):
        return _Stream()

class _Stream:
    def __init__(self):
        self.after = False
    def feed(self, text):
        if self.after:
            return "", text
        head, sep, tail = text.partition("|")
        self.after = bool(sep)
        return head, tail
    def finish(self):
        return "", ""

class CallParser:
    # "CALL name {json}" at the start of content is a tool call.
    def __init__(self, tools=None):
        self.tools = tools
    def parse(self, text):
        if text.startswith("CALL "):
            _, name, args = text.split(" ", 2)
            return None, [ToolCall(name=name, arguments=args)]
        return text, []
    def streamer(self):
        return _Calls(self)

class _Calls:
    def __init__(self, parser):
        self.parser, self.buf = parser, ""
    def feed(self, text):
        self.buf += text
        return "", []
    def finish(self):
        content, calls = self.parser.parse(self.buf)
        return content or "", calls

@hookimpl
def supported_api():
    return ">=1,<2"

@hookimpl
def register_parsers(register):
    register(ParserSpec(name="toy", reasoning="{module}:SplitReasoning",
                        tool_calls="{module}:CallParser"))
"""


def test_backends_json_lists_ok_and_broken_plugins_without_importing_sdks(
    site: Path, unique: str
) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-bad", "bad", f"bad_{unique}", "import no_such_module_xyz\n", "2.0")
    result = run_cli(site, "backends", "--json")
    assert result.returncode == 0, result.stderr
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert entries["echo"] == {
        "name": "echo", "aliases": ["echo-alias"], "distribution": "plugin-echo",
        "version": "1.0", "status": "ok", "error": None, "warning": None,
        "description": "echoes the last message",
    }
    assert entries["bad"]["status"] == "error"
    assert "No module named 'no_such_module_xyz'" in entries["bad"]["error"]
    probe = (
        "import sys, json; from memscreen_llm.cli import main; main(['backends', '--json']); "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r} "
        f"or m.startswith(('heavy_sdk', '{unique}_backend')))))"
    )
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_backends_text_output(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    result = run_cli(site, "backends", env={"MEMSCREEN_LLM_DISABLE_PLUGINS": "echo"})
    assert result.returncode == 0
    assert "echo" in result.stdout and "disabled" in result.stdout


def test_chat_prints_answer_and_reads_stdin(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    result = run_cli(site, "chat", "--backend", "echo", "hi there")
    assert (result.returncode, result.stdout) == (0, "hi there\n")
    piped = run_cli(site, "chat", "-b", "echo", "--stream", "-", stdin="from stdin")
    assert piped.returncode == 0 and piped.stdout.strip() == "from stdin"
    as_json = run_cli(site, "chat", "-b", "echo", "--json", "--model", "mm", "x",
                      env={"MEMSCREEN_LLM_BACKEND": "echo"})
    data = json.loads(as_json.stdout)
    assert data["content"] == "x" and data["model"] == "mm" and data["finish_reason"] == "stop"


def test_expected_errors_have_exit_codes_and_no_traceback(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    unknown = run_cli(site, "chat", "-b", "vllm", "hi")
    assert unknown.returncode == 2
    assert "unknown backend 'vllm'" in unknown.stderr
    assert "pip install memscreen-llm-vllm" in unknown.stderr
    bad = run_cli(site, "chat", "-b", "echo", "--set", "temperature=hot", "hi")
    assert bad.returncode == 2
    assert "temperature" in bad.stderr and "argument --set" in bad.stderr
    env_bad = run_cli(site, "config", "show", "-b", "echo",
                      env={"MEMSCREEN_ECHO_BASE_URL": "ftp://x"})
    assert env_bad.returncode == 2 and "env MEMSCREEN_ECHO_BASE_URL" in env_bad.stderr
    for result in (unknown, bad, env_bad):
        assert "Traceback" not in result.stderr
    debug = run_cli(site, "chat", "-b", "vllm", "--debug", "hi")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert run_cli(site, "nonsense").returncode == 2


def test_config_show_redacts_secrets_and_names_sources(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    result = run_cli(
        site, "config", "show", "--json", "--set", "api_key=sk-secret-1",
        env={"MEMSCREEN_LLM_BACKEND": "echo", "ECHO_TOKEN": "tok-secret-2",
             "MEMSCREEN_ECHO_MODEL": "m"},
    )
    assert result.returncode == 0, result.stderr
    assert "sk-secret-1" not in result.stdout and "tok-secret-2" not in result.stdout
    data = json.loads(result.stdout)
    assert data["backend_source"] == "env MEMSCREEN_LLM_BACKEND"
    assert data["fields"]["api_key"] == {"value": "***", "source": "argument --set"}
    assert data["fields"]["token"] == {"value": "***", "source": "env ECHO_TOKEN"}
    assert data["fields"]["model"] == {"value": "m", "source": "env MEMSCREEN_ECHO_MODEL"}
    text = run_cli(site, "config", "show", "-b", "echo", "--set", "api_key=sk-secret-1")
    assert "sk-secret-1" not in text.stdout + text.stderr


def test_doctor_reports_each_check(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    result = run_cli(site, "doctor", "-b", "echo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    backend" in result.stdout and "ok    server" in result.stdout
    bad = run_cli(site, "doctor", "-b", "echo", "--set", "timeout=-1")
    assert bad.returncode == 2 and "FAIL  config" in bad.stdout


def test_compose_prints_the_shipped_file_or_its_path(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    text = run_cli(site, "compose", "echo")
    assert text.returncode == 0 and "image: echo:1" in text.stdout
    path = run_cli(site, "compose", "echo-alias", "--path")
    assert Path(path.stdout.strip()).read_text() == text.stdout
    missing = run_cli(site, "compose", "echo", "--variant", "gpu")
    assert missing.returncode == 2 and "variants: default" in missing.stderr


def test_parse_runs_a_registered_parser_oneshot_and_streamed(site: Path, unique: str) -> None:
    module = f"toy_{unique}"
    write_dist(site, "plugin-toy", "toy", module, TOY_PARSER.replace("{module}", module))
    raw = 'thinking hard|CALL get_time {"tz": "UTC"}'
    for extra in ([], ["--chunk-size", "1"], ["--chunk-size", "5"]):
        result = run_cli(site, "parse", "toy", *extra, stdin=raw)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["reasoning"] == "thinking hard" and data["content"] is None
        [call] = data["tool_calls"]
        assert call["name"] == "get_time" and json.loads(call["arguments"]) == {"tz": "UTC"}
        assert call["id"].startswith("call_")
    tools = site.parent / "tools.json"
    tools.write_text("{not json")
    bad = run_cli(site, "parse", "toy", "--tools", str(tools), stdin=raw)
    assert bad.returncode == 2 and "is not JSON" in bad.stderr
    unknown = run_cli(site, "parse", "step3p5", stdin=raw)
    assert unknown.returncode == 2
    first_line = unknown.stderr.splitlines()[0]
    assert first_line == "error: unknown parser 'step3p5'; installed parsers: toy"
    assert "pip install memscreen-llm-step35" in unknown.stderr
    assert "backend" not in unknown.stderr  # not an unknown *backend* (it once said so)


BROKEN_FACTORY = """
import attrs
from memscreen_llm import BackendSpec, BackendError, hookimpl
from memscreen_llm.config import BaseLlmConfig

def make(config):
    raise BackendError("the engine SDK is missing\\n  fix: pip install 'plugin-sdkless[sdk]'")

@hookimpl
def register_backends(register):
    register(BackendSpec(name="sdkless", config_class=BaseLlmConfig, factory=make))
""" + API_HOOK


def test_doctor_reports_a_backend_that_cannot_be_created(site: Path, unique: str) -> None:
    write_dist(site, "plugin-sdkless", "sdkless", f"sdkless_{unique}", BROKEN_FACTORY)
    result = run_cli(site, "doctor", "-b", "sdkless")
    assert result.returncode == 1
    assert "FAIL  create     the engine SDK is missing" in result.stdout
    assert "pip install 'plugin-sdkless[sdk]'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
