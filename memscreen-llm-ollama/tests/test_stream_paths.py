"""The stream's two paths (NDJSON read directly, or the SDK's stream) send and give the same."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from memscreen_llm import create_llm, join_deltas
from memscreen_llm.base import LLMBase
from memscreen_llm.testing import SEA_MESSAGES
from memscreen_llm_ollama import _ndjson
from memscreen_llm_ollama.testing import OllamaServer

MESSAGES = SEA_MESSAGES
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "$defs": {"c": {"type": "string"}}}}}]
HISTORY = [
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": None, "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


@pytest.mark.parametrize(("messages", "kwargs"), [
    (HISTORY, {"tools": TOOLS, "think": True, "keep_alive": "5m"}),
    (MESSAGES, {"response_format": {"type": "json_object"}, "temperature": 0.5, "stop": ["x"]}),
])
def test_the_fast_path_sends_the_body_the_sdk_sends(messages: Any, kwargs: Any) -> None:
    llm: Any = create_llm("ollama", base_url="http://127.0.0.1:9", model="m", num_ctx=4096)
    tools, response_format = kwargs.pop("tools", None), kwargs.pop("response_format", None)
    params = llm._params(llm.build_request(messages, tools, "auto", response_format, kwargs))
    sent: dict[str, Any] = {}

    def request(cls: Any, method: str, path: str, json: Any = None, stream: bool = False) -> Any:
        sent.update(path=path, json=json)
        return iter(())

    llm._client._request = request
    list(llm._client.chat(**params, stream=True))
    assert sent["path"] == _ndjson.PATH
    assert _ndjson.chat_body(params) == sent["json"]


def test_images_take_the_sdks_stream() -> None:
    params = {"model": "m", "messages": [{"role": "user", "content": "?", "images": ["a.png"]}]}
    assert _ndjson.chat_body(params) is None


def test_both_paths_stream_the_same(server: OllamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    llm: LLMBase = create_llm("ollama", base_url=server.base_url, model="tiny", temperature=0.0,
                              seed=7, max_tokens=24)

    def both() -> tuple[Any, Any]:
        async def collect() -> list[Any]:
            return [d async for d in llm.astream(MESSAGES)]
        return list(llm.stream(MESSAGES)), asyncio.run(collect())

    fast, fast_async = both()
    monkeypatch.setattr(_ndjson, "http_client", lambda client, kind: None)
    sdk, sdk_async = both()
    assert len([d for d in fast if d.content]) > 1
    for deltas in (fast_async, sdk, sdk_async):
        assert [d.content for d in deltas] == [d.content for d in fast]
        assert join_deltas(deltas) == join_deltas(fast)
