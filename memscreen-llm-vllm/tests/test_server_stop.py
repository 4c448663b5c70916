"""A real vLLM server frozen with SIGSTOP: every call ends at its deadline, typed.

A stopped process still completes TCP handshakes (the kernel answers for it), so the
request goes out and no answer ever comes: the hung server an app meets when an engine
is stuck. The shared server is frozen for a few seconds per test and thawed after.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from conftest import MESSAGES, MODEL

from memscreen_llm import ChatResult, RequestTimeoutError, create_llm
from memscreen_llm.testing.faults import open_sockets
from memscreen_llm_vllm.testing import VllmServer

SLACK = 1.0  # the bound: no call outlives its deadline by more than this


@pytest.fixture
def frozen(server: VllmServer) -> Iterator[VllmServer]:
    """Freeze the shared server's process group; thaw it whatever the test did."""
    assert server.pid is not None
    yield server
    os.killpg(server.pid, signal.SIGCONT)


def _freeze(server: VllmServer) -> None:
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGSTOP)


def test_a_frozen_server_times_out_at_the_call_deadline(frozen: VllmServer) -> None:
    llm = create_llm("vllm", base_url=frozen.base_url, model=MODEL, timeout=3)
    llm.chat(MESSAGES, max_tokens=2)  # warm: the connection pool and the model list
    before = open_sockets()
    _freeze(frozen)
    for call in (lambda: llm.chat(MESSAGES), lambda: list(llm.stream(MESSAGES)),
                 lambda: asyncio.run(llm.achat(MESSAGES))):
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as err:
            call()
        spent = time.monotonic() - started
        assert 3 <= spent <= 3 + SLACK, spent
        assert err.value.limit == "timeout" and "timed out" in str(err.value)
    llm.close()
    assert open_sockets() <= before


def test_a_stream_frozen_mid_way_ends_at_its_idle_limit_with_the_partial_text(
        frozen: VllmServer) -> None:
    llm = create_llm("vllm", base_url=frozen.base_url, model=MODEL, temperature=0.0,
                     max_tokens=400, stream_idle_timeout=2, timeout=60)
    received: list[str] = []
    frozen_at = 0.0
    with pytest.raises(RequestTimeoutError) as err:
        for delta in llm.stream(MESSAGES, extra_body={"ignore_eos": True}):
            if delta.content:
                received.append(delta.content)
            if len(received) == 3 and not frozen_at:
                _freeze(frozen)
                frozen_at = time.monotonic()
    spent = time.monotonic() - frozen_at
    assert 2 <= spent <= 2 + SLACK, spent
    assert err.value.limit == "stream_idle_timeout"
    partial = err.value.partial
    assert isinstance(partial, ChatResult)
    assert (partial.content or "").startswith("".join(received))
    llm.close()
