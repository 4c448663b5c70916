"""A loopback fault server: an OpenAI-compatible and Ollama look-alike that misbehaves on cue.

Standard library only. It answers both wire protocols well enough for the `openai` and
`ollama` SDKs to accept its normal answers, and fails in the ways real engines and proxies
fail, so a backend's timeouts, retries and error mapping can be tested without an engine:

    from memscreen_llm.testing import FaultServer

    with FaultServer(fault="drip:interval=0.2") as server:
        llm = create_llm("openai", base_url=server.openai_url, model="fault-model")
        ...
        assert server.requests[0].headers["authorization"] == "Bearer x"

    server.script(["status:503:retry-after=1", "status:503", "ok"])  # per request, in turn

Endpoints (any model name is accepted; listings name `model`, default "fault-model"):

- OpenAI shape, `openai_url` = http://127.0.0.1:PORT/v1: GET /v1/models, GET /v1/models/ID,
  POST /v1/chat/completions (JSON, or SSE when "stream" is true: `data: {chunk}` events, a
  usage chunk when stream_options.include_usage, then `data: [DONE]`), POST /v1/embeddings.
- Ollama shape, `ollama_url` = http://127.0.0.1:PORT: GET /, GET /api/version, GET /api/tags,
  GET /api/ps, POST /api/show (`model_info` with `<arch>.context_length`, `capabilities`),
  POST /api/chat (NDJSON when "stream" is true *or absent*, as Ollama; the last line has
  `done: true`, `done_reason`, `prompt_eval_count`, `eval_count`), POST /api/embed.

The normal reply is `REPLY` ("hello from the fault server"), streamed as `REPLY_DELTAS`;
usage is `PROMPT_TOKENS` prompt and `len(REPLY_DELTAS)` completion tokens. Embeddings are
`EMBEDDING_DIM` floats, a fixed function of each input text.

Faults. A fault is a `Fault` or a spec string `kind[:code][:key=value]...`:

=================  ===========================================================================
`ok`               the normal answer; `delay=S` waits S seconds before it and between deltas
`no_answer`        read the request, send nothing until the client disconnects or `close()`
`drip`             status + headers (no length, `Connection: close`), then one byte of a
                   valid-looking body every `interval` seconds (default 0.5), forever
`stall`            stream: `deltas` (2) normal deltas, then nothing, socket kept open;
                   plain: a Content-Length, half the body, then nothing
`cut`              stream: `deltas` (2) deltas, then the connection is closed (no `[DONE]`, no
                   done line, no terminating chunk); plain: half the promised body, then closed
`truncated`        stream: `deltas` (2) deltas, then a clean end of the HTTP body without
                   `[DONE]` / finish_reason / done line; plain: half the JSON, complete HTTP
`malformed`        200, JSON content type, body `{"choices": [`; stream: `deltas` (0) good
                   deltas, then an invalid JSON event / line (then `[DONE]` for SSE)
`empty`            200, empty body (stream: no events at all)
`empty_object`     200, body `{}` (stream: one `{}` event / line, then `[DONE]` for SSE)
`status`           `status:503`, `status:429:retry-after=2`: that HTTP status, an optional
                   `Retry-After` header, and the engine's JSON error body (OpenAI
                   `{"error": {"message", "type", "param", "code"}}`, Ollama `{"error": "..."}`)
`huge`             200 with ~`mb` MB (default 8) of content (stream: 64 KiB deltas)
=================  ===========================================================================

Choosing: `FaultServer(fault=...)` / `server.set_fault(...)` sets the standing fault;
`server.script([...])` (or `FaultServer(script=[...])`) queues faults used one per request,
in turn, before the standing fault applies again. Only requests to `targets` take a fault —
by default the work endpoints (`INFERENCE_PATHS`: chat and embeddings of both shapes), so
model listings, /api/show and /api/version keep answering normally; `targets=None` makes
every endpoint take it. A scripted list therefore counts work requests: `["status:503"] * 2
+ ["ok"]` fails the first two attempts of a chat and lets the third through.

Recording: `server.requests` lists a `RecordedRequest` per request (method, path, query,
headers with lower-case names, body bytes, parsed `json` (or None), `stream`, `time` =
`time.monotonic()` when it had arrived, `connection` number, the `fault` applied).
`server.gaps()` gives the intervals between them (backoff, Retry-After);
`server.wait_for_requests(n)` waits for them to arrive. `server.open_connections` is the
number of client connections open now, `server.connections_total` all accepted so far.

Lifecycle: `start()` (or `with`) serves from a daemon thread on 127.0.0.1, port 0 (picked);
`close()` stops it promptly even with handlers hung in a fault: they wait on an event, and
their sockets are shut down. As a pytest fixture:

    @pytest.fixture
    def faults():
        yield from fault_server()

Leak checks: `open_sockets()` counts this process's open sockets (Linux: the `socket:`
entries of /proc/self/fd; it counts the fault server's own listening socket and its side
of each open connection too), `thread_count()` this process's live Python threads (the
server adds one, plus one per open connection).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

__all__ = [
    "EMBEDDING_DIM",
    "FAULT_KINDS",
    "INFERENCE_PATHS",
    "PROMPT_TOKENS",
    "REPLY",
    "REPLY_DELTAS",
    "Fault",
    "FaultServer",
    "RecordedRequest",
    "fault_server",
    "open_sockets",
    "thread_count",
]

REPLY_DELTAS = ("hello", " from", " the", " fault", " server")
REPLY = "".join(REPLY_DELTAS)
PROMPT_TOKENS = 12
EMBEDDING_DIM = 8

FAULT_KINDS = ("ok", "no_answer", "drip", "stall", "cut", "truncated", "malformed", "empty",
               "empty_object", "status", "huge")

OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings")
OLLAMA_PATHS = ("/api/chat", "/api/embed")
INFERENCE_PATHS: tuple[str, ...] = OPENAI_PATHS + OLLAMA_PATHS

_DEFAULT_DELTAS = {"stall": 2, "cut": 2, "truncated": 2, "malformed": 0}
_MALFORMED = b'{"choices": ['
_HUGE_DELTA = 64 * 1024
_POLL = 0.05  # how often a held handler looks at the client and at close()


@dataclass(frozen=True)
class Fault:
    """What the server does with one request; see the module docstring for the kinds."""

    kind: str = "ok"
    status: int = 503
    retry_after: str | None = None
    interval: float = 0.5
    deltas: int | None = None  # None: the kind's default (stall/cut/truncated 2, malformed 0)
    mb: float = 8.0
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.interval <= 0:
            raise ValueError("fault interval must be > 0")

    @property
    def n_deltas(self) -> int:
        return self.deltas if self.deltas is not None else _DEFAULT_DELTAS.get(self.kind, 0)

    @classmethod
    def parse(cls, spec: str | Fault) -> Fault:
        """`"status:503:retry-after=1"`, `"drip:interval=0.2"`, `"cut:deltas=1"`, ..."""
        if isinstance(spec, Fault):
            return spec
        kind, *parts = [p.strip() for p in spec.strip().split(":")]
        values: dict[str, Any] = {}
        for part in parts:
            key, eq, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not eq:
                if kind == "status" and key.isdigit() and "status" not in values:
                    values["status"] = int(key)
                    continue
                raise ValueError(f"fault {spec!r}: {part!r} is not key=value")
            value = value.strip()
            if key in ("status", "deltas"):
                values[key] = int(value)
            elif key in ("interval", "mb", "delay"):
                values[key] = float(value)
            elif key == "retry_after":
                values[key] = value
            else:
                raise ValueError(f"fault {spec!r}: unknown parameter {key!r}")
        return cls(kind, **values)

    def __str__(self) -> str:
        text = self.kind
        if self.kind == "status":
            text += f":{self.status}"
            if self.retry_after is not None:
                text += f":retry-after={self.retry_after}"
        elif self.kind == "drip":
            text += f":interval={self.interval:g}"
        elif self.kind == "huge":
            text += f":mb={self.mb:g}"
        elif self.kind in _DEFAULT_DELTAS:
            text += f":deltas={self.n_deltas}"
        if self.delay:
            text += f":delay={self.delay:g}"
        return text


_OK = Fault()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it (before answering it)."""

    index: int  # 0, 1, ... in arrival order
    connection: int  # which TCP connection carried it (1, 2, ...)
    time: float  # time.monotonic() when the whole request had arrived
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # the parsed body, or None (no body, not JSON)
    fault: Fault  # what the server did with it
    stream: bool = field(default=False)  # the client asked for a stream


