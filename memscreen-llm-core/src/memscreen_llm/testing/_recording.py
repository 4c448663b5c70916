"""A recording proxy (stdlib, 127.0.0.1) in front of a real engine: what reached the wire."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    body: Any  # parsed JSON, or None
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards every request to `upstream` and records
    its method, path and JSON body. Responses are relayed whole (streams arrive at once,
    which clients read the same). `stall=True`: accept, read, never answer (timeouts)."""

    def __init__(self, upstream: str = "", *, stall: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        self.stall = stall
        self.requests: list[Recorded] = []
        self._release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                proxy.requests.append(Recorded(self.command, self.path, body, {
                    name.lower(): value for name, value in self.headers.items()}))
                if proxy.stall:
                    proxy._release.wait(60)
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection",
                                                "accept-encoding")}
                request = urllib.request.Request(proxy.upstream + self.path,
                                                 data=raw if raw else None, headers=headers,
                                                 method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=600) as answer:
                        status, data, answer_headers = answer.status, answer.read(), \
                            answer.headers
                except urllib.error.HTTPError as exc:
                    status, data, answer_headers = exc.code, exc.read(), exc.headers
                self.send_response(status)
                for name, value in answer_headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding",
                                            "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, path_end: str) -> list[Any]:
        """JSON bodies of the requests whose path ends with `path_end`, oldest first."""
        return [r.body for r in self.requests if r.path.split("?")[0].endswith(path_end)]

    def last(self, path_end: str) -> Any:
        bodies = self.bodies(path_end)
        if not bodies:
            raise AssertionError(f"no request to *{path_end}; got "
                                 f"{[(r.method, r.path) for r in self.requests]}")
        return bodies[-1]

    def clear(self) -> None:
        self.requests.clear()


def closed_port_url() -> str:
    """An http://127.0.0.1:PORT URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
