"""The kit's loopback fault server (memscreen_llm.testing.faults), over the standard library's
own clients: each fault does what it says, requests are recorded, close() is prompt."""

from __future__ import annotations

import http.client
import itertools
import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from memscreen_llm import testing as kit
from memscreen_llm.testing.faults import (
    EMBEDDING_DIM,
    PROMPT_TOKENS,
    REPLY,
    REPLY_DELTAS,
    Fault,
    FaultServer,
)

CHAT = {"model": "fault-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    yield from kit.fault_server()


def request(server: FaultServer, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data,
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response, payload


def raw(server: FaultServer, path: str, body: Any) -> socket.socket:
    """A socket that has sent one POST and not read anything."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    data = json.dumps(body).encode()
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def read_until_eof(sock: socket.socket, timeout: float = 3.0) -> bytes:
    sock.settimeout(timeout)
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def readable_within(sock: socket.socket, seconds: float) -> bool:
    return bool(select.select([sock], [], [], seconds)[0])


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line + headers, body bytes read past them)."""
    sock.settimeout(3)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def sse_events(payload: bytes) -> list[str]:
    return [line[len("data: "):] for line in payload.decode().split("\n\n") if line]


# ----------------------------------------------------------------------------- ok answers


def test_openai_ok_answers(server: FaultServer) -> None:
    assert server.openai_url == f"http://127.0.0.1:{server.port}/v1"
    response, payload = request(server, "GET", "/v1/models")
    assert json.loads(payload) == {"object": "list", "data": [
        {"id": "fault-model", "object": "model", "created": 0, "owned_by": "x"}]}

    response, payload = request(server, "POST", "/v1/chat/completions", CHAT)
    answer = json.loads(payload)
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert answer["object"] == "chat.completion" and answer["model"] == "fault-model"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["prompt_tokens"] == PROMPT_TOKENS

    response, payload = request(server, "POST", "/v1/chat/completions",
                                {**CHAT, "stream": True,
                                 "stream_options": {"include_usage": True}})
    assert response.getheader("Content-Type") == "text/event-stream"
    events = sse_events(payload)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(t or "" for t in texts) == REPLY and len(texts) > 3
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0

    _, payload = request(server, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
    assert "usage" not in sse_events(payload)[-2]  # no usage chunk unless asked for

    _, payload = request(server, "POST", "/v1/embeddings", {"model": "e", "input": ["a", "b"]})
    data = json.loads(payload)["data"]
    assert [d["index"] for d in data] == [0, 1] and len(data[0]["embedding"]) == EMBEDDING_DIM
    assert data[0]["embedding"] != data[1]["embedding"]


def test_ollama_ok_answers(server: FaultServer) -> None:
    assert server.ollama_url == f"http://127.0.0.1:{server.port}"
    assert json.loads(request(server, "GET", "/api/version")[1])["version"]
    assert json.loads(request(server, "GET", "/api/tags")[1])["models"][0]["name"] == "fault-model"
    shown = json.loads(request(server, "POST", "/api/show", {"model": "fault-model"})[1])
    assert shown["capabilities"] == ["completion"]
    assert shown["model_info"]["llama.context_length"] == 8192

    _, payload = request(server, "POST", "/api/chat", {**CHAT, "stream": False})
    answer = json.loads(payload)
    assert answer["message"] == {"role": "assistant", "content": REPLY} and answer["done"]

    # "stream" absent: a stream, as Ollama
    response, payload = request(server, "POST", "/api/chat", CHAT)
    assert response.getheader("Content-Type") == "application/x-ndjson"
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    assert [line["message"]["content"] for line in lines[:-1]] == list(REPLY_DELTAS)
    assert not any(line["done"] for line in lines[:-1])
    assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"
    assert lines[-1]["prompt_eval_count"] == PROMPT_TOKENS
    assert lines[-1]["eval_count"] == len(REPLY_DELTAS)

    embedded = json.loads(request(server, "POST", "/api/embed",
                                  {"model": "e", "input": "a"})[1])
    assert len(embedded["embeddings"]) == 1 and len(embedded["embeddings"][0]) == EMBEDDING_DIM

    response, payload = request(server, "GET", "/api/nothing")
    assert response.status == 404 and "error" in json.loads(payload)


# ----------------------------------------------------------------------------- recording


def test_requests_are_recorded(server: FaultServer) -> None:
    before = time.monotonic()
    request(server, "POST", "/v1/chat/completions?x=1", CHAT,
            headers={"Authorization": "Bearer sekrit"})
    request(server, "POST", "/api/chat", CHAT)
    first, second = server.wait_for_requests(2)
    assert (first.index, first.method, first.path, first.query) == (
        0, "POST", "/v1/chat/completions", "x=1")
    assert first.headers["authorization"] == "Bearer sekrit"
    assert first.json == CHAT and json.loads(first.body) == CHAT
    assert first.stream is False and second.stream is True
    assert str(first.fault) == "ok"
    assert before <= first.time <= second.time <= time.monotonic()
    assert first.connection != second.connection
    assert server.requests_to("/api/chat") == [second]
    assert len(server.gaps()) == 1 and server.gaps()[0] >= 0


def test_script_then_standing_fault(server: FaultServer) -> None:
    server.script(["status:503:retry-after=1", "status:429", "status:500", "ok"])
    server.set_fault("status:502")
    request(server, "GET", "/v1/models")  # not a target: answers, takes nothing from the script
    assert len(server.scripted) == 4

    response, payload = request(server, "POST", "/v1/chat/completions", CHAT)
    assert response.status == 503 and response.getheader("Retry-After") == "1"
    error = json.loads(payload)["error"]
    assert error["message"] and error["type"] == "server_error"

    response, payload = request(server, "POST", "/api/chat", CHAT)
    assert response.status == 429 and response.getheader("Retry-After") is None
    assert isinstance(json.loads(payload)["error"], str)  # Ollama's error shape

    assert request(server, "POST", "/api/chat", {**CHAT, "stream": True})[0].status == 500
    response, payload = request(server, "POST", "/v1/chat/completions", CHAT)
    assert response.status == 200 and json.loads(payload)["choices"]
    assert request(server, "POST", "/v1/chat/completions", CHAT)[0].status == 502
    chats = [r for r in server.requests if r.path != "/v1/models"]
    assert [str(r.fault) for r in chats] == [
        "status:503:retry-after=1", "status:429", "status:500", "ok", "status:502"]
    assert len(server.gaps("/v1/chat/completions")) == 2


def test_targets_none_faults_every_path() -> None:
    with FaultServer("status:503", targets=None) as server:
        assert request(server, "GET", "/v1/models")[0].status == 503
        assert request(server, "GET", "/api/version")[0].status == 503


def test_fault_specs() -> None:
    assert Fault.parse("status:429:retry-after=2") == Fault("status", status=429,
                                                            retry_after="2")
    assert Fault.parse("drip:interval=0.2").interval == 0.2
    assert Fault.parse("cut").n_deltas == 2 and Fault.parse("malformed").n_deltas == 0
    assert Fault.parse("stall:deltas=4").n_deltas == 4
    assert Fault.parse("huge:mb=0.5").mb == 0.5
    assert Fault.parse(Fault("empty")) == Fault("empty")
    for bad in ("nope", "drip:speed=1", "status:x", "drip:interval=0"):
        with pytest.raises(ValueError):
            Fault.parse(bad)


# ----------------------------------------------------------------------------- hanging faults


def test_no_answer_sends_nothing() -> None:
    with FaultServer("no_answer") as server:
        sock = raw(server, "/v1/chat/completions", CHAT)
        server.wait_for_requests(1)
        assert server.requests[0].json == CHAT  # read, recorded...
        assert not readable_within(sock, 1.0)  # ...and not answered
        assert server.open_connections == 1
        sock.close()
        assert server.wait_until(lambda s: s.open_connections == 0, timeout=2)


def test_drip_sends_a_byte_per_interval() -> None:
    with FaultServer("drip:interval=0.1") as server:
        sock = raw(server, "/v1/chat/completions", CHAT)
        head, rest = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length" not in head
        assert rest == b""
        start, received = time.monotonic(), []
        while time.monotonic() - start < 0.55:
            if readable_within(sock, 0.2):
                received.append((time.monotonic(), sock.recv(65536)))
        assert all(len(chunk) == 1 for _, chunk in received), received
        assert 3 <= len(received) <= 8, received
        body = b"".join(chunk for _, chunk in received)
        assert b'{"id":"chatcmpl-fault-drip"'.startswith(body)  # a valid-looking start
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(received)]
        assert min(gaps) > 0.05
        sock.close()


def test_stall_keeps_the_socket_open_after_some_deltas() -> None:
    with FaultServer("stall") as server:
        sock = raw(server, "/v1/chat/completions", {**CHAT, "stream": True})
        head, body = read_head(sock)
        assert b"Transfer-Encoding: chunked" in head
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            if readable_within(sock, 0.05):
                chunk = sock.recv(65536)
                assert chunk, "the server closed a stalled stream"
                body += chunk
        assert body.count(b"data: ") == 2 and b"[DONE]" not in body
        assert not readable_within(sock, 0.3)  # nothing more, and no EOF
        sock.close()


@pytest.mark.parametrize(("path", "stream_flag"), [
    ("/v1/chat/completions", {"stream": True}), ("/api/chat", {})])
def test_cut_closes_without_the_end(path: str, stream_flag: dict[str, Any]) -> None:
    with FaultServer("cut:deltas=3") as server:
        sock = raw(server, path, {**CHAT, **stream_flag})
        payload = read_until_eof(sock)
        sock.close()
    body = payload.partition(b"\r\n\r\n")[2]
    assert REPLY_DELTAS[2].encode() in body and REPLY_DELTAS[3].encode() not in body
    assert b"[DONE]" not in body and b'"done":true' not in body
    assert not body.endswith(b"0\r\n\r\n")  # no terminating chunk: cut, not ended


def test_cut_plain_sends_less_than_promised() -> None:
    with FaultServer("cut") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(CHAT))
        response = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead):
            response.read()
        conn.close()