def open_sockets() -> int:
    """This process's open sockets: the `socket:[...]` entries of /proc/self/fd (Linux only;
    NotImplementedError elsewhere). Counts a running FaultServer's own sockets too."""
    folder = "/proc/self/fd"
    if not os.path.isdir(folder):
        raise NotImplementedError("open_sockets() reads /proc/self/fd (Linux)")
    count = 0
    for name in os.listdir(folder):
        try:
            if os.readlink(os.path.join(folder, name)).startswith("socket:"):
                count += 1
        except OSError:  # closed meanwhile (or the listing's own descriptor)
            pass
    return count


def thread_count() -> int:
    """This process's live Python threads (`threading.active_count()`)."""
    return threading.active_count()


def fault_server(**kwargs: Any) -> Iterator[FaultServer]:
    """A running FaultServer for a pytest fixture (`yield from fault_server(fault="drip")`);
    closed when the fixture ends."""
    with FaultServer(**kwargs) as server:
        yield server


# --------------------------------------------------------------------------------- bodies


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _embedding(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255.0 - 0.5, 6) for b in digest[:EMBEDDING_DIM]]


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    return [""]


class _Route:
    """How one request is answered normally: its shape, a plain JSON answer, or stream frames."""

    def __init__(self, server: FaultServer, method: str, path: str, body: Any) -> None:
        self.server, self.method, self.path = server, method, path
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.shape = "openai" if path.startswith("/v1") else "ollama"
        model = self.body.get("model")
        self.model = model if isinstance(model, str) and model else server.model
        if path == "/v1/chat/completions":
            self.stream = self.body.get("stream") is True
        elif path in ("/api/chat", "/api/generate"):
            self.stream = self.body.get("stream", True) is not False
        else:
            self.stream = False
        self.known = self._known()
        self._stream_id: str | None = None

    def _known(self) -> bool:
        get = {"/", "/v1/models", "/api/version", "/api/tags", "/api/ps"}
        post = {"/v1/chat/completions", "/v1/embeddings", "/api/show", "/api/chat",
                "/api/embed"}
        if self.method in ("GET", "HEAD"):
            return self.path in get or self.path.startswith("/v1/models/")
        return self.method == "POST" and self.path in post

    @property
    def content_type(self) -> str:
        if not self.stream:
            return "text/plain; charset=utf-8" if self.path == "/" else "application/json"
        return "text/event-stream" if self.shape == "openai" else "application/x-ndjson"

    # ------------------------------------------------------------------ plain answers
    def answer(self, content: str = REPLY, padding: str = "") -> tuple[int, bytes]:
        """(status, body) of the normal non-stream answer."""
        srv, model, path = self.server, self.model, self.path
        value: Any
        if path == "/":
            return 200, b"Ollama is running"
        if path == "/v1/models":
            value = {"object": "list", "data": [self._model_object(srv.model)]}
        elif path.startswith("/v1/models/"):
            wanted = path[len("/v1/models/"):]
            if wanted != srv.model:
                return self.error(404, f"The model `{wanted}` does not exist.")
            value = self._model_object(wanted)
        elif path == "/v1/chat/completions":
            value = {
                "id": f"chatcmpl-fault-{srv.next_id()}", "object": "chat.completion",
                "created": int(time.time()), "model": model, "system_fingerprint": None,
                "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": self._openai_usage(),
            }
        elif path == "/v1/embeddings":
            texts = _inputs(self.body.get("input"))
            base64_wanted = self.body.get("encoding_format") == "base64"
            data = []
            for i, text in enumerate(texts):
                vector: Any = _embedding(text)
                if base64_wanted:
                    vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                data.append({"object": "embedding", "index": i, "embedding": vector})
            tokens = sum(max(1, len(t.split())) for t in texts)
            value = {"object": "list", "data": data, "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        elif path == "/api/version":
            value = {"version": srv.ollama_version}
        elif path in ("/api/tags", "/api/ps"):
            entry: dict[str, Any] = {
                "name": srv.model, "model": srv.model, "size": 1_000_000,
                "digest": hashlib.sha256(srv.model.encode()).hexdigest(),
                "details": self._details(),
            }
            if path == "/api/tags":
                entry["modified_at"] = "2025-01-01T00:00:00Z"
            else:
                entry.update(expires_at="2099-01-01T00:00:00Z", size_vram=1_000_000,
                             context_length=srv.context_length)
            value = {"models": [entry]}
        elif path == "/api/show":
            value = {
                "modelfile": f"FROM {model}\n", "template": "{{ .Prompt }}",
                "details": self._details(),
                "model_info": {"general.architecture": "llama",
                               "general.parameter_count": 1_000_000,
                               "llama.context_length": srv.context_length,
                               "llama.embedding_length": EMBEDDING_DIM},
                "capabilities": list(srv.capabilities),
                "modified_at": "2025-01-01T00:00:00Z",
            }
        elif path == "/api/chat":
            value = {"model": model, "created_at": _now_iso(),
                     "message": {"role": "assistant", "content": content}, "done": True,
                     **self._ollama_usage()}
        elif path == "/api/embed":
            texts = _inputs(self.body.get("input"))
            value = {"model": model, "embeddings": [_embedding(t) for t in texts],
                     "total_duration": 1_000_000, "load_duration": 1_000,
                     "prompt_eval_count": sum(max(1, len(t.split())) for t in texts)}
        else:
            return self.error(404, f"{self.method} {path} is not served here")
        if padding and isinstance(value, dict):
            value["padding"] = padding
        return 200, _dumps(value)

    def error(self, status: int, message: str | None = None) -> tuple[int, bytes]:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        message = message or f"fault server: {status} {phrase}".rstrip()
        if self.shape == "ollama":
            return status, _dumps({"error": message})
        kind = ("rate_limit_exceeded" if status == 429 else
                "server_error" if status >= 500 else "invalid_request_error")
        return status, _dumps({"error": {"message": message, "type": kind, "param": None,
                                         "code": None if status >= 500 else str(status)}})

    def _model_object(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "x"}

    def _details(self) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": "llama",
                "families": ["llama"], "parameter_size": "1M", "quantization_level": "Q4_0"}

    def _openai_usage(self) -> dict[str, int]:
        completion = len(REPLY_DELTAS)
        return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion,
                "total_tokens": PROMPT_TOKENS + completion}

    def _ollama_usage(self) -> dict[str, Any]:
        return {"done_reason": "stop", "total_duration": 2_000_000, "load_duration": 1_000,
                "prompt_eval_count": PROMPT_TOKENS, "prompt_eval_duration": 500_000,
                "eval_count": len(REPLY_DELTAS), "eval_duration": 1_000_000}

    # ------------------------------------------------------------------ stream frames
    def frame(self, value: Any) -> bytes:
        raw = value if isinstance(value, bytes) else _dumps(value)
        return b"data: " + raw + b"\n\n" if self.shape == "openai" else raw + b"\n"

    def delta(self, text: str, first: bool) -> bytes:
        if self.shape == "ollama":
            return self.frame({"model": self.model, "created_at": _now_iso(),
                               "message": {"role": "assistant", "content": text},
                               "done": False})
        delta: dict[str, Any] = {"content": text}
        if first:
            delta = {"role": "assistant", **delta}
        return self.frame(self._chunk([{"index": 0, "delta": delta, "logprobs": None,
                                        "finish_reason": None}]))

    def tail(self) -> list[bytes]:
        """The frames after the deltas: finish (+ usage) and [DONE], or the done line."""
        if self.shape == "ollama":
            return [self.frame({"model": self.model, "created_at": _now_iso(),
                                "message": {"role": "assistant", "content": ""},
                                "done": True, **self._ollama_usage()})]
        frames = [self.frame(self._chunk([{"index": 0, "delta": {}, "logprobs": None,
                                           "finish_reason": "stop"}]))]
        options = self.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            frames.append(self.frame(self._chunk([], usage=self._openai_usage())))
        return [*frames, self.done()]

    def done(self) -> bytes:
        return b"data: [DONE]\n\n" if self.shape == "openai" else b""

    def _chunk(self, choices: list[Any], **extra: Any) -> dict[str, Any]:
        return {"id": self.stream_id, "object": "chat.completion.chunk", "created": 0,
                "model": self.model, "system_fingerprint": None, "choices": choices, **extra}

    @property
    def stream_id(self) -> str:
        if self._stream_id is None:
            self._stream_id = f"chatcmpl-fault-{self.server.next_id()}"
        return self._stream_id

    def drip_body(self) -> Iterator[bytes]:
        """A valid-looking body that never ends: a prefix, then padding, a byte at a time."""
        if self.stream and self.shape == "openai":
            prefix = (b'data: {"id":"chatcmpl-fault-drip","object":"chat.completion.chunk",'
                      b'"created":0,"model":' + _dumps(self.model) +
                      b',"choices":[{"index":0,"delta":{"content":"')
        elif self.shape == "ollama" and self.path == "/api/chat":
            prefix = (b'{"model":' + _dumps(self.model) +
                      b',"message":{"role":"assistant","content":"')
        elif self.path == "/v1/chat/completions":
            prefix = (b'{"id":"chatcmpl-fault-drip","object":"chat.completion","created":0,'
                      b'"model":' + _dumps(self.model) + b',"choices":[{"index":0,'
                      b'"message":{"role":"assistant","content":"')
        else:
            prefix = b'{"padding":"'
        for i in range(len(prefix)):
            yield prefix[i:i + 1]
        while True:
            yield b"x"


