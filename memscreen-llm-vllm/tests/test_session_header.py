"""`session_id` on the wire (the X-Session-ID header a router reads), its checks, and the
typed error for a server or router refusing for load, against the kit's loopback fault
server (it records every request). The router itself: test_router.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from memscreen_llm import BackendOverloadedError, ConfigError, UsageError, create_llm
from memscreen_llm.testing import FaultServer

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def _sessions(server: FaultServer) -> list[str | None]:
    return [r.headers.get("x-session-id") for r in server.requests_to("/v1/chat/completions")]


def test_the_session_goes_as_the_x_session_id_header(faults: FaultServer) -> None:
    llm = create_llm("vllm", base_url=faults.openai_url, model="fault-model",
                     session_id="chat-42")
    llm.chat(MESSAGES)
    list(llm.stream(MESSAGES))
    asyncio.run(llm.achat(MESSAGES, session_id="per-call"))
    llm.chat(MESSAGES, session_id=None)  # None: the config's
    plain = create_llm("vllm", base_url=faults.openai_url, model="fault-model")
    plain.chat(MESSAGES)
    assert _sessions(faults) == ["chat-42", "chat-42", "per-call", "chat-42", None]
    # The body stays OpenAI's: no session field a strict server would refuse.
    assert all("session_id" not in (r.json or {}) for r in faults.requests)
    llm.close()
    plain.close()


def test_the_session_from_env(faults: FaultServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCREEN_VLLM_SESSION_ID", "from-env")
    with create_llm("vllm", base_url=faults.openai_url, model="fault-model") as llm:
        llm.chat(MESSAGES)
    assert _sessions(faults) == ["from-env"]


@pytest.mark.parametrize("bad", ["", "   ", "two\nlines", "caf\u00e9", "x" * 257])
def test_a_session_id_that_cannot_be_a_header_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_llm("vllm", session_id=bad)
    assert "session_id" in str(err.value) and "fix:" in str(err.value)
    llm = create_llm("vllm", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(UsageError, match="session_id"):
        llm.chat(MESSAGES, session_id=bad)  # refused before anything is sent


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_after_the_retries_are_backend_overloaded(faults: FaultServer,
                                                              status: int) -> None:
    faults.set_fault(f"status:{status}:retry-after=0")
    llm = create_llm("vllm", base_url=faults.openai_url, model="fault-model", max_retries=1)
    for call in (lambda: llm.chat(MESSAGES), lambda: list(llm.stream(MESSAGES))):
        with pytest.raises(BackendOverloadedError) as err:
            call()
        assert err.value.status == status and err.value.retry_after == 0
        assert f"HTTP {status}" in str(err.value) and "fallbacks" in str(err.value)
    assert len(faults.requests_to("/v1/chat/completions")) == 4  # each call: 1 + 1 retry
    llm.close()
