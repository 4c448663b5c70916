"""`FaultContract`: a backend against a misbehaving server, as pytest tests.

Every fault of the loopback `FaultServer` (no answer, drip, stall, cut, malformed, empty,
5xx/429 with Retry-After, huge), through the four call styles (chat, stream, achat,
astream), the CLI and the embeddings: each call ends within its deadline (plus `SLACK`)
with a typed error, or succeeds after retries; partial streamed text is kept; no socket
is left behind; no secret reaches a log line.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from ..base import LLMBase
from ..errors import (
    BackendError,
    BackendOverloadedError,
    MemscreenLLMError,
    RequestTimeoutError,
    ResponseParseError,
    StreamInterruptedError,
)
from ..factory import create_llm
from ..types import ChatResult, join_deltas
from ._env import run_cli
from .faults import REPLY, REPLY_DELTAS, FaultServer, open_sockets

SLACK = 1.0  # how far past its deadline a call may end (the bound)
DEADLINE = 1.5  # the `timeout` the hung-server checks give
MESSAGES = [{"role": "user", "content": "hello?"}]
STYLES = ("chat", "stream", "achat", "astream")
SECRET = "fault-kit-s3cret"


def call(llm: LLMBase, style: str, **options: Any) -> ChatResult:
    """One call in `style`; a stream's deltas joined."""
    if style == "chat":
        return llm.chat(MESSAGES, **options)
    if style == "stream":
        return join_deltas(list(llm.stream(MESSAGES, **options)))
    if style == "achat":
        return asyncio.run(llm.achat(MESSAGES, **options))

    async def gather() -> ChatResult:
        return join_deltas([delta async for delta in llm.astream(MESSAGES, **options)])

    return asyncio.run(gather())


