"""A caller's mistake is a UsageError/ConfigError naming what is wrong, checked in core
before any backend sees the request, the same for every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_dists import write_echo

import memscreen_llm
from memscreen_llm import ConfigError, LLMBase, UsageError, create_llm


@pytest.fixture
def echo(site: Path, unique: str) -> LLMBase:
    write_echo(site, "echo", unique)
    memscreen_llm.get_registry(refresh=True)
    return create_llm("echo", model="m1")


@pytest.mark.parametrize(("message", "needle"), [
    ({"role": ["user"], "content": "x"}, "has role \\['user'\\]"),
    ({"role": "user", "content": 123}, "must be a string or a list of content parts, got int"),
    ({"role": "user", "content": b"caf\xe9"}, "decode bytes first"),
    ({"role": "user", "content": "bad \ud800 text"}, "not valid text"),
    # One part as content (mem0 sends an image so) is read as a list of one part.
    ({"role": "user", "content": {"text": "x"}}, r"content\[0\] must be a content part"),
    ({"role": "user", "content": None}, "got NoneType"),
    ({"role": "user", "content": [{"text": "no type"}]}, "must be a content part"),
    ({"role": "user", "content": [{"type": "text", "text": "\udfff"}]}, "not valid text"),
])
def test_bad_messages(echo: LLMBase, message: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        echo.chat([message])


def test_an_assistant_turn_may_have_no_content(echo: LLMBase) -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None},
               {"role": "user", "content": "again"}]
    assert echo.chat(history).content == "again"


@pytest.mark.parametrize(("options", "needle"), [
    ({"temperature": 99}, "temperature=99 \\(per call\\): temperature must be <= 2"),
    ({"temperature": float("nan")}, "finite"),
    ({"max_tokens": -1}, "max_tokens must be >= 1"),
    ({"max_tokens": 1.5}, "must be an integer"),
    ({"top_p": 0}, "top_p must be > 0"),
    ({"model": 123}, "model must be a string"),
    ({"options": {"num_predict": 0}}, "max_tokens must be >= 1"),
])
def test_per_call_options_get_the_configs_checks(
        echo: LLMBase, options: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        echo.chat([{"role": "user", "content": "x"}], **options)


@pytest.mark.parametrize(("fields", "needle"), [
    ({"temperature": float("nan")}, "finite"),
    ({"timeout": float("inf")}, "finite"),
    ({"base_url": "http://exa mple.com"}, "must not contain spaces"),
])
def test_bad_config_values(echo: LLMBase, fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_llm("echo", **fields)


@pytest.mark.parametrize(("tool", "needle"), [
    (5, "must be an OpenAI tool"),
    ({"type": "function", "function": {"name": 123}}, "name must be a string, got int"),
    ({"type": "function", "function": {"name": "f", "parameters": "x"}},
     "parameters must be a JSON schema object, got str"),
])
def test_bad_tools(echo: LLMBase, tool: object, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        echo.chat([{"role": "user", "content": "x"}], tools=[tool])  # type: ignore[list-item]
