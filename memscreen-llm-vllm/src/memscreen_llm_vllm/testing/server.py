"""The vLLM OpenAI-compatible server as a subprocess: start, wait for /health, stop its group.

Stopping waits for the engine-core children too (so vLLM frees its shared memory); a
SIGKILLed server's orphaned shared memory is swept.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar

from memscreen_llm.testing import free_port

from .provisioning import Engine, _tail

DEFAULT_SERVER_ARGS = (
    "--dtype", "float32",
    "--max-model-len", "1024",
    "--max-num-seqs", "8",
    "--enforce-eager",
)  # fmt: skip

# Flags that make the tiny model's Step-3.5 style output parsed by vLLM.
STEP35_SERVER_ARGS = (
    "--reasoning-parser", "step3p5",
    "--tool-call-parser", "step3p5",
    "--enable-auto-tool-choice",
    "--structured-outputs-config", '{"enable_in_reasoning": true}',
)  # fmt: skip

# /v1/embeddings is 404 on a generate server; this serves the same model as an
# embedding model instead (dim 128), and then chat endpoints are 404.
EMBED_SERVER_ARGS = ("--runner", "pooling", "--convert", "embed")

# For the tiny vision-language model (`tiny_vlm(engine)`, served as TINY_VLM_NAME): up to
# two images a prompt (a third is a 400), and room for them (an image is 16 prompt tokens
# a 112 px tile, up to 16 tiles plus a global one).
TINY_VLM_NAME = "tiny-vlm"
VLM_SERVER_ARGS = ("--limit-mm-per-prompt", '{"image": 2}', "--max-model-len", "2048")


_Server = TypeVar("_Server", bound="VllmServer")


class ServerStartError(RuntimeError):
    """The vLLM server process exited or did not become healthy in time."""





def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in the process group."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: signal 0 counts zombies too, good enough
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # Fields after "(comm)": state ppid pgrp ...; comm may contain spaces.
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + max(timeout, 0.0)
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _shm_names_in_use() -> set[str]:
    """Names under /dev/shm that a live process has mapped or open."""
    names: set[str] = set()
    for pid_dir in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            for line in (pid_dir / "maps").read_text().splitlines():
                if "/dev/shm/" in line:
                    names.add(line.split("/dev/shm/", 1)[1].split()[0])
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("/dev/shm/"):
                        names.add(target.removeprefix("/dev/shm/").split()[0])
    return names


def _sweep_orphan_shm(since: float) -> None:
    """Remove the shared memory a SIGKILLed server leaves behind.

    vLLM's resource tracker frees it on a clean stop; after SIGKILL nobody does.
    Only entries made since `since` that no live process maps or holds open are
    removed, so concurrent servers keep theirs.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return
    candidates = []
    for entry in shm.iterdir():
        with contextlib.suppress(OSError):
            if entry.name.startswith(("psm_", "sem.mp-")) and entry.stat().st_mtime >= since:
                candidates.append(entry)
    if not candidates:
        return
    in_use = _shm_names_in_use()
    for entry in candidates:
        if entry.name not in in_use:
            entry.unlink(missing_ok=True)


def _temp_log_path() -> Path:
    fd, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
    os.close(fd)
    return Path(name)


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == HTTPStatus.OK
    except (urllib.error.URLError, OSError):
        return False


def start_all(servers: Sequence[VllmServer]) -> None:
    """Start `servers` at once, one thread each (two replicas take about the time of
    one); if one fails, the others are stopped and its error raised."""
    errors: list[BaseException] = []

    def start(server: VllmServer) -> None:
        try:
            server.start()
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for server in servers:
            server.stop(timeout=5.0)
        raise errors[0]


class VllmServer:
    """A vLLM OpenAI-compatible server subprocess; use as a context manager."""

    def __init__(
        self,
        engine: Engine,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        served_model_name: str = "tiny",
        api_key: str | None = None,
        *,
        log_path: Path | None = None,
        startup_timeout: float = 180.0,
        model_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        # Another model folder than the engine's tiny one, e.g. `real_chat_model()`'s.
        self.model_dir = model_dir or engine.model_dir
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.served_model_name = served_model_name
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        self.log_path = log_path or _temp_log_path()
        self.startup_seconds: float | None = None
        self._started_at = 0.0  # wall clock, for the shared-memory sweep
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.host_url}/v1"

    @property
    def model(self) -> str:
        return self.served_model_name

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        cmd = [
            str(self.engine.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_model_name,
            *DEFAULT_SERVER_ARGS,
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        return cmd + list(self.extra_args)

    def start(self: _Server) -> _Server:
        if self._proc is not None:
            raise RuntimeError("server already started")
        t0 = time.monotonic()
        self._started_at = time.time() - 1.0
        with self.log_path.open("ab") as fh:
            # New session: stop()/kill() signal the whole group, engine-core children too.
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self.engine.environ(),
                start_new_session=True,
            )
        atexit.register(self.stop)  # never leave a 3 GiB server behind
        try:
            self._wait_healthy()
        except BaseException:
            # A server interrupted while starting can hang on SIGTERM: don't wait long.
            self.stop(timeout=3.0)
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ServerStartError(
                    f"vLLM server exited with code {code} during startup "
                    f"(log: {self.log_path}):\n{_tail(self.log_path)}"
                )
            if _http_ok(f"{self.host_url}/health"):
                return
            time.sleep(0.5)
        raise ServerStartError(
            f"vLLM server not healthy after {self.startup_timeout:.0f} s "
            f"(log: {self.log_path}):\n{_tail(self.log_path)}"
        )

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the process group, wait for all of it, then SIGKILL; returns the exit code."""
        with self._lock:
            if self._proc is None or self._stopped:
                return self._proc.returncode if self._proc else None
            self._stopped = True
            pgid = self._proc.pid
            deadline = time.monotonic() + timeout
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout)
            # Children (engine core, resource tracker) outlive the main process a little;
            # letting them finish frees vLLM's shared memory instead of leaking it.
            if not _wait_group_gone(pgid, deadline - time.monotonic()):
                self._signal_group(signal.SIGKILL)
                self._proc.wait(10)
                _wait_group_gone(pgid, 10)
                _sweep_orphan_shm(self._started_at)
            atexit.unregister(self.stop)
            return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole group at once, e.g. to test a server dying mid-stream."""
        with self._lock:
            if self._proc is None:
                return
            self._signal_group(signal.SIGKILL)
            self._proc.wait(10)
            _wait_group_gone(self._proc.pid, 10)
            _sweep_orphan_shm(self._started_at)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def restart(self: _Server) -> _Server:
        """Start again, on the same port, after `stop()` or `kill()` (a router in front
        knows a worker by its URL)."""
        with self._lock:
            if self.is_running():
                raise RuntimeError("server still running: stop() or kill() it first")
            if self._proc is not None:
                atexit.unregister(self.stop)
            self._proc, self._stopped = None, False
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self: _Server) -> _Server:  # a TypeVar: typing.Self needs 3.11
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
