"""The clock of one call: its total deadline, its stream limits, and the retry policy.

Pure: no HTTP library here. `Budget.active()` publishes the call's budget in a context
variable; the deadline transport (`_deadline_transport.py`) clamps every socket operation of the
call to what is left, so a server that never answers, drips bytes or stalls mid-stream
cannot keep a call alive past its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from .errors import RequestTimeoutError

T = TypeVar("T")
log = logging.getLogger("memscreen_llm.retry")

# Answers worth another attempt: the request may succeed as it is (RFC 9110's retryable
# statuses plus 429); any other status is the request's own fault.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubles per attempt, with jitter
BACKOFF_MOST = 8.0
# A socket timeout of 0 makes the socket non-blocking (an OSError, not a timeout): the
# smallest clamp is a short wait instead.
_SMALLEST_WAIT = 0.001

_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "memscreen_llm_budget", default=None)


@attrs.frozen
class Limits:
    """A call's limits, from its backend's config and the call's own `timeout=`."""

    timeout: float  # the whole call: connecting, retries, backoff, every byte
    first_token_timeout: float | None = None  # a stream's start to its first delta
    stream_idle_timeout: float | None = None  # the longest gap between two deltas
    max_retries: int = 2

    @classmethod
    def of(cls, config: Any, options: Mapping[str, Any] | None = None) -> Limits:
        """The limits `config` sets (fields a config lacks take the defaults), with a
        per-call `timeout` option over the config's."""
        timeout = (options or {}).get("timeout") or config.timeout
        return cls(
            timeout=float(timeout),
            first_token_timeout=getattr(config, "first_token_timeout", None),
            stream_idle_timeout=getattr(config, "stream_idle_timeout", None),
            max_retries=int(getattr(config, "max_retries", 2)),
        )


class Budget:
    """One call's clock. `where` names the server in errors ("vLLM at http://...")."""

    def __init__(self, limits: Limits, where: str, *, stream: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.where = where
        self.clock = clock
        self.started = clock()
        self.deadline = self.started + limits.timeout
        # A stream's next delta is due by this time (None: only the deadline counts).
        self.delta_due: float | None = None
        self.delta_limit = "first_token_timeout"
        if stream and limits.first_token_timeout is not None:
            self.delta_due = self.started + limits.first_token_timeout
        self.stream = stream
        self.binding = "timeout"  # the limit nearest when the last wait was clamped
        self.attempts = 1
        self.server_retry_after: float | None = None  # noted by note_retry_after()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        """Seconds until the nearest limit; sets `binding` to that limit's name."""
        now = self.clock()
        left, self.binding = self.deadline - now, "timeout"
        if self.delta_due is not None and self.delta_due - now < left:
            left, self.binding = self.delta_due - now, self.delta_limit
        return left

    def clamp(self, wait: float | None) -> float:
        """`wait` (a socket timeout; None = forever) cut to the nearest limit."""
        left = self.left()
        return max(_SMALLEST_WAIT, left if wait is None else min(wait, left))

    def delta_arrived(self) -> None:
        """A stream delivered a delta: the next one is due within `stream_idle_timeout`."""
        idle = self.limits.stream_idle_timeout
        self.delta_limit = "stream_idle_timeout"
        self.delta_due = None if idle is None else self.clock() + idle

    def timed_out(self, partial: Any = None) -> RequestTimeoutError:
        """The error for a wait that ran out: which limit, its value, the time spent;
        `partial`: what a stream delivered before."""
        limit = self.binding
        value = self.limits.timeout if limit == "timeout" else getattr(self.limits, limit)
        return RequestTimeoutError(self.where, limit=limit, seconds=float(value),
                                   elapsed=self.elapsed(), attempts=self.attempts,
                                   partial=partial)

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    @contextlib.contextmanager
    def active(self) -> Iterator[Budget]:
        """While inside, every socket wait of this thread/task is clamped to this budget."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    # --- retries ---

    def retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None: give up (no
        retries left, or the wait would not end before the deadline). `retry_after` is
        the server's Retry-After, honoured as it is."""
        if attempt >= self.limits.max_retries:
            return None
        if retry_after is not None:
            delay = max(0.0, retry_after)
        else:  # exponential backoff, "equal jitter": half fixed, half random
            step = min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** attempt)
            delay = step / 2 + random.uniform(0, step / 2)
        if delay >= self.deadline - self.clock():
            return None
        return delay


def is_timeout(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is a wait that ran out, in any HTTP library or
    SDK (httpx and httpx2 name theirs alike; the openai SDK wraps them)."""
    seen: BaseException | None = exc
    for _ in range(4):  # the SDK's error, the library's, the socket's: a short chain
        if seen is None:
            return False
        names = {cls.__name__ for cls in type(seen).__mro__}
        if names & {"TimeoutException", "APITimeoutError", "TimeoutError", "timeout"}:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after(headers: Any) -> float | None:
    """A Retry-After (or retry-after-ms) header in seconds; None if absent or unreadable."""
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return float(millis) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.strip().isdigit():
            return float(value)
        import email.utils  # an HTTP date: rare, so imported only here

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError, OverflowError):
        return None  # a header we cannot read: the usual backoff instead


def current() -> Budget | None:
    """The budget of the call running in this thread/task, if any."""
    return _CURRENT.get()


def note_retry_after(response: Any) -> None:
    """An httpx/httpx2 response event hook: a retryable answer's Retry-After, kept on the
    running call's budget (the SDKs' errors do not always carry the headers)."""
    budget = _CURRENT.get()
    if budget is not None and response.status_code in RETRY_STATUSES:
        budget.server_retry_after = retry_after(response.headers)


async def anote_retry_after(response: Any) -> None:
    """`note_retry_after` for async clients (their hooks are awaited)."""
    note_retry_after(response)


# A backend's verdict on a failed attempt: None = do not retry; RETRY = retry after the
# server's Retry-After (noted by the event hook) or else the usual backoff; a number =
# retry after that many seconds.
Verdict = float | None
RETRY = -1.0


def _delay(budget: Budget, attempt: int, exc: BaseException,
           classify: Callable[[BaseException], Verdict]) -> float | None:
    verdict = classify(exc)
    noted, budget.server_retry_after = budget.server_retry_after, None
    if verdict is None or budget.expired():
        return None
    delay = budget.retry_delay(attempt, noted if verdict == RETRY else verdict)
    if delay is not None:
        log.info("%s: attempt %d failed (%s: %s); retrying in %.2f s", budget.where,
                 attempt + 1, type(exc).__name__, exc, delay)
    return delay


def with_retries(budget: Budget, attempt: Callable[[], T],
                 classify: Callable[[BaseException], Verdict]) -> T:
    """`attempt()` under the budget, again after a retryable failure while time is left;
    the last failure propagates. `classify` is the backend's: which failures to retry."""
    for number in range(budget.limits.max_retries + 1):
        budget.attempts = number + 1
        try:
            with budget.active():
                return attempt()
        except Exception as exc:  # the backend's classify() decides; the rest re-raises
            delay = _delay(budget, number, exc, classify)
            if delay is None:
                raise
        time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def awith_retries(budget: Budget, attempt: Callable[[], Awaitable[T]],
                        classify: Callable[[BaseException], Verdict]) -> T:
    """`with_retries` for asyncio."""
    for number in range(budget.limits.max_retries + 1):
        budget.attempts = number + 1
        try:
            with budget.active():
                return await attempt()
        except Exception as exc:  # as in with_retries
            delay = _delay(budget, number, exc, classify)
            if delay is None:
                raise
        await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
