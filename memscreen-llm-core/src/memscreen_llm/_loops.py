"""One async client per event loop, each closed when its loop shuts down.

An async HTTP client belongs to the loop it first ran on, so a backend keeps one per loop.
A sync app calling `asyncio.run(llm.achat(...))` makes a new loop per call; a client left
behind by each would keep its sockets open. `asyncio.run()` (and any loop shut down the
documented way, `loop.shutdown_asyncgens()`) closes the async generators started on the
loop, so each client gets a small keeper generator whose `finally` closes it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

C = TypeVar("C")


class PerLoop(Generic[C]):
    """`await per_loop.get()`: this loop's client, made by `make` on first use; `close`
    (a coroutine function) releases one."""

    def __init__(self, make: Callable[[], C], close: Callable[[C], Awaitable[None]]) -> None:
        self._make = make
        self._close = close
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[C, AsyncIterator[None]]
        ] = weakref.WeakKeyDictionary()

    async def get(self) -> C:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            client = self._make()
            keeper = self._keeper(client)
            await keeper.__anext__()  # started: the loop now closes it at shutdown
            entry = self._clients[loop] = (client, keeper)
        return entry[0]

    async def _keeper(self, client: C) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self._close(client)

    def __len__(self) -> int:
        return len(self._clients)

    def close_all(self) -> None:
        """Close every client whose loop is still open (those of shut-down loops are
        closed already), from sync code."""
        entries = list(self._clients.items())
        self._clients.clear()
        for loop, (client, _keeper) in entries:
            if loop.is_closed():
                continue
            if loop.is_running():  # close() called from async code, or another thread
                asyncio.run_coroutine_threadsafe(_closing(self._close, client), loop)
            else:
                loop.run_until_complete(self._close(client))


async def _closing(close: Callable[[C], Awaitable[None]], client: C) -> None:
    await close(client)
