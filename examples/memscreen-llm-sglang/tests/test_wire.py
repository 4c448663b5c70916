"""SGLang's own answer shapes, from a loopback HTTP server that answers as SGLang does.

The vLLM stand-in of the other tests never sends what an SGLang server started with
`--reasoning-parser step3p5 --tool-call-parser step3p5` sends: reasoning in the field
`reasoning_content`, and tool calls streamed as fragments (name first, then pieces of the
arguments). This server replays those shapes (field names as in SGLang's
serving_chat.py), breaks streams off on purpose, and answers /health with 503 (the model
still loading) when asked to. Which answer it gives is picked by the model name of the
request.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from memscreen_llm import StreamInterruptedError, create_llm, join_deltas

MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]


def chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None,
          usage: dict[str, int] | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [
        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": choices, "usage": usage}


def split_call_stream(model: str) -> list[dict[str, Any]]:
    return [
        chunk(model, {"role": "assistant", "content": ""}),
        chunk(model, {"reasoning_content": "The user asks "}),
        chunk(model, {"reasoning_content": "about weather."}),
        chunk(model, {"tool_calls": [{"id": "call_abc", "index": 0, "type": "function",
                                      "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk(model, {}, finish="tool_calls"),
        chunk(model, None, usage={"prompt_tokens": 12, "completion_tokens": 20,
                                  "total_tokens": 32}),
    ]


SPLIT_CALL_ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "split-call",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "reasoning_content": "The user asks about weather.",
        "tool_calls": [{"id": "call_abc", "index": 0, "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
}
HELLO = [chunk("cut", {"role": "assistant", "content": ""}), chunk("cut", {"content": "Hello"}),
         chunk("cut", {"content": " wor"})]


class SglangLike(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    health_status = 200  # SGLang's /health answers 503 while the model is still loading

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(self.health_status, {})
        else:
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in (
                "split-call", "cut", "reset")]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = request["model"]
        if not request.get("stream"):
            self._json(200, SPLIT_CALL_ANSWER)
            return
        events = {"split-call": split_call_stream(model), "cut": HELLO, "reset": HELLO}[model]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
        if model == "reset":  # half a chunk, then the connection drops
            self.wfile.write(b"40\r\ndata: {\"id\"")
            self.wfile.flush()
            self.close_connection = True
            return
        if model != "cut":  # "cut": the body ends cleanly, but SGLang never said it was done
            self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SglangLike)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_reasoning_content_and_server_side_tool_calls(url: str) -> None:
    llm = create_llm("sglang", base_url=url, model="split-call")
    result = llm.chat(MESSAGES, tools=TOOLS)
    assert result.reasoning == "The user asks about weather." and result.content is None
    assert [(c.id, c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("call_abc", "get_weather", {"city": "Paris"})]
    assert result.finish_reason == "tool_calls" and result.usage is not None


def test_streamed_fragments_become_one_whole_call(url: str) -> None:
    llm = create_llm("sglang", base_url=url, model="split-call")
    deltas = list(llm.stream(MESSAGES, tools=TOOLS))
    assert [d.reasoning for d in deltas if d.reasoning] == ["The user asks ", "about weather."]
    assert [len(d.tool_calls) for d in deltas] == [0, 0, 1]  # whole, in the last delta
    joined = join_deltas(deltas)
    assert joined.tool_calls[0].arguments == '{"city": "Paris"}'
    assert joined.finish_reason == "tool_calls" and joined.usage is not None
    assert joined.usage.total_tokens == 32
    asynced = asyncio.run(_ajoin(llm))
    assert (asynced.reasoning, asynced.tool_calls[0].arguments) == (
        joined.reasoning, joined.tool_calls[0].arguments)


async def _ajoin(llm: Any) -> Any:
    return join_deltas([d async for d in llm.astream(MESSAGES, tools=TOOLS)])


@pytest.mark.parametrize("model", ["cut", "reset"])
def test_a_stream_that_breaks_off_keeps_what_arrived(url: str, model: str) -> None:
    llm = create_llm("sglang", base_url=url, model=model)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as err:
        for delta in llm.stream(MESSAGES):
            received.append(delta.content or "")
    assert "".join(received) == "Hello wor"
    assert err.value.partial.content == "Hello wor" and err.value.partial.finish_reason is None
    assert "broke off" in str(err.value) and url in str(err.value)
    assert (err.value.__cause__ is None) == (model == "cut")  # "reset": the transport's error
    with pytest.raises(StreamInterruptedError):
        asyncio.run(_adrain(llm))


async def _adrain(llm: Any) -> None:
    async for _ in llm.astream(MESSAGES):
        pass


def test_health_asks_sglangs_own_route_first(url: str) -> None:
    llm = create_llm("sglang", base_url=url, model="cut")
    assert [(c.name, c.ok) for c in llm.health().checks] == [("server", True), ("model", True)]
    SglangLike.health_status = 503
    try:
        report = llm.health()
    finally:
        SglangLike.health_status = 200
    assert [(c.name, c.ok) for c in report.checks] == [("server", False)]
    assert "HTTP 503" in report.checks[0].detail and "loading" in (report.checks[0].fix or "")
