"""Running plugins' code at discovery so that nothing it does reaches the host.

The plugins' imports and hooks run one after the other in a daemon thread while the
caller waits, at most `timeout` seconds for each plugin:

- Whatever a plugin's code raises, `BaseException`s included (`SystemExit`, a
  `KeyboardInterrupt` it raises itself), ends in that thread and is handed back as the
  plugin's failure.
- The user's Ctrl-C still interrupts: CPython raises SIGINT's `KeyboardInterrupt` in the
  main thread only, and that thread is waiting here, not running plugin code; nothing
  catches it. No signal handler is installed to tell the two apart, so none can swallow a
  real SIGINT. (A plugin calling `_thread.interrupt_main()` looks like the user's Ctrl-C.)
- Python cannot stop an import. A plugin that outlives the bound is abandoned with its
  thread (it may finish later; its result is dropped) and the rest go on in a new one. A
  daemon thread never holds up the process's exit.
- Text written to `sys.stdout` from the plugins' thread is kept, per plugin, and handed
  back; the host's own output passes through untouched. Writes to file descriptor 1 or
  to `sys.__stdout__` are not caught.

One thread for all plugins, not one each: starting a thread and waking the caller cost
a scheduler round trip each, and every command runs discovery. It is a `threading`
daemon thread, not a bare `_thread` one: were `threading` first imported in a bare
thread (by a plugin), that thread would pass for the main one and the process's exit
would wait for it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_KEEP = 300  # characters of a plugin's stdout kept for its report

Work = Callable[["Run"], Any]


class Run:
    """How running one plugin's code went; `step` names what it was doing last.

    A plain class: a dataclass costs a noticeable part of a millisecond to define, and
    every command pays for discovery's imports.
    """

    def __init__(self) -> None:
        self.step = "import"
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.stdout = ""
        self.replaced_stdout = False


def run_isolated(works: Sequence[Work], *, timeout: float) -> list[Run]:
    """Each `work(run)` in turn in a daemon thread, its stdout captured, and how it went.

    A work may set `run.step` as it goes, so that a timeout or an exception names it. A
    run that is not `done` was abandoned after `timeout` seconds, still running.
    """
    runs = [Run() for _ in works]
    first = 0
    while first < len(works):
        worker = _Worker(works, runs, first)
        try:
            first = worker.wait(timeout)
        finally:  # also on the user's Ctrl-C: the thread starts no further plugin
            worker.abandoned = True
    return runs


class _Worker:
    """A daemon thread running works[first:], one at a time, until done or abandoned."""

    def __init__(self, works: Sequence[Work], runs: list[Run], first: int) -> None:
        self.works, self.runs = works, runs
        self.progress = (first, time.monotonic())  # (the work running, when it started)
        self.abandoned = False
        # Held while progress or abandoned change: a work is never begun once its
        # predecessor has been given up on (the next worker begins it instead).
        self.guard = threading.Lock()
        self.finished = threading.Lock()
        self.finished.acquire()  # released by the thread when every work has run
        threading.Thread(target=self._main, name="memscreen-llm plugins", daemon=True).start()

    def wait(self, timeout: float) -> int:
        """Where the next worker starts: past the end, or past the work that timed out."""
        while True:
            with self.guard:
                index, started = self.progress
                left = started + timeout - time.monotonic()
                if left <= 0:
                    self.abandoned = True
                    return index + 1
            if self.finished.acquire(timeout=min(left, threading.TIMEOUT_MAX)):
                return len(self.works)

    def _main(self) -> None:
        try:
            for index in range(self.progress[0], len(self.works)):
                with self.guard:
                    if self.abandoned:
                        return
                    self.progress = (index, time.monotonic())
                _run_one(self.works[index], self.runs[index], self)
        finally:
            self.finished.release()


def _run_one(work: Work, run: Run, worker: _Worker) -> None:
    before = sys.stdout
    ident = threading.get_ident()
    _ROUTER.start(ident)
    try:
        run.value = work(run)
    except BaseException as exc:  # anything plugin code raises is its own failure
        run.error = exc
    finally:
        run.stdout = _ROUTER.stop(ident)
    if not worker.abandoned and sys.stdout is not before:
        # The plugin replaced sys.stdout (or wrapped the router): put the host's back.
        sys.stdout = before
        run.replaced_stdout = True
    run.done = True


class _Capture:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = _KEEP - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))

    def text(self) -> str:
        kept = "".join(self.parts)
        return kept + (f"... ({self.dropped} more characters)" if self.dropped else "")


class _StdoutRouter:
    """`sys.stdout` while plugin threads run: their writes are kept, per thread; every
    other thread's go on to the stream it stands in for."""

    def __init__(self) -> None:
        self.target: Any = None
        self._captures: dict[int, _Capture] = {}
        self._lock = threading.Lock()

    def start(self, ident: int) -> None:
        with self._lock:
            if sys.stdout is not self:
                self.target = sys.stdout
                sys.stdout = self  # quacks like the stream it stands in for
            self._captures[ident] = _Capture()

    def stop(self, ident: int) -> str:
        """The thread's captured text; the router steps aside once no plugin runs."""
        with self._lock:
            capture = self._captures.pop(ident)
            if not self._captures and sys.stdout is self:
                sys.stdout = self.target
        return capture.text()

    def write(self, text: str) -> int:
        capture = self._captures.get(threading.get_ident())
        if capture is not None:
            capture.add(str(text))
            return len(text)
        if self.target is None:  # there was no stdout (pythonw): like print() then
            return len(text)
        written: int = self.target.write(text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in self._captures and self.target is not None:
            self.target.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer, ...
        return getattr(self.target, name)


_ROUTER = _StdoutRouter()
