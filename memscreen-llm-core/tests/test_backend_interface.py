"""LLMBase's shared behaviour, through a plugin's backend created by name."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from plugin_dists import write_echo

import memscreen_llm
from memscreen_llm import (
    CapabilityError,
    ChatResult,
    LlmFactory,
    UsageError,
    create_llm,
    join_deltas,
)

MESSAGES = [{"role": "user", "content": "hello there world"}]
TOOLS = [{"type": "function", "function": {"name": "note", "parameters": {"type": "object"}}}]


@pytest.fixture
def echo(site: Path, unique: str):  # type: ignore[no-untyped-def]
    write_echo(site, "echo", unique)
    memscreen_llm.get_registry(refresh=True)
    llm = create_llm("echo", model="m1")
    assert f"heavy_sdk_{unique}" in sys.modules  # creating it is when the SDK loads
    return llm


def test_generate_response_is_memscreen_compatible(echo) -> None:  # type: ignore[no-untyped-def]
    assert echo.generate_response(MESSAGES) == "hello there world"
    assert echo.generate_response(MESSAGES, tools=TOOLS) == {
        "content": "hello there world",
        "tool_calls": [{"name": "note", "arguments": {"text": "hello there world"}}],
    }


def test_chat_stream_and_async_agree(echo) -> None:  # type: ignore[no-untyped-def]
    result = echo.chat(MESSAGES, shout=True)
    assert result.content == "HELLO THERE WORLD" and result.model == "m1"
    streamed = join_deltas(echo.stream(MESSAGES, shout=True))
    assert streamed.content is not None and streamed.content.strip() == result.content

    async def both() -> tuple[ChatResult, ChatResult]:
        deltas = [d async for d in echo.astream(MESSAGES, tools=TOOLS)]
        return await echo.achat(MESSAGES, tools=TOOLS), join_deltas(deltas)

    achat, astream = asyncio.run(both())
    assert [c.name for c in achat.tool_calls] == [c.name for c in astream.tool_calls] == ["note"]


def test_undeclared_capabilities_fail_clearly(echo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CapabilityError, match="backend 'echo' does not support embeddings"):
        echo.embed(["a"])
    with pytest.raises(CapabilityError, match="does not support json_schema"):
        echo.chat(MESSAGES, response_format={"type": "json_object"})
    assert echo.chat(MESSAGES, response_format={"type": "text"}).content


@pytest.mark.parametrize(
    ("messages", "kwargs", "needle"),
    [
        ("hello", {}, "non-empty list"),
        ([], {}, "non-empty list"),
        ([{"content": "x"}], {}, "messages\\[0\\] must be a dict with a 'role'"),
        ([{"role": "robot", "content": "x"}], {}, "has role 'robot'"),
        (MESSAGES, {"temprature": 0.1}, "unknown option 'temprature'.*did you mean 'temperature'"),
        (MESSAGES, {"tools": [{"name": "x"}]}, "must be an OpenAI tool"),
        (MESSAGES, {"response_format": {"type": "yaml"}}, "response_format must be"),
    ],
)
def test_bad_requests_are_refused_before_reaching_the_engine(echo, messages, kwargs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=needle):
        echo.chat(messages, **kwargs)


def test_llm_factory_accepts_memscreen_style_configs(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    memscreen_llm.get_registry(refresh=True)

    class MemScreenConfig:  # the shape of MemScreen's own BaseLlmConfig objects
        def __init__(self) -> None:
            self.model = "qwen"
            self.temperature = 0.2
            self.max_tokens = 100
            self.enable_vision = False
            self.vision_details = "auto"
            self._private = object()

    llm = LlmFactory.create("echo", MemScreenConfig())
    assert (llm.config.model, llm.config.temperature, llm.config.max_tokens) == ("qwen", 0.2, 100)
    from_dict = LlmFactory.create(
        "echo", {"model": "d", "echo_base_url": "http://e:1", "api_key": None}, top_k=5
    )
    assert (from_dict.config.model, from_dict.config.top_k) == ("d", 5)
    assert from_dict.config.base_url == "http://e:1"
    same = LlmFactory.create("echo", from_dict.config)
    assert same.config is from_dict.config
    assert "echo" in LlmFactory.get_supported_providers()
