"""HTTP transports that keep every socket wait of a call inside the call's `Budget`.

httpx's timeouts bound each read, not a call: a server dripping one byte per second keeps
a read timeout of 3 s from ever firing. These transports hand the connection pool a
network backend whose connect, read and write waits are clamped to what is left of the
running call's budget (`_budget.current()`), so the call ends at its deadline however the
server behaves. Outside a budget they change nothing.

They serve httpx (the ollama SDK's) and httpx2 (the openai SDK's since 3.x) alike: both
build on httpcore (httpcore2) with the same network-backend interface, so the wrappers are
duck-typed and neither library is imported here. The pool builds its backend itself; the
only way in is a private attribute of the pool, so `_wrap_pool` checks it is there and
fails loudly, at client creation, if a future release renames it.
"""

from __future__ import annotations

import ssl
from types import ModuleType
from typing import Any

from . import _budget


def _wait(timeout: float | None) -> float | None:
    budget = _budget.current()
    return timeout if budget is None else budget.clamp(timeout)


class _Stream:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, _wait(timeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _wait(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> _Stream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _wait(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> _Stream:
        return _Stream(self._inner.connect_tcp(host, port, _wait(timeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> _Stream:
        return _Stream(self._inner.connect_unix_socket(path, _wait(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = await self._inner.read(max_bytes, _wait(timeout))
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _wait(timeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> _AsyncStream:
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname,
                                                        _wait(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> _AsyncStream:
        return _AsyncStream(await self._inner.connect_tcp(host, port, _wait(timeout),
                                                          local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> _AsyncStream:
        return _AsyncStream(await self._inner.connect_unix_socket(path, _wait(timeout),
                                                                  socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _wrap_pool(transport: Any, wrapper: type) -> None:
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is None:
        raise RuntimeError(
            f"memscreen-llm cannot bound call deadlines with {type(transport).__module__}: "
            "its connection pool has no network backend (a renamed private attribute?); "
            "install the versions memscreen-llm was tested with")
    pool._network_backend = wrapper(inner)  # type: ignore[union-attr]


def deadline_transport(http: ModuleType, **options: Any) -> Any:
    """`http.HTTPTransport(**options)` (`http`: the httpx or httpx2 module) whose socket
    waits obey the running call's budget."""
    transport = http.HTTPTransport(**options)
    _wrap_pool(transport, _Backend)
    return transport


def async_deadline_transport(http: ModuleType, **options: Any) -> Any:
    """`deadline_transport` for the library's `AsyncClient`."""
    transport = http.AsyncHTTPTransport(**options)
    _wrap_pool(transport, _AsyncBackend)
    return transport
