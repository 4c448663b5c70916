"""One async client per event loop, each closed when its loop shuts down.

An async HTTP client belongs to the loop it first ran on, so a backend keeps one per loop.
A sync app calling `asyncio.run(llm.achat(...))` makes a new loop per call; a client left
behind by each would keep its sockets open. `asyncio.run()` (and asyncio.Runner,
pytest-asyncio, anyio) finalize a loop's async generators before closing it, so each
client gets a parked keeper generator whose `finally` closes it then, while its loop
still runs. A loop closed without that (a bare `loop.close()`) leaves its client to the
next `get()` or `close_all()`, which hands it to `abandon` (e.g. shut its sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")


class PerLoop(Generic[C]):
    """`per_loop.get()` (inside a running loop): this loop's client, made by `make` on
    first use. `close` (a coroutine function) releases one on its loop; `abandon` (sync)
    what is left of one whose loop is gone."""

    def __init__(self, make: Callable[[], C], close: Callable[[C], Awaitable[None]],
                 abandon: Callable[[C], None] | None = None) -> None:
        """`abandon` defaults to `shut_sockets`."""
        self._make = make
        self._close = close
        self._abandon = abandon or shut_sockets
        self._clients: dict[asyncio.AbstractEventLoop, tuple[C, Any]] = {}
        self._lock = threading.Lock()

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        self._close_where(lambda other: other.is_closed())
        client = self._make()
        keeper = self._keep(loop, client)
        with contextlib.suppress(StopIteration):  # runs it to its `yield`: now the loop's
            keeper.asend(None).send(None)
        with self._lock:
            self._clients[loop] = (client, keeper)
        return client

    def __len__(self) -> int:
        return len(self._clients)

    async def _keep(self, loop: asyncio.AbstractEventLoop,
                    client: C) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                self._clients.pop(loop, None)
            if not loop.is_closed():  # the loop shuts down (or close_all() sent us here)
                await self._close(client)

    def close_all(self) -> None:
        """Close every client (from sync code): on its loop if it still runs or can."""
        self._close_where(lambda loop: True)

    def _close_where(self, which: Callable[[asyncio.AbstractEventLoop], bool]) -> None:
        with self._lock:
            entries = [(loop, *entry) for loop, entry in self._clients.items() if which(loop)]
        for loop, client, keeper in entries:
            if loop.is_running():  # in its own thread, or another one: close it there
                asyncio.run_coroutine_threadsafe(keeper.aclose(), loop)
                continue
            if not loop.is_closed():
                try:
                    loop.run_until_complete(keeper.aclose())
                    continue
                except RuntimeError:  # another loop runs in this thread
                    pass
            with contextlib.suppress(StopIteration, RuntimeError):  # ends without awaiting
                keeper.aclose().send(None)
            with self._lock:
                self._clients.pop(loop, None)
            self._abandon(client)


def shut_sockets(client: Any) -> None:
    """Close the sockets of an SDK's async client whose event loop is gone (its own close
    needs that loop). Best effort, through the SDK's httpx/httpx2 client and its pool's
    internals (the ollama and openai SDKs keep it as `_client`); else the garbage
    collector closes them later."""
    http = getattr(client, "_client", None)
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    for connection in list(getattr(pool, "_connections", None) or ()):
        stream = getattr(getattr(connection, "_connection", None), "_network_stream", None)
        stream = getattr(stream, "_inner", stream)  # inside the deadline transport's wrapper
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # a transport gone in any way: nothing to close
            continue
        sock = getattr(sock, "_sock", sock)  # asyncio wraps it in a TransportSocket
        if isinstance(sock, socket.socket):
            sock.close()
