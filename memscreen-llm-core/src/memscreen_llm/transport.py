"""What a backend needs to move a call's bytes safely: deadlines, retries, and async
clients per event loop. One policy for every backend.

    budget = Budget(Limits.of(config, request.options), "My engine at http://...")
    answer = with_retries(budget, lambda: client.chat(...), classify)

- `Limits`: `timeout` (the whole call, retries and backoff included),
  `first_token_timeout` and `stream_idle_timeout` (streams), `max_retries`.
- `Budget`: one call's clock; `timed_out()` is the `RequestTimeoutError` naming the limit
  that fired. `with_retries` / `awith_retries` retry what `classify(exc)` allows (None:
  never; `RETRY`: after exponential backoff with jitter; a number: the server's
  Retry-After), only while the deadline leaves time for the wait.
- `deadline_transport(httpx)` / `async_deadline_transport(httpx)`: transports for an
  httpx (or httpx2) client that clamp every socket wait to the running budget, so a hung or
  dripping server cannot outlive the deadline. Set the SDK's own retries to 0, and
  add `note_retry_after` (`anote_retry_after`) as a response event hook so a server's
  Retry-After is honoured.
- `PerLoop`: one async client per event loop, closed when its loop shuts down (a sync
  app's `asyncio.run()` per call leaves no sockets behind); `close_all()` in `close()`.

docs/TIMEOUTS.md says what each limit means to a caller.
"""

from ._budget import (
    RETRY,
    RETRY_STATUSES,
    Budget,
    Limits,
    Verdict,
    anote_retry_after,
    awith_retries,
    current,
    is_timeout,
    note_retry_after,
    retry_after,
    with_retries,
)
from ._deadline_transport import async_deadline_transport, deadline_transport
from ._loops import PerLoop

__all__ = [
    "RETRY",
    "RETRY_STATUSES",
    "Budget",
    "Limits",
    "PerLoop",
    "Verdict",
    "anote_retry_after",
    "async_deadline_transport",
    "awith_retries",
    "current",
    "deadline_transport",
    "is_timeout",
    "note_retry_after",
    "retry_after",
    "with_retries",
]
