"""No sockets left behind: close() closes every client, and a client whose event loop
has gone is closed with it (the real engine; sockets counted in /proc/self/fd)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from pathlib import Path

import pytest

from memscreen_llm import create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm_ollama.testing import OllamaServer

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
MESSAGES = [{"role": "user", "content": "Say hi."}]


def sockets() -> int:
    """This process's open TCP sockets: its fds whose socket inode /proc/net/tcp* lists
    (an event loop's own wake-up socketpair is not one)."""
    tcp = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            tcp |= {line.split()[9] for line in list(lines)[1:]}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        count += target.startswith("socket:[") and target[8:-1] in tcp
    return count


def _llm(server: OllamaServer) -> LLMBase:
    return create_llm("ollama", base_url=server.base_url, model="tiny", max_tokens=4)


def test_asyncio_run_per_call_leaves_no_sockets(server: OllamaServer) -> None:
    gc.collect()
    before = sockets()
    llm = _llm(server)
    llm.chat(MESSAGES)  # the sync client: one keep-alive socket

    async def collect() -> int:
        return len([delta async for delta in llm.astream(MESSAGES)])

    for _ in range(30):
        assert asyncio.run(llm.achat(MESSAGES)).content is not None
    assert sockets() <= before + 2, "achat per asyncio.run leaks its client's socket"
    for _ in range(30):
        assert asyncio.run(collect()) > 0
    assert sockets() <= before + 2, "astream per asyncio.run leaks its client's socket"
    llm.close()
    assert sockets() <= before


def test_a_loop_closed_without_shutdown_is_cleaned_up_when_next_seen(
        server: OllamaServer) -> None:
    gc.collect()
    before = sockets()
    llm = _llm(server)
    for _ in range(10):  # loop.close() alone: no asyncio.run() to finalize anything
        loop = asyncio.new_event_loop()
        loop.run_until_complete(llm.achat(MESSAGES))
        loop.close()
    assert sockets() <= before + 1  # only the last loop's client is still open
    llm.close()
    assert sockets() <= before


def test_close_closes_the_clients_of_live_loops(server: OllamaServer) -> None:
    gc.collect()
    before = sockets()
    llm = _llm(server)
    loops = [asyncio.new_event_loop() for _ in range(3)]
    for loop in loops:  # kept open, as an app reusing its own loops does
        loop.run_until_complete(llm.achat(MESSAGES))
    assert sockets() >= before + 3  # one keep-alive connection each
    llm.close()
    assert sockets() <= before
    for loop in loops:
        assert not loop.is_closed()  # the backend's close() leaves the app's loops alone
        loop.run_until_complete(llm.achat(MESSAGES))  # and they still work: a new client
        loop.close()
    llm.close()
    assert sockets() <= before