# --------------------------------------------------------------------------------- server


class _Closing(Exception):
    """The handler stops: the server is closing or the client went away."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as engines do: each delta leaves at once
    server_version = "memscreen-fault-server"
    sys_version = ""
    fault_server: FaultServer  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection_number = self.fault_server._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.fault_server._closed(self.connection)

    def handle(self) -> None:
        try:
            if not self.fault_server._closing.is_set():
                super().handle()
        except (OSError, _Closing):
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # ------------------------------------------------------------------ reading
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        server = self.fault_server
        path, _, query = self.path.partition("?")
        body = self._read_body()
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        route = _Route(server, self.command, path, parsed)
        fault = server._fault_for(path) if route.known else _OK
        server._record(RecordedRequest(
            index=-1, connection=self.connection_number, time=time.monotonic(),
            method=self.command, path=path, query=query,
            headers={k.lower(): v for k, v in self.headers.items()}, body=body, json=parsed,
            fault=fault, stream=route.stream,
        ))
        if server._closing.is_set():
            raise _Closing
        self.route = route
        getattr(self, f"_fault_{fault.kind}")(fault)

    # ------------------------------------------------------------------ writing
    def _head(self, status: int, content_type: str, *, length: int | None = None,
              chunked: bool = False, close: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if close or (length is None and not chunked):
            self.send_header("Connection", "close")
            self.close_connection = True
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, data: bytes) -> None:
        if self.fault_server._closing.is_set():
            raise _Closing
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        if data:
            self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> None:
        self._send(b"0\r\n\r\n")

    def _plain(self, status: int, body: bytes, *, extra: dict[str, str] | None = None) -> None:
        self._head(status, self.route.content_type if status == 200 else "application/json",
                   length=len(body), extra=extra)
        if self.command != "HEAD":
            self._send(body)

    def _stream_head(self) -> None:
        self._head(200, self.route.content_type, chunked=True,
                   extra={"Cache-Control": "no-cache"})

    def _deltas(self, count: int, delay: float = 0.0) -> None:
        for i in range(count):
            if delay:
                self._wait(delay)
            self._chunk(self.route.delta(REPLY_DELTAS[i % len(REPLY_DELTAS)], first=i == 0))

    def _wait(self, seconds: float | None) -> None:
        """Hold for `seconds` (None: until close() or the client disconnects); raise
        _Closing at close() or when the client has gone away."""
        server = self.fault_server
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if server._closing.is_set():
                raise _Closing
            left = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            if left <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection], [], [], left)
                if readable and not self.connection.recv(65536):
                    raise _Closing  # the client closed its side
            except (OSError, ValueError) as exc:
                raise _Closing from exc

    # ------------------------------------------------------------------ the faults
    def _fault_ok(self, fault: Fault) -> None:
        route = self.route
        if not route.stream:
            if fault.delay:
                self._wait(fault.delay)
            self._plain(*route.answer())
            return
        self._stream_head()
        self._deltas(len(REPLY_DELTAS), fault.delay)
        for frame in route.tail():
            self._chunk(frame)
        self._end_chunks()

    def _fault_no_answer(self, fault: Fault) -> None:
        self.close_connection = True
        self._wait(None)

    def _fault_drip(self, fault: Fault) -> None:
        self._head(200, self.route.content_type, close=True)
        for byte in self.route.drip_body():
            self._send(byte)
            self._wait(fault.interval)

    def _half(self) -> tuple[bytes, bytes]:
        _, body = self.route.answer()
        return body, body[: len(body) // 2]

    def _fault_stall(self, fault: Fault) -> None:
        self.close_connection = True
        if self.route.stream:
            self._stream_head()
            self._deltas(fault.n_deltas)
        else:
            body, half = self._half()
            self._head(200, self.route.content_type, length=len(body))
            self._send(half)
        self._wait(None)

    def _fault_cut(self, fault: Fault) -> None:
        self.close_connection = True
        if self.route.stream:
            self._stream_head()
            self._deltas(fault.n_deltas)
        else:
            body, half = self._half()
            self._head(200, self.route.content_type, length=len(body))
            self._send(half)
        self._abort()

    def _abort(self) -> None:
        """Close the connection now: no more bytes, no terminating chunk."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _fault_truncated(self, fault: Fault) -> None:
        if self.route.stream:
            self._stream_head()
            self._deltas(fault.n_deltas)
            self._end_chunks()
        else:
            self._plain(200, self._half()[1])

    def _fault_malformed(self, fault: Fault) -> None:
        route = self.route
        if not route.stream:
            self._plain(200, _MALFORMED)
            return
        self._stream_head()
        self._deltas(fault.n_deltas)
        self._chunk(route.frame(_MALFORMED))
        self._chunk(route.done())
        self._end_chunks()

    def _fault_empty(self, fault: Fault) -> None:
        if not self.route.stream:
            self._plain(200, b"")
            return
        self._stream_head()
        self._end_chunks()

    def _fault_empty_object(self, fault: Fault) -> None:
        route = self.route
        if not route.stream:
            self._plain(200, b"{}")
            return
        self._stream_head()
        self._chunk(route.frame({}))
        self._chunk(route.done())
        self._end_chunks()

    def _fault_status(self, fault: Fault) -> None:
        status, body = self.route.error(fault.status)
        extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        self._plain(status, body, extra=extra)

    def _fault_huge(self, fault: Fault) -> None:
        route = self.route
        size = max(1, int(fault.mb * 1024 * 1024))
        if not route.stream:
            if route.path in ("/v1/chat/completions", "/api/chat"):
                status, body = route.answer(content="a" * size)
            else:
                status, body = route.answer(padding="a" * size)
            self._plain(status, body)
            return
        self._stream_head()
        sent, first = 0, True
        while sent < size:
            piece = min(_HUGE_DELTA, size - sent)
            self._chunk(route.delta("a" * piece, first=first))
            sent, first = sent + piece, False
        for frame in route.tail():
            self._chunk(frame)
        self._end_chunks()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: FaultServer, handler: type[_Handler]) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True,
                                  name=f"fault-server-{self.server_address[1]}-conn")
        self.owner._threads_add(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-answer is one of the things tested here


class FaultServer:
    """A loopback OpenAI/Ollama look-alike that answers with a chosen fault (module docstring).

    `fault`: the standing fault (a spec string or `Fault`); `script`: faults for the next
    targeted requests, in turn; `targets`: the paths that take faults (None: all);
    `model`: the model name listed (any name is answered); `context_length`,
    `capabilities`, `ollama_version`: what /api/show and /api/version say.
    """

    def __init__(self, fault: str | Fault = "ok", *, script: Iterable[str | Fault] = (),
                 targets: Collection[str] | None = INFERENCE_PATHS,
                 model: str = "fault-model", context_length: int = 8192,
                 capabilities: Iterable[str] = ("completion",),
                 ollama_version: str = "0.6.0") -> None:
        self.model = model
        self.context_length = context_length
        self.capabilities = tuple(capabilities)
        self.ollama_version = ollama_version
        self.targets = None if targets is None else frozenset(targets)
        self._fault = Fault.parse(fault)
        self._script: list[Fault] = [Fault.parse(f) for f in script]
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._connections_total = 0
        self._ids = 0
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ choosing faults
    @property
    def fault(self) -> Fault:
        """The standing fault (what a request takes when the script is used up)."""
        return self._fault

    def set_fault(self, fault: str | Fault) -> None:
        """Set the standing fault; a queued script still goes first."""
        parsed = Fault.parse(fault)
        with self._lock:
            self._fault = parsed

    def script(self, faults: Iterable[str | Fault]) -> None:
        """Replace the queue of faults for the next targeted requests, one each, in turn."""
        parsed = [Fault.parse(f) for f in faults]
        with self._lock:
            self._script = parsed

    @property
    def scripted(self) -> tuple[Fault, ...]:
        """The scripted faults not used yet."""
        with self._lock:
            return tuple(self._script)

    def _fault_for(self, path: str) -> Fault:
        if self.targets is not None and path not in self.targets:
            return _OK
        with self._lock:
            return self._script.pop(0) if self._script else self._fault

    # ------------------------------------------------------------------ urls
    @property
    def port(self) -> int:
        """The port it listens on (kept after close(): then nothing listens there)."""
        if self._port is None:
            raise RuntimeError("the fault server is not started")
        return self._port

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (the Ollama shape's base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ollama_url(self) -> str:
        return self.url

    @property
    def openai_url(self) -> str:
        """http://127.0.0.1:PORT/v1 (the OpenAI SDK's base_url)."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ recording
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def gaps(self, path: str | None = None) -> list[float]:
        """Seconds between consecutive requests (to `path`, if given): backoff, Retry-After."""
        times = [r.time for r in self.requests if path is None or r.path == path]
        return [b - a for a, b in itertools.pairwise(times)]

    def wait_for_requests(self, count: int, timeout: float = 5.0,
                          path: str | None = None) -> list[RecordedRequest]:
        """Wait until `count` requests (to `path`, if given) have arrived; TimeoutError if not."""
        def enough() -> bool:
            return sum(1 for r in self._requests if path is None or r.path == path) >= count
        with self._lock:
            if not self._lock.wait_for(enough, timeout):
                have = sum(1 for r in self._requests if path is None or r.path == path)
                raise TimeoutError(f"{have} of {count} requests arrived within {timeout} s")
        return [r for r in self.requests if path is None or r.path == path]

    def wait_until(self, predicate: Callable[[FaultServer], bool], timeout: float = 5.0) -> bool:
        """Poll `predicate(server)` until true (True) or `timeout` seconds pass (False); e.g.
        `server.wait_until(lambda s: s.open_connections == 0)`."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def open_connections(self) -> int:
        """Client connections open now (as the server sees them)."""
        with self._lock:
            return len(self._sockets)

    @property
    def connections_total(self) -> int:
        with self._lock:
            return self._connections_total

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(replace(request, index=len(self._requests)))
            self._lock.notify_all()

    def _opened(self, sock: socket.socket) -> int:
        with self._lock:
            self._sockets.add(sock)
            self._connections_total += 1
            return self._connections_total

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _threads_add(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FaultServer:
        if self._httpd is not None:
            return self
        handler = cast(type[_Handler], type("_BoundHandler", (_Handler,), {"fault_server": self}))
        self._closing.clear()
        self._httpd = _HTTPServer(self, handler)
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": _POLL}, daemon=True,
                                        name=f"fault-server-{self.port}")
        self._thread.start()
        return self

    def close(self, timeout: float = 1.0) -> None:
        """Stop serving and end every connection, hung handlers included; waits up to
        `timeout` seconds for the handler threads (daemons: never longer)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        deadline = time.monotonic() + timeout
        self._closing.set()
        httpd.shutdown()
        thread.join(max(0.0, deadline - time.monotonic()))
        httpd.server_close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
            self._threads = set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for worker in threads:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._httpd = self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "not started"
        return f"FaultServer({str(self._fault)!r}, {where})"
