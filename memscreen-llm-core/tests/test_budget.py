"""Core's call clock, retry policy and per-loop clients (memscreen_llm.transport), alone.

The fault suite (tests of each backend, against the loopback fault server and the real
engines) proves them on the wire; these pin the policy itself.
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from memscreen_llm import RequestTimeoutError
from memscreen_llm.transport import (
    RETRY,
    Budget,
    Limits,
    PerLoop,
    awith_retries,
    is_timeout,
    retry_after,
    with_retries,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_nearest_limit_binds_and_names_itself() -> None:
    clock = Clock()
    limits = Limits(timeout=10, first_token_timeout=4, stream_idle_timeout=2)
    budget = Budget(limits, "X at http://h", stream=True, clock=clock)
    assert budget.clamp(None) == pytest.approx(4) and budget.binding == "first_token_timeout"
    clock.now += 3
    budget.delta_arrived()
    assert budget.clamp(30) == pytest.approx(2) and budget.binding == "stream_idle_timeout"
    assert budget.clamp(0.5) == pytest.approx(0.5)
    clock.now += 6  # 9 s in: the call's own 10 s is now nearer than the idle limit
    budget.delta_arrived()
    assert budget.clamp(None) == pytest.approx(1) and budget.binding == "timeout"
    clock.now += 5
    assert budget.clamp(None) == pytest.approx(0.001)  # never 0: that means non-blocking


def test_a_plain_call_has_only_the_total_deadline() -> None:
    budget = Budget(Limits(timeout=5, first_token_timeout=1, stream_idle_timeout=1), "X",
                    clock=Clock())
    assert budget.clamp(None) == pytest.approx(5) and budget.binding == "timeout"


def test_the_timeout_error_says_which_limit_its_value_and_the_time_spent() -> None:
    clock = Clock()
    budget = Budget(Limits(timeout=10, first_token_timeout=4), "vLLM at http://h:8000/v1",
                    stream=True, clock=clock)
    clock.now += 4.2
    budget.clamp(None)
    budget.attempts = 2
    error = budget.timed_out(partial="so far")
    assert isinstance(error, RequestTimeoutError)
    text = str(error)
    assert "vLLM at http://h:8000/v1 timed out" in text
    assert "first_token_timeout=4 s" in text and "after 4.2 s" in text and "2 attempts" in text
    assert (error.limit, error.seconds, error.partial) == ("first_token_timeout", 4.0, "so far")


def test_backoff_grows_with_jitter_and_stops_at_max_retries() -> None:
    budget = Budget(Limits(timeout=100, max_retries=3), "X")
    for attempt, step in enumerate((0.5, 1.0, 2.0)):
        delays = {budget.retry_delay(attempt, None) for _ in range(50)}
        assert all(d is not None and step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jitter
    assert budget.retry_delay(3, None) is None


def test_retry_after_is_honoured_but_never_past_the_deadline() -> None:
    clock = Clock()
    budget = Budget(Limits(timeout=5, max_retries=2), "X", clock=clock)
    assert budget.retry_delay(0, 3.0) == 3.0
    assert budget.retry_delay(0, 7.0) is None  # the wait would outlive the call
    clock.now += 4
    assert budget.retry_delay(0, 3.0) is None


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": soon}) or 0) <= 31
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_with_retries_retries_what_classify_allows_and_counts_attempts() -> None:
    budget = Budget(Limits(timeout=10, max_retries=2), "X")
    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "ok"

    assert with_retries(budget, flaky, lambda exc: 0.05) == "ok"
    assert len(calls) == 3 and budget.attempts == 3
    assert calls[1] - calls[0] >= 0.05  # the server's Retry-After, honoured

    def broken() -> str:
        calls.append(0.0)
        raise ValueError("bad request")

    calls.clear()
    with pytest.raises(ValueError):
        with_retries(Budget(Limits(timeout=10), "X"), broken, lambda exc: None)
    assert len(calls) == 1  # classify said never


def test_with_retries_gives_up_when_the_retries_run_out() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        with_retries(Budget(Limits(timeout=10, max_retries=1), "X"), down, lambda exc: RETRY)
    assert len(calls) == 2


def test_async_retries_and_the_budget_is_visible_inside_the_attempt() -> None:
    from memscreen_llm.transport import current

    budget = Budget(Limits(timeout=10, max_retries=1), "X")
    seen: list[object] = []

    async def attempt() -> str:
        seen.append(current())
        if len(seen) == 1:
            raise ConnectionError("refused")
        return "ok"

    assert asyncio.run(awith_retries(budget, attempt, lambda exc: 0.01)) == "ok"
    assert seen == [budget, budget] and current() is None


def test_is_timeout_sees_through_wrapping() -> None:
    class ReadTimeout(Exception):  # named like httpx's, which subclass TimeoutException
        pass

    class TimeoutException(Exception):
        pass

    class APIConnectionError(Exception):
        pass

    class HttpxReadTimeout(TimeoutException):
        pass

    try:
        try:
            raise HttpxReadTimeout("read")
        except HttpxReadTimeout as inner:
            raise APIConnectionError("wrapped") from inner
    except APIConnectionError as outer:
        assert is_timeout(outer)
    assert is_timeout(TimeoutError())
    assert not is_timeout(ConnectionError("refused"))
    assert not is_timeout(ReadTimeout())  # only the name of a real timeout base counts


class FakeClient:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_one_client_per_loop_each_closed_when_its_loop_shuts_down() -> None:
    made: list[FakeClient] = []

    def make() -> FakeClient:
        made.append(FakeClient())
        return made[-1]

    clients: PerLoop[FakeClient] = PerLoop(make, lambda client: client.close())

    async def use() -> FakeClient:
        first = clients.get()
        assert clients.get() is first  # one per loop
        return first

    for _ in range(5):  # a sync app: asyncio.run() per call
        asyncio.run(use())
    assert len(made) == 5 and all(client.closed for client in made)


def test_close_all_closes_the_clients_of_open_loops() -> None:
    clients: PerLoop[FakeClient] = PerLoop(FakeClient, lambda client: client.close())
    async def get() -> FakeClient:
        return clients.get()

    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(get())
        assert not client.closed
        clients.close_all()
        assert client.closed and len(clients) == 0
    finally:
        loop.close()
