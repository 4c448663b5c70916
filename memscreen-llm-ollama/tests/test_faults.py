"""Every exception out of OllamaLLM is a memscreen-llm error, with its cause chained.

A server answering a body that is not JSON, or JSON of the wrong shape, is a fault a real
Ollama cannot be made to produce: a stub answers those (a few lines of http.server). The
request faults and a host that does not resolve are run against the real engine.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest

from memscreen_llm import create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm.errors import (
    BackendUnavailableError,
    ResponseParseError,
    UsageError,
    VisionUnsupportedError,
)
from memscreen_llm.images import ImageSettings, normalize_messages
from memscreen_llm.testing import free_port
from memscreen_llm.testing.memscreen_patterns import PNG_1X1
from memscreen_llm_ollama import _messages
from memscreen_llm_ollama.testing import OllamaServer

MESSAGES = [{"role": "user", "content": "Say hi."}]


class Stub:
    """Answers every request with HTTP 200 and `body` (bytes), whatever the path."""

    def __init__(self, body: bytes) -> None:
        stub = self
        self.body = body
        self.paths: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            do_GET = do_POST = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _astream(llm: LLMBase) -> list[Any]:
    async def collect() -> list[Any]:
        return [delta async for delta in llm.astream(MESSAGES)]
    return asyncio.run(collect())


CALLS: dict[str, Callable[[LLMBase], Any]] = {
    "chat": lambda llm: llm.chat(MESSAGES),
    "achat": lambda llm: asyncio.run(llm.achat(MESSAGES)),
    "stream": lambda llm: list(llm.stream(MESSAGES)),
    "astream": _astream,
    "embed": lambda llm: llm.embed(["a text"]),
}


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> Iterator[Stub]:
    served = Stub(request.param)
    yield served
    served.close()


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("stub", [b"<html>502 Bad Gateway</html>"], indirect=True)
def test_a_body_that_is_not_json(stub: Stub, call: str) -> None:
    with create_llm("ollama", base_url=stub.url, model="tiny") as llm, \
            pytest.raises(ResponseParseError, match="not JSON") as caught:
        CALLS[call](llm)
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)
    assert "fix: check that" in str(caught.value) and "Bad Gateway" in str(caught.value)
    assert any(path in ("/api/chat", "/api/embed") for path in stub.paths)  # it was asked


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("stub", [b"{}"], indirect=True)
def test_an_empty_object_body(stub: Stub, call: str) -> None:
    with create_llm("ollama", base_url=stub.url, model="tiny") as llm, \
            pytest.raises(ResponseParseError, match="not an Ollama (Chat|Embed)Response") as caught:
        CALLS[call](llm)
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)
    field = "embeddings" if call == "embed" else "message"
    assert f"{field}: Field required" in str(caught.value)


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("stub", [b"[1, 2]", b"null"], indirect=True)
def test_json_that_is_not_an_object(stub: Stub, call: str) -> None:
    with create_llm("ollama", base_url=stub.url, model="tiny") as llm, \
            pytest.raises(ResponseParseError, match="shape this client cannot read") as caught:
        CALLS[call](llm)
    assert isinstance(caught.value.__cause__, (TypeError, AttributeError))


@pytest.mark.parametrize("stub", [json.dumps({"embeddings": [[0.5, 0.25]]}).encode()],
                         indirect=True)
def test_fewer_embeddings_than_texts(stub: Stub) -> None:
    with create_llm("ollama", base_url=stub.url, model="tiny") as llm, \
            pytest.raises(ResponseParseError, match="1 embeddings for 2 texts"):
        llm.embed(["one", "two"])


# --- requests that cannot be sent: a UsageError saying what is wrong, nothing sent ---

BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("tool name not a string",
     {"tools": [{"type": "function", "function": {"name": 123}}]},
     # core's check, the same for every backend, before Ollama's own
     r"tools\[0\]\.function\.name must be a string, got int"),
    ("tool parameters not a schema",
     {"tools": [{"type": "function", "function": {"name": "f", "parameters": "nope"}}]},
     r"tools\[0\]\.function\.parameters must be a JSON schema object, got str"),
    ("tool required not a list",
     {"tools": [{"type": "function", "function": {"name": "f", "parameters": {
         "type": "object", "required": "city", "properties": {"city": {"type": "string"}}}}}]},
     r"tools\[0\].*function\.parameters\.required"),
    ("model not a string", {"model": 123}, r"model=123 \(per call\): model must be a string"),
    ("truncate not a bool", {"truncate": "yes"}, r"truncate='yes': must be true"),
]

BAD_MESSAGES: list[tuple[str, list[dict[str, Any]], str]] = [
    ("dict content", [{"role": "user", "content": {"text": "hi"}}],
     r"messages\[0\]\.content\[0\] must be a content part"),
    ("bytes content", [{"role": "user", "content": b"hi"}], r"got bytes; decode bytes first"),
    ("int content", [{"role": "user", "content": 123}], r"got int"),
    ("text part not a string", [{"role": "user", "content": [{"type": "text", "text": 5}]}],
     r"messages\[0\]\.content\[0\]\.text must be a string, got int"),
    ("image URL", [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{free_port()}/cat.png"}}]}],
     r"messages\[0\]\.content\[1\]: cannot fetch the image http://127\.0\.0\.1"),
    ("audio part", [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "...", "format": "wav"}}]}],
     r"'input_audio' part, which Ollama cannot take"),
    ("image not text or bytes", [{"role": "user", "content": "?", "images": [5]}],
     r"messages\[0\]\.images\[0\]: an image cannot be a int"),
    ("tool call without a name", [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "user", "content": "go on"}],
     r"messages\[0\]\.tool_calls\[0\] must be a tool call"),
    ("tool call arguments a list", [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "1", "function": {"name": "f", "arguments": "[1, 2]"}}]},
        {"role": "user", "content": "go on"}],
     r"the arguments of tool call 'f' must be a JSON object, got list"),
    ("tool result name not a string", [
        {"role": "user", "content": "weather?"},
        {"role": "tool", "content": "sunny", "name": 5}],
     r"messages\[1\]\.name must be the called tool's name"),
]


@pytest.fixture
def llm(server: OllamaServer) -> Iterator[LLMBase]:
    with create_llm("ollama", base_url=server.base_url, model="tiny", max_tokens=4) as made:
        yield made


@pytest.mark.parametrize(("case", "options", "needle"), BAD_REQUESTS,
                         ids=[case for case, _, _ in BAD_REQUESTS])
def test_bad_request_options(llm: LLMBase, case: str, options: dict[str, Any],
                             needle: str) -> None:
    for call in (lambda: llm.chat(MESSAGES, **options),
                 lambda: list(llm.stream(MESSAGES, **options)),
                 lambda: asyncio.run(llm.achat(MESSAGES, **options))):
        with pytest.raises(UsageError, match=needle):
            call()
    assert llm.chat(MESSAGES).content is not None  # the server was fine all along


@pytest.mark.parametrize(("case", "messages", "needle"), BAD_MESSAGES,
                         ids=[case for case, _, _ in BAD_MESSAGES])
def test_content_ollama_cannot_take_is_an_error_never_dropped(
        llm: LLMBase, case: str, messages: list[dict[str, Any]], needle: str) -> None:
    for call in (lambda: llm.chat(messages), lambda: list(llm.stream(messages))):
        with pytest.raises(UsageError, match=needle):
            call()


def test_image_parts_and_images_become_ollamas_images_in_order() -> None:
    png = base64.b64decode(PNG_1X1)
    messages = normalize_messages([{"role": "user", "images": [PNG_1X1], "content": [
        {"type": "text", "text": "what is "}, {"type": "text", "text": "this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1X1}"}}]}],
        ImageSettings())
    mapped = _messages.to_ollama_messages(messages)
    assert mapped == [{"role": "user", "content": "what is this?", "images": [png, png]}]


def test_an_image_for_the_text_only_model_is_refused_by_us(llm: LLMBase) -> None:
    # Ollama itself would answer (the image turned into the text "[img-0]"): /api/show's
    # capabilities say the tiny model cannot see, so the call never goes out.
    image = [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1X1}"}}]}]
    for call in (lambda: llm.chat(image), lambda: list(llm.stream(image)),
                 lambda: asyncio.run(llm.achat(image))):
        with pytest.raises(VisionUnsupportedError, match="model 'tiny' on backend 'ollama' "
                           "cannot see images") as err:
            call()
        assert "ollama pull" in str(err.value)
    assert llm.can_see() is False


# --- a host name that does not resolve ---

UNRESOLVABLE = "http://no-such-host.invalid:11434"


@pytest.mark.parametrize("call", list(CALLS))
def test_a_host_that_does_not_resolve_says_so(call: str) -> None:
    with create_llm("ollama", base_url=UNRESOLVABLE, model="tiny", timeout=10) as llm, \
            pytest.raises(BackendUnavailableError) as caught:
        CALLS[call](llm)
    message = str(caught.value)
    assert "host name 'no-such-host.invalid' could not be resolved" in message
    assert "connection error" in message  # the words MemScreen looks for
    assert "refused" not in message
    assert caught.value.__cause__ is not None


def test_health_says_the_host_does_not_resolve() -> None:
    with create_llm("ollama", base_url=UNRESOLVABLE, model="tiny", timeout=10) as llm:
        report = llm.health()
    assert not report.ok
    assert "could not be resolved" in report.checks[0].detail


def test_a_refused_connection_still_says_refused() -> None:
    from memscreen_llm.testing import free_port

    with create_llm("ollama", base_url=f"http://127.0.0.1:{free_port()}", model="t") as llm:
        for call in ("chat", "stream", "achat"):
            with pytest.raises(BackendUnavailableError, match="connection error.*refused"):
                CALLS[call](llm)