def timed(fn: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        fn()
    except BaseException as exc:  # the caller asserts what it was
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


class FaultContract:
    """Subclass it (name it Test...), set `backend` and `protocol` ("openai" for an
    OpenAI-compatible backend, "ollama" for Ollama's API); override `make_llm` if the
    backend needs more than `base_url` and `model`."""

    backend: ClassVar[str] = ""
    protocol: ClassVar[str] = "openai"
    model: ClassVar[str] = "fault-model"
    embeddings: ClassVar[bool] = True  # the backend declares EMBEDDINGS

    def make_llm(self, server: FaultServer, **fields: Any) -> LLMBase:
        url = server.openai_url if self.protocol == "openai" else server.ollama_url
        fields.setdefault("base_url", url)
        return create_llm(self.backend, model=self.model, **fields)

    @pytest.fixture
    def faults(self) -> Iterator[FaultServer]:
        with FaultServer() as server:
            yield server

    # --- a server that never answers, or drips: the deadline holds ---

    @pytest.mark.parametrize("style", STYLES)
    @pytest.mark.parametrize("fault", ["no_answer", "drip:interval=0.2"])
    def test_a_hung_server_ends_at_the_deadline(self, faults: FaultServer, fault: str,
                                                style: str) -> None:
        faults.set_fault(fault)
        llm = self.make_llm(faults, timeout=DEADLINE)
        error, spent = timed(lambda: call(llm, style))
        assert isinstance(error, RequestTimeoutError), repr(error)
        assert DEADLINE - 0.05 <= spent <= DEADLINE + SLACK, spent
        assert error.limit == "timeout" and "timed out" in str(error)
        assert f"timeout={DEADLINE:g} s" in str(error)
        llm.close()

    def test_a_per_call_timeout_overrides_the_config(self, faults: FaultServer) -> None:
        faults.set_fault("no_answer")
        llm = self.make_llm(faults, timeout=30)
        error, spent = timed(lambda: llm.chat(MESSAGES, timeout=1))
        assert isinstance(error, RequestTimeoutError) and spent <= 1 + SLACK
        llm.close()

    @pytest.mark.parametrize("style", ["stream", "astream"])
    def test_a_stream_that_never_starts_ends_at_first_token_timeout(
            self, faults: FaultServer, style: str) -> None:
        faults.set_fault("ok:delay=30")
        llm = self.make_llm(faults, timeout=60, first_token_timeout=1)
        error, spent = timed(lambda: call(llm, style))
        assert isinstance(error, RequestTimeoutError), repr(error)
        assert error.limit == "first_token_timeout" and spent <= 1 + SLACK
        llm.close()

    @pytest.mark.parametrize("style", ["stream", "astream"])
    def test_a_stalled_stream_ends_at_its_idle_limit_with_the_partial_text(
            self, faults: FaultServer, style: str) -> None:
        faults.set_fault("stall:deltas=2")
        llm = self.make_llm(faults, timeout=60, stream_idle_timeout=1)
        error, spent = timed(lambda: call(llm, style))
        assert isinstance(error, RequestTimeoutError), repr(error)
        assert error.limit == "stream_idle_timeout" and spent <= 1 + SLACK
        assert isinstance(error.partial, ChatResult)
        assert error.partial.content == "".join(REPLY_DELTAS[:2])
        llm.close()

    # --- broken answers: typed errors, partial text kept ---

    @pytest.mark.parametrize("style", ["stream", "astream"])
    def test_a_stream_cut_mid_way_keeps_the_partial_text(self, faults: FaultServer,
                                                         style: str) -> None:
        faults.set_fault("cut:deltas=2")
        llm = self.make_llm(faults, max_retries=0)
        error, _ = timed(lambda: call(llm, style))
        assert isinstance(error, StreamInterruptedError), repr(error)
        assert isinstance(error.partial, ChatResult)
        assert error.partial.content == "".join(REPLY_DELTAS[:2])
        llm.close()

    @pytest.mark.parametrize("style", STYLES)
    @pytest.mark.parametrize("fault", ["malformed", "empty", "empty_object"])
    def test_a_broken_body_is_a_typed_error(self, faults: FaultServer, fault: str,
                                            style: str) -> None:
        faults.set_fault(fault)
        llm = self.make_llm(faults, timeout=10)
        error, spent = timed(lambda: call(llm, style))
        assert isinstance(error, (ResponseParseError, StreamInterruptedError)), repr(error)
        assert spent < 10
        llm.close()

    @pytest.mark.parametrize("style", ["chat", "stream"])
    def test_a_huge_answer_ends_within_the_deadline(self, faults: FaultServer,
                                                    style: str) -> None:
        faults.set_fault("huge:mb=4")
        llm = self.make_llm(faults, timeout=20)
        error, spent = timed(lambda: call(llm, style))
        assert error is None or isinstance(error, MemscreenLLMError), repr(error)
        assert spent <= 20 + SLACK
        llm.close()

    # --- retries: one policy, counted, within the deadline ---

    @pytest.mark.parametrize("style", STYLES)
    def test_5xx_is_retried_then_succeeds(self, faults: FaultServer, style: str) -> None:
        faults.script(["status:503", "status:502", "ok"])
        llm = self.make_llm(faults, max_retries=2)
        assert call(llm, style).content == REPLY
        assert len(faults.requests_to(self._chat_path())) == 3
        llm.close()

    def test_retry_after_is_waited_out(self, faults: FaultServer) -> None:
        faults.script(["status:429:retry-after=1", "ok"])
        llm = self.make_llm(faults, max_retries=1)
        assert llm.chat(MESSAGES).content == REPLY
        (gap,) = faults.gaps(self._chat_path())
        assert 1.0 <= gap <= 1.0 + SLACK

    def test_a_retry_after_past_the_deadline_fails_at_once(self, faults: FaultServer) -> None:
        faults.set_fault("status:429:retry-after=30")
        llm = self.make_llm(faults, timeout=5, max_retries=3)
        error, spent = timed(lambda: llm.chat(MESSAGES))
        # Overloaded, typed as such: a fallback chain moves on for it (docs/SCALING.md).
        assert isinstance(error, BackendOverloadedError) and error.status == 429, repr(error)
        assert spent < 1 and len(faults.requests_to(self._chat_path())) == 1

    def test_retries_stop_at_max_retries(self, faults: FaultServer) -> None:
        faults.set_fault("status:503")
        llm = self.make_llm(faults, max_retries=1)
        error, _ = timed(lambda: llm.chat(MESSAGES))
        assert isinstance(error, BackendOverloadedError) and error.status == 503, repr(error)
        assert len(faults.requests_to(self._chat_path())) == 2  # never the SDK's on top

    def test_a_request_the_server_refuses_is_not_retried(self, faults: FaultServer) -> None:
        faults.set_fault("status:400")
        llm = self.make_llm(faults, max_retries=3)
        error, _ = timed(lambda: llm.chat(MESSAGES))
        assert isinstance(error, BackendError), repr(error)
        assert len(faults.requests_to(self._chat_path())) == 1

    @pytest.mark.parametrize("style", ["stream", "astream"])
    def test_a_stream_broken_before_its_first_delta_is_retried(self, faults: FaultServer,
                                                               style: str) -> None:
        faults.script(["cut:deltas=0", "ok"])
        llm = self.make_llm(faults, max_retries=1)
        assert call(llm, style).content == REPLY
        assert len(faults.requests_to(self._chat_path())) == 2

    def test_retries_stay_inside_the_deadline(self, faults: FaultServer) -> None:
        faults.set_fault("status:503:retry-after=1")
        llm = self.make_llm(faults, timeout=2.5, max_retries=10)
        error, spent = timed(lambda: llm.chat(MESSAGES))
        assert isinstance(error, BackendError), repr(error)
        assert spent <= 2.5 + SLACK and len(faults.requests_to(self._chat_path())) <= 3

    # --- embeddings, the CLI ---

    def test_embeddings_obey_the_deadline_and_retry(self, faults: FaultServer) -> None:
        if not self.embeddings:
            pytest.skip(f"{self.backend} declares no embeddings")
        faults.set_fault("no_answer")
        llm = self.make_llm(faults, timeout=DEADLINE)
        error, spent = timed(lambda: llm.embed(["a"]))
        assert isinstance(error, RequestTimeoutError) and spent <= DEADLINE + SLACK
        faults.script(["status:503", "ok"])
        faults.set_fault("ok")
        assert len(llm.embed(["a", "b"])) == 2
        llm.close()

    def test_the_cli_ends_at_the_deadline_with_one_line(self, faults: FaultServer) -> None:
        faults.set_fault("no_answer")
        url = faults.openai_url if self.protocol == "openai" else faults.ollama_url
        started = time.monotonic()
        done = run_cli("chat", "-b", self.backend, "hello?", "--set", f"base_url={url}",
                       "--set", f"model={self.model}", "--set", "timeout=1.5", timeout=60)
        spent = time.monotonic() - started
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: ") and "timed out" in done.stderr
        assert "Traceback" not in done.stderr
        assert spent < 1.5 + SLACK + 5  # + the interpreter's start and discovery

    # --- leaks, secrets ---

    def test_no_sockets_are_left_behind(self, faults: FaultServer) -> None:
        llm = self.make_llm(faults)
        llm.chat(MESSAGES)  # the pool's connection, made before counting
        faults.wait_until(lambda s: s.open_connections == 1)
        before = open_sockets()
        for _ in range(10):  # a sync app: one asyncio.run() per call
            call(llm, "achat")
            call(llm, "astream")
        faults.wait_until(lambda s: s.open_connections <= 1)
        assert open_sockets() - before <= 2, "sockets left per closed event loop"
        llm.close()
        faults.wait_until(lambda s: s.open_connections == 0)
        assert open_sockets() <= before - 2  # ours and the server's side of the pool's

    def test_no_secret_reaches_logs_errors_or_reprs(self, faults: FaultServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
        url = faults.openai_url if self.protocol == "openai" else faults.ollama_url
        secret_url = url.replace("http://", f"http://user:{SECRET}-url@")
        caplog.set_level(logging.DEBUG)
        llm = self.make_llm(faults, base_url=secret_url, api_key=SECRET, max_retries=1)
        shown = [repr(llm), repr(llm.config), str(llm.config.public_dict())]
        llm.chat(MESSAGES)
        list(llm.stream(MESSAGES))
        faults.set_fault("status:503")
        for style in STYLES:
            error, _ = timed(functools.partial(call, llm, style))
            shown.append(f"{error!r} {error}")
        faults.set_fault("no_answer")
        error, _ = timed(lambda: llm.chat(MESSAGES, timeout=0.5))
        shown.append(f"{error!r} {error}")
        shown.append(str(llm.health()))
        llm.close()
        shown.extend(record.getMessage() for record in caplog.records)
        assert len(caplog.records) > 0  # the HTTP libraries did log the requests
        leaks = [text for text in shown if SECRET in text]
        assert not leaks, leaks[:3]

    def _chat_path(self) -> str:
        return "/v1/chat/completions" if self.protocol == "openai" else "/api/chat"
