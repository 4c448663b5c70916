"""vLLM's own router (PyPI `vllm-router`, a Rust binary wheel) in front of real vLLM servers.

    binary = provision_router()            # vllm-router in a cached venv; or EngineUnavailable
    with VllmRouter(binary, [a.host_url, b.host_url], policy="consistent_hash") as router:
        create_llm("vllm", base_url=router.base_url, model="tiny", session_id="chat-1")

Stdlib only, like the rest of the kit. The router runs as a subprocess in a process group
of its own on 127.0.0.1 (its admin endpoints have no auth), with the health-check flags
that notice a dead worker in about 2 s and take a restarted one back in about 1 s
(`TUNED_HEALTH_ARGS`; the defaults take about a minute). `requests_served(url)` reads a
vLLM server's request counter from its /metrics, to see where the router sent requests.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from memscreen_llm.testing import free_port
from memscreen_llm.testing.wheel_models import file_lock

from .provisioning import (
    OK_FILE,
    EngineUnavailable,
    Log,
    _python_version,
    _run_logged,
    _short_hash,
    _tail,
    base_python,
    default_cache_dir,
)

ROUTER_PIN = "vllm-router==0.1.17"
ROUTER_SCRIPT_VERSION = "1"
# Out 2 s after a worker dies, back 1 s after it answers /health again; the router starts
# listening once one worker is healthy, checking every second.
TUNED_HEALTH_ARGS = (
    "--health-check-interval-secs", "1",
    "--health-failure-threshold", "2",
    "--health-success-threshold", "1",
    "--health-check-timeout-secs", "1",
    "--cb-failure-threshold", "3",
    "--cb-timeout-duration-secs", "5",
    "--worker-startup-check-interval", "1",
)  # fmt: skip
# Policies that keep a session (the X-Session-ID header) on one worker.
AFFINITY_POLICIES = ("consistent_hash", "sticky_least_loaded")

_Router = TypeVar("_Router", bound="VllmRouter")
_FAILURES: dict[Path, str] = {}


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def router_key(python: str | None = None) -> str:
    """Key of the router's venv: the pin, this script's version, the Python minor."""
    return _short_hash(ROUTER_SCRIPT_VERSION, ROUTER_PIN, _python_version(python or base_python()))


def provision_router(cache_dir: Path | None = None, log: Log = _log) -> Path:
    """The `vllm-router` executable, from a venv of its own (pip install of the pinned
    wheel, about 25 MB, cached). Raises EngineUnavailable saying why it cannot be had."""
    if os.environ.get("MEMSCREEN_LLM_SKIP_VLLM"):
        raise EngineUnavailable("MEMSCREEN_LLM_SKIP_VLLM is set")
    python = base_python()
    root = (cache_dir or default_cache_dir()) / f"vllm-router-{router_key(python)}"
    if root in _FAILURES:
        raise EngineUnavailable(_FAILURES[root])
    venv, log_file = root / "venv", root / "provision.log"
    binary = venv / "bin" / "vllm-router"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with file_lock(root / ".lock"):  # a second process waits, then finds OK_FILE
            if not (venv / OK_FILE).exists():
                _create(venv, python, log_file, log)
                (venv / OK_FILE).write_text(ROUTER_PIN + "\n")
    except OSError as exc:
        _FAILURES[root] = f"cannot provision {ROUTER_PIN} in {root}: {exc}"
        raise EngineUnavailable(_FAILURES[root]) from exc
    except EngineUnavailable as exc:
        _FAILURES[root] = exc.reason
        raise
    if not binary.is_file():
        raise EngineUnavailable(f"{binary} is missing (delete {root} to provision again)")
    return binary


def _create(venv: Path, python: str, log_file: Path, log: Log) -> None:
    import shutil

    if venv.exists():  # a leftover of an interrupted run
        shutil.rmtree(venv)
    started = time.monotonic()
    log(f"[vllm-router] creating venv {venv} and pip install {ROUTER_PIN} ...")
    _run_logged([python, "-m", "venv", str(venv)], log_file)
    _run_logged([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input",
                 "--disable-pip-version-check", ROUTER_PIN], log_file)
    log(f"[vllm-router] {ROUTER_PIN}: done in {time.monotonic() - started:.1f} s")


def _get(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """(status, body) of GET `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None


def requests_served(host_url: str) -> int:
    """How many requests a vLLM server has finished (its /metrics
    `vllm:request_success_total`, every finish reason); 0 for a fresh server."""
    answer = _get(f"{host_url}/metrics", timeout=5.0)
    if answer is None or answer[0] != 200:
        raise RuntimeError(f"{host_url}/metrics did not answer: {answer}")
    total = 0.0
    for line in answer[1].splitlines():
        if line.startswith("vllm:request_success_total"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class VllmRouter:
    """A `vllm-router` subprocess over `worker_urls` (http://host:port, no /v1); use as a
    context manager. `policy`: random, round_robin, consistent_hash, sticky_least_loaded,
    ... (not cache_aware on plain vLLM workers: it needs --enable-scale-out on them)."""

    def __init__(self, binary: Path, worker_urls: Sequence[str] = (), *,
                 policy: str = "consistent_hash", port: int | None = None,
                 extra_args: Sequence[str] = (), tuned: bool = True,
                 log_path: Path | None = None, startup_timeout: float = 60.0) -> None:
        self.binary = binary
        self.worker_urls = tuple(worker_urls)
        self.policy = policy
        self.port = port or free_port()
        self.prometheus_port = free_port()  # a busy Prometheus port makes it panic
        self.extra_args = tuple(extra_args)
        self.tuned = tuned
        self.startup_timeout = startup_timeout
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="vllm-router-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.host_url}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        cmd = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port),
               "--prometheus-host", "127.0.0.1", "--prometheus-port", str(self.prometheus_port),
               "--policy", self.policy]
        if self.worker_urls:
            cmd += ["--worker-urls", *self.worker_urls]
        if self.tuned:
            cmd += TUNED_HEALTH_ARGS
        return cmd + list(self.extra_args)

    def start(self: _Router) -> _Router:
        if self._proc is not None:
            raise RuntimeError("router already started")
        with self.log_path.open("ab") as fh:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=fh,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.stop)
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        """Until the router answers /health at all (it listens once a worker is healthy)."""
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"vllm-router exited with code {self._proc.returncode} "
                                   f"(log: {self.log_path}):\n{_tail(self.log_path)}")
            if _get(f"{self.host_url}/health", timeout=1.0) is not None:
                return
            time.sleep(0.2)
        raise RuntimeError(f"vllm-router not listening after {self.startup_timeout:.0f} s "
                           f"(log: {self.log_path}):\n{_tail(self.log_path)}")

    def workers(self) -> list[dict[str, Any]]:
        """GET /workers: each worker's url, is_healthy, load (as the router sees them)."""
        answer = _get(f"{self.host_url}/workers")
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{self.host_url}/workers did not answer: {answer}")
        items: list[dict[str, Any]] = json.loads(answer[1])["workers"]
        return items

    def add_worker(self, url: str) -> dict[str, Any]:
        """POST /workers (the --enable-igw way to add one); returns the router's answer."""
        request = urllib.request.Request(
            f"{self.host_url}/workers", data=json.dumps({"url": url}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer

    def wait_healthy_workers(self, count: int, timeout: float = 30.0) -> bool:
        """Until exactly `count` workers are healthy in the router's eyes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError, ValueError, KeyError):
                if sum(bool(w.get("is_healthy")) for w in self.workers()) == count:
                    return True
            time.sleep(0.2)
        return False

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM its process group, then SIGKILL; returns the exit code."""
        with self._lock:
            if self._proc is None:
                return None
            if self._proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGTERM)
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait(10)
            atexit.unregister(self.stop)
            return self._proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self: _Router) -> _Router:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
