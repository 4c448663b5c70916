"""The kit's helpers for plugin tests: run_cli, clean_env, write_parser_plugin, loud_skip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memscreen_llm import testing as kit

pytest_plugins = ["pytester"]

RAW = 'mulling\n</think>\nsunny <tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'


def parse(site: Path, parser: str, raw: str, *extra: str) -> dict[str, object]:
    result = kit.run_cli("parse", parser, *extra, pythonpath=[site], stdin=raw)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_write_parser_plugin_is_discovered_and_parses(tmp_path: Path) -> None:
    site = kit.write_parser_plugin(tmp_path / "site")
    kit.write_parser_plugin(site, "kit", think_end="[/THINK]")  # a second one beside it
    for chunk in ([], ["--chunk-size", "1"], ["--chunk-size", "3"]):
        think = parse(site, "test-think", RAW, *chunk)
        assert think["reasoning"] == "mulling" and think["content"] == RAW.split("\n", 2)[2]
        calls = parse(site, "test-calls", RAW, *chunk)
        assert calls["content"] == RAW.split("<tool_call>")[0]
        [call] = calls["tool_calls"]  # type: ignore[misc]
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Oslo"}
        assert parse(site, "kit-think", "a\n[/THINK]\nb", *chunk)["content"] == "b"
    unfinished = parse(site, "test-think", "still thinking\n</thi")
    assert unfinished["reasoning"] == "still thinking\n</thi" and unfinished["content"] is None
    not_a_call = parse(site, "test-calls", "x <tool_call>nope</tool_call>")
    assert not_a_call["content"] == "x <tool_call>nope</tool_call>"
    assert not not_a_call["tool_calls"]
    with pytest.raises(ValueError, match="prefix"):
        kit.write_parser_plugin(site, "Bad-Prefix")


def test_run_cli_strips_memscreen_and_api_key_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = kit.write_parser_plugin(tmp_path / "site")
    monkeypatch.setenv("MEMSCREEN_LLM_DISABLE_PLUGINS", "test-parsers")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-shell")
    assert parse(site, "test-think", "a</think>b")["content"] == "b"  # not disabled
    disabled = kit.run_cli("parse", "test-think", pythonpath=[site], stdin="x",
                           env={"MEMSCREEN_LLM_DISABLE_PLUGINS": "test-parsers"})
    assert disabled.returncode == 2 and "unknown parser 'test-think'" in disabled.stderr
    shown = kit.run_cli("config", "show", "-b", "nonesuch", cwd=tmp_path)
    assert "sk-from-the-shell" not in shown.stdout + shown.stderr


def test_clean_env_removes_the_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "x")
    monkeypatch.setenv("VLLM_API_KEY", "k")
    monkeypatch.setenv("KEEP_ME", "1")
    kit.clean_env(monkeypatch)
    assert not [v for v in os.environ if v.startswith(kit.ENV_PREFIXES)]
    assert os.environ["KEEP_ME"] == "1"


def test_the_clean_env_fixture_and_loud_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile('''
        import os
        import pytest
        from memscreen_llm.testing import loud_skip

        @pytest.fixture(autouse=True)
        def _clean(memscreen_clean_env):
            pass

        def test_clean(tmp_path):
            assert os.getcwd() == str(tmp_path)
            assert "MEMSCREEN_LLM_BACKEND" not in os.environ

        def test_skipped():
            loud_skip("REAL ENGINE UNAVAILABLE: no engine here")
    ''')
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "x")
    result = pytester.runpytest("-rs", "-s")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*REAL ENGINE UNAVAILABLE: no engine here*"])
    result.stderr.fnmatch_lines(["!!!!*", "REAL ENGINE UNAVAILABLE: no engine here", "!!!!*"])


def test_imported_by_discovery_sees_what_backends_imports() -> None:
    assert kit.imported_by_discovery("memscreen_llm") != []  # the CLI itself, surely
    assert kit.imported_by_discovery("tkinter", "numpy") == []