def test_truncated_stream_ends_cleanly_without_done() -> None:
    with FaultServer("truncated:deltas=2") as server:
        _, payload = request(server, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
        events = sse_events(payload)
        assert len(events) == 2 and "[DONE]" not in events
        assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in events)
        _, payload = request(server, "POST", "/api/chat", CHAT)
        assert all(not json.loads(line)["done"] for line in payload.decode().splitlines())


# ----------------------------------------------------------------------------- bad bodies


def test_malformed_empty_and_empty_object() -> None:
    with FaultServer("malformed") as server:
        response, payload = request(server, "POST", "/v1/chat/completions", CHAT)
        assert response.status == 200 and response.getheader("Content-Type") == "application/json"
        assert payload == b'{"choices": ['
        _, payload = request(server, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
        with pytest.raises(ValueError):
            json.loads(sse_events(payload)[0])
        _, payload = request(server, "POST", "/api/chat", CHAT)
        with pytest.raises(ValueError):
            json.loads(payload.decode().splitlines()[0])

        server.set_fault("empty")
        response, payload = request(server, "POST", "/v1/chat/completions", CHAT)
        assert (response.status, payload) == (200, b"")
        assert request(server, "POST", "/api/chat", CHAT)[1] == b""

        server.set_fault("empty_object")
        assert request(server, "POST", "/api/chat", {**CHAT, "stream": False})[1] == b"{}"
        _, payload = request(server, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
        assert sse_events(payload) == ["{}", "[DONE]"]


def test_huge() -> None:
    with FaultServer("huge:mb=1") as server:
        _, payload = request(server, "POST", "/v1/chat/completions", CHAT)
        assert len(json.loads(payload)["choices"][0]["message"]["content"]) == 1024 * 1024
        _, payload = request(server, "POST", "/api/chat", CHAT)
        lines = [json.loads(line) for line in payload.decode().splitlines()]
        assert sum(len(line["message"]["content"]) for line in lines) == 1024 * 1024
        assert lines[-1]["done"] is True


# ----------------------------------------------------------------------------- lifecycle


def test_close_is_prompt_with_hung_handlers() -> None:
    threads_before = kit.thread_count()
    server = FaultServer().start()
    socks = []
    for fault in ("no_answer", "drip:interval=5", "stall"):
        server.set_fault(fault)
        socks.append(raw(server, "/api/chat", CHAT))
        server.wait_for_requests(len(socks))
    assert server.wait_until(lambda s: s.open_connections == 3)
    start = time.monotonic()
    server.close()
    assert time.monotonic() - start < 1.0
    for sock in socks:
        read_until_eof(sock, timeout=1.0)  # the server's end is closed: EOF, not a hang
        sock.close()
    assert server.open_connections == 0
    assert kit.thread_count() <= threads_before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.close()  # twice is fine


def test_open_sockets_counts_this_process() -> None:
    before = kit.open_sockets()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert kit.open_sockets() == before + 1
    assert kit.open_sockets() == before
