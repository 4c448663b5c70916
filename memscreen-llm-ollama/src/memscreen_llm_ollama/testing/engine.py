"""Provision and run a real Ollama server with a tiny model, on a CPU-only machine.

Stdlib and core's contract kit only (``memscreen-llm-ollama[testing]``), so
test fixtures, benchmarks and demo scripts can use it without installing an
engine first. What it does, and why:

* ``provision()`` makes a private venv and pip-installs ``bigdl-core-cpp``
  (a pre-release from Intel's ipex-llm that ships Ollama 0.9.3 as
  ``bigdl/cpp/libs/ollama/ollama-lib``) plus the Intel runtime libraries it
  links against. That build aborts without an Intel GPU inside
  ``libggml-sycl.so``; a gcc-built stand-in (``sycl_stub.c``) reporting zero
  devices makes it run on ggml's CPU backends. It then builds a tiny
  random-weight llama GGUF with ``build_gguf.py`` (fixed seed, byte-identical).
  Everything lives in a cache folder keyed by the pins, so it runs once.
* ``OllamaServer`` runs ``ollama-lib serve`` on a free loopback port with a
  private models folder and HOME, and creates the tiny model through the HTTP
  API (no network: ``pull`` is never used).

Command line (for a noxfile or a person)::

    python -m memscreen_llm_ollama.testing.engine provision [--cache DIR] [--python PY]
    python -m memscreen_llm_ollama.testing.engine serve [--port N] [--model NAME] [--cache DIR]

``serve`` prints ``READY http://127.0.0.1:PORT NAME`` on stdout once the model
exists, then runs until SIGTERM/SIGINT and stops the server and its runners.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from memscreen_llm.testing import free_port

# Bump when the provisioning steps change in a way the pins don't show.
SCRIPT_VERSION = 1

# Installed with --no-deps: bigdl-core-cpp declares torch, transformers and
# friends (over 5 GB with CUDA wheels) that the Ollama binary never uses, so the
# full set of what it does need is pinned here instead.
ENGINE_PINS: tuple[str, ...] = (
    "bigdl-core-cpp==2.7.0b20260110",
    "intel-sycl-rt==2025.0.2",
    "intel-openmp==2025.0.2",
    "intel-cmplr-lib-rt==2025.0.2",
    "intel-cmplr-lib-ur==2025.0.2",
    "intel-cmplr-lic-rt==2025.0.2",
    "umf==0.9.1",
    "tcmlib==1.2.0",
)
# For build_gguf.py only. gguf imports yaml at import time; it never needs
# requests or tqdm for writing a file.
GGUF_PINS: tuple[str, ...] = (
    "gguf==0.19.0",
    "numpy==2.2.6; python_version < '3.14'",
    "numpy==2.3.5; python_version >= '3.14'",
    "pyyaml==6.0.3",
)

OLLAMA_VERSION = "0.9.3"  # what the pinned bigdl-core-cpp ships
HERE = Path(__file__).resolve().parent
STUB_SOURCE = HERE / "sycl_stub.c"
GGUF_BUILDER = HERE / "build_gguf.py"
MARKER = "engine.json"
LOCK = ".lock"
GGUF_NAME = "tiny.gguf"
LOG_PREFIX = "[ollama-engine]"

# Go template for the tiny model. Ollama 0.9.3 derives capabilities from it:
# - "tools": the template mentions .Tools (else HTTP 400 "does not support tools");
# - "thinking": inside `range .Messages`, .Thinking sits in a block that starts
#   and ends with text (the tags "<think>" / "</think>"); Ollama infers the tags
#   from those text nodes (else HTTP 400 "does not support thinking").
# With think=true the prompt ends with "<|think|>": the tiny model is wired to
# answer it with "<think>Let me think.</think>" (see build_gguf.py), which
# Ollama returns as message.thinking.
TEMPLATE = """\
{{- if .Tools }}<|im_start|>system
You can call these tools:
{{- range .Tools }}
{{ . }}
{{- end }}
Call one as <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}<|im_start|>{{ .Role }}
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}
{{- .Content }}
{{- range .ToolCalls }}<tool_call>{"name": "{{ .Function.Name }}", \
"arguments": {{ .Function.Arguments }}}</tool_call>{{ end }}<|im_end|>
{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ if $.Think }}<|think|>{{ end }}
{{- end }}
{{- end }}"""

# num_thread 1: two threads on a 2-core machine made latency jump (15-700 ms).
# num_predict: random weights never produce EOS; without a limit Ollama
# generates through context shifts until its token-repeat guard aborts the
# stream (at temperature 0 after ~1900 tokens, with no final "done" message).
PARAMETERS: dict[str, Any] = {
    "num_thread": 1,
    "num_ctx": 512,
    "num_predict": 64,
    "stop": ["<|im_end|>"],
}

Log = Callable[[str], None]
T = TypeVar("T")


class EngineUnavailable(RuntimeError):
    """The real Ollama engine cannot be provisioned or started here."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Engine:
    """A provisioned Ollama build: what is needed to run it."""

    binary: Path  # ollama-lib, the server itself (not the `ollama` sh wrapper)
    env: dict[str, str]  # variables to add to the environment to run `binary`
    gguf: Path  # the tiny model
    version: str  # Ollama version of `binary`, e.g. "0.9.3"
    root: Path  # the cache folder holding all of it

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The current environment plus what the engine needs (plus `extra`)."""
        return _merged_environ(self.env, extra)


def _merged_environ(
    engine_env: Mapping[str, str], extra: Mapping[str, str] | None
) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in engine_env.items():
        # Keep any library path the caller already has, after ours.
        if key == "LD_LIBRARY_PATH" and env.get(key):
            value = f"{value}{os.pathsep}{env[key]}"
        env[key] = value
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- provisioning


def default_cache_dir() -> Path:
    configured = os.environ.get("MEMSCREEN_LLM_ENGINE_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "memscreen-llm" / "engines"


def provision(
    cache_dir: Path | None = None,
    log: Log = print,
    python: str | None = None,
    lock_timeout: float = 1800.0,
) -> Engine:
    """Install (once) and return the Ollama engine with the tiny GGUF.

    Raises EngineUnavailable with the reason when any step fails.
    """
    python = python or sys.executable
    root = (cache_dir or default_cache_dir()).expanduser() / f"ollama-{_cache_key(python)}"
    engine = _load_marker(root)
    if engine is not None:
        return engine
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineUnavailable(f"cannot create engine cache {root}: {exc}") from exc
    with _file_lock(root / LOCK, lock_timeout, log):
        # Another process may have finished while this one waited for the lock.
        engine = _load_marker(root)
        if engine is not None:
            return engine
        try:
            return _provision_into(root, python, log)
        except OSError as exc:  # e.g. a full disk: report it like any failed step
            raise EngineUnavailable(f"provisioning into {root} failed: {exc}") from exc


def _cache_key(python: str) -> str:
    """Hash of everything that decides the result, so a change re-provisions."""
    digest = hashlib.sha256()
    digest.update(f"v{SCRIPT_VERSION}\n".encode())
    for pin in (*ENGINE_PINS, *GGUF_PINS):
        digest.update(pin.encode() + b"\n")
    # Pip picks wheels for the interpreter's version.
    digest.update(_python_tag(python).encode())
    for source in (STUB_SOURCE, GGUF_BUILDER):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _python_tag(python: str) -> str:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return f"py{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('py%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"cannot run python {python!r}: {exc}") from exc
    return out.stdout.strip()


def _load_marker(root: Path) -> Engine | None:
    """The engine recorded by a finished provisioning, if still intact."""
    try:
        data = json.loads((root / MARKER).read_text())
        engine = Engine(
            binary=Path(data["binary"]),
            env=dict(data["env"]),
            gguf=Path(data["gguf"]),
            version=str(data["version"]),
            root=root,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # A half-deleted cache must not pass for a ready one.
    if not (engine.binary.is_file() and engine.gguf.is_file()):
        return None
    return engine


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, log: Log) -> Iterator[None]:
    """Exclusive fcntl lock, so concurrent test processes provision only once."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if not announced:
                log(f"{LOG_PREFIX} waiting for another process provisioning {path.parent}")
                announced = True
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"timed out after {timeout:.0f}s waiting for {path}")
            time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _provision_into(root: Path, python: str, log: Log) -> Engine:
    started = time.monotonic()
    log(f"{LOG_PREFIX} provisioning Ollama {OLLAMA_VERSION} into {root}")
    gcc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        raise EngineUnavailable("no C compiler (gcc) found: it builds the libggml-sycl stand-in")
    _clear(root)
    venv = root / "venv"
    _step(log, "create venv", lambda: _run([python, "-m", "venv", str(venv)], root, "venv"))
    venv_python = str(venv / "bin" / "python")
    pins = [*ENGINE_PINS, *GGUF_PINS]
    _step(
        log,
        f"pip install {len(pins)} pinned packages",
        lambda: _pip_install(venv_python, pins, root),
    )
    binary = _find_binary(venv)
    _step(
        log, "build libggml-sycl stand-in with gcc", lambda: _install_stub(gcc, binary.parent, root)
    )
    gguf = root / GGUF_NAME
    _step(
        log,
        "build tiny GGUF",
        lambda: _run([venv_python, str(GGUF_BUILDER), str(gguf)], root, "gguf"),
    )
    env = {"LD_LIBRARY_PATH": str(venv / "lib")}
    version = _step(log, "check ollama-lib runs", lambda: _binary_version(binary, env, root))
    engine = Engine(binary=binary, env=env, gguf=gguf, version=version, root=root)
    _write_marker(engine)
    log(f"{LOG_PREFIX} Ollama {version} ready in {time.monotonic() - started:.1f}s")
    return engine


def _clear(root: Path) -> None:
    """Remove what a failed earlier attempt left, keeping the held lock file."""
    for entry in root.iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _step(log: Log, what: str, action: Callable[[], T]) -> T:
    log(f"{LOG_PREFIX} {what} ...")
    started = time.monotonic()
    result = action()
    log(f"{LOG_PREFIX} {what}: done in {time.monotonic() - started:.1f}s")
    return result


def _run(
    cmd: list[str],
    root: Path,
    name: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 1200,
) -> str:
    """Run a provisioning command; its output goes to <root>/<name>.log."""
    log_path = root / f"{name}.log"
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"{name}: cannot run {cmd[0]}: {exc}") from exc
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        raise EngineUnavailable(
            f"{name} failed (exit {proc.returncode}): {' '.join(cmd)}\n{_tail(proc.stdout)}"
        )
    return proc.stdout


def _pip_install(venv_python: str, pins: list[str], root: Path) -> None:
    # The machine's pip configuration (index, find-links) is kept on purpose.
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    cmd = [venv_python, "-m", "pip", "install", "--no-deps", "--only-binary=:all:", *pins]
    _run(cmd, root, "pip", env=env)


def _find_binary(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages/bigdl/cpp/libs/ollama/ollama-lib"))
    if not found or not os.access(found[0], os.X_OK):
        raise EngineUnavailable(f"bigdl-core-cpp installed but ollama-lib not found under {venv}")
    return found[0]


def _install_stub(gcc: str, binary_dir: Path, root: Path) -> None:
    """Build the zero-device libggml-sycl.so and put it where ollama-lib loads it.

    ollama-lib has DT_RPATH=$ORIGIN (an RPATH, not a RUNPATH), which the loader
    searches before LD_LIBRARY_PATH: the stand-in must replace the file next to
    the binary; putting it first on LD_LIBRARY_PATH would not be enough.
    """
    built = root / "libggml-sycl.so"
    _run([gcc, "-shared", "-fPIC", "-O2", "-o", str(built), str(STUB_SOURCE)], root, "gcc")
    target = binary_dir / "libggml-sycl.so"
    original = binary_dir / "libggml-sycl.so.intel-gpu"
    if target.exists() and not original.exists():
        target.replace(original)  # kept for reference; never loaded under this name
    shutil.copy2(built, target)


def _binary_version(binary: Path, env: Mapping[str, str], root: Path) -> str:
    """Ollama's version; running it also proves its libraries all resolve."""
    # Port 9 (discard): nothing listens, so it prints only its own version.
    full_env = _merged_environ(env, {"OLLAMA_HOST": "127.0.0.1:9"})
    out = _run([str(binary), "--version"], root, "version", env=full_env, timeout=60)
    # Without a server it prints "Warning: client version is 0.9.3".
    for line in out.splitlines():
        if "version is" in line:
            return line.rsplit(" ", 1)[-1].strip()
    raise EngineUnavailable(f"unexpected `ollama-lib --version` output:\n{_tail(out)}")


def _write_marker(engine: Engine) -> None:
    data = {
        "binary": str(engine.binary),
        "env": engine.env,
        "gguf": str(engine.gguf),
        "gguf_sha256": _sha256(engine.gguf),
        "version": engine.version,
        "pins": [*ENGINE_PINS, *GGUF_PINS],
        "script_version": SCRIPT_VERSION,
    }
    tmp = engine.root / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(engine.root / MARKER)  # atomic: the marker is whole or absent


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tail(text: str, lines: int = 30, width: int = 400) -> str:
    """Last lines of a log, each cut to `width` (pip's version lists are huge)."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in kept)


# --------------------------------------------------------------------------- server


def modelfile(gguf: Path) -> str:
    """The Modelfile equivalent of what create_model() sends (for `ollama create -f`)."""
    lines = [f"FROM {gguf}", f'TEMPLATE """{TEMPLATE}"""']
    for key, value in PARAMETERS.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    return "\n".join(lines) + "\n"


# Loopback only; a proxy from the environment must not get these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OllamaServer:
    """A real `ollama-lib serve` on 127.0.0.1, in its own process group.

    Use as a context manager, or call start() / stop(). The work folder holds
    the models, HOME and the log file ``server.log``; it is removed by stop()
    when this object created it, unless keep_workdir is set. After kill() (or
    stop() with keep_workdir) start() runs the server again on the same port
    with the same models, e.g. to test a client reconnecting.
    """

    def __init__(
        self,
        engine: Engine,
        port: int | None = None,
        models_dir: Path | None = None,
        *,
        workdir: Path | None = None,
        keep_workdir: bool = False,
        startup_timeout: float = 30.0,
        extra_env: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.engine = engine
        self._requested_port = port
        self._port: int | None = None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ollama-test-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.models_dir = Path(models_dir) if models_dir else self.workdir / "models"
        self.keep_workdir = keep_workdir
        self.startup_timeout = startup_timeout
        self.extra_env = dict(extra_env or {})
        # Opt-in: PR_SET_PDEATHSIG fires when the *thread* that started the
        # server ends, which would kill it early if started from a worker thread.
        self.die_with_parent = die_with_parent
        self.log_path = self.workdir / "server.log"
        self._log_offset = 0  # where the current run's output starts in the log
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("server not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> OllamaServer:
        """Start the server and wait until /api/version answers."""
        if self.running:
            raise RuntimeError("server already running")
        fixed_port = self._requested_port or self._port  # a restart keeps its port
        # A port picked here may be taken before the server binds it: retry.
        attempts = 1 if fixed_port else 3
        for attempt in range(attempts):
            self._port = fixed_port or free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except EngineUnavailable:
                in_use = "address already in use" in self._run_log().lower()
                self._terminate(signal.SIGKILL, 5.0)
                if not in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after `timeout`."""
        self._terminate(signal.SIGTERM, timeout)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL the server and its runners at once (e.g. in the middle of a stream)."""
        self._terminate(signal.SIGKILL, 5.0)

    def _spawn(self) -> None:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        env = self.engine.environ(
            {
                "OLLAMA_HOST": f"127.0.0.1:{self._port}",
                "OLLAMA_MODELS": str(self.models_dir),
                "HOME": str(home),  # it writes its key pair to ~/.ollama
                "GIN_MODE": "release",  # no route table in the log
                **self.extra_env,
            }
        )
        with open(self.log_path, "ab") as log_file:
            self._log_offset = log_file.tell()
            self._proc = subprocess.Popen(
                [str(self.engine.binary), "serve"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                # Own session: signals to the group reach the model runners too.
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise EngineUnavailable(
                    f"ollama-lib serve exited with {self._proc.returncode} on startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            # The log line proves that *this* process owns the port; the request
            # proves it serves (another server on a requested port would answer too).
            if "Listening on" in self._run_log():
                try:
                    self.request("GET", "/api/version", timeout=1.0)
                    return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.05)
        raise EngineUnavailable(
            f"ollama-lib serve not ready after {self.startup_timeout:.0f}s; "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        _signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # Runners that outlived the server (same group) must not be left behind.
        _signal_group(proc.pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output (all runs), for error messages."""
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return ""

    def _run_log(self) -> str:
        """The current run's output so far."""
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(self._log_offset)
                return log_file.read().decode(errors="replace")
        except OSError:
            return ""

    # -- HTTP

    def request(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        """One JSON request to the server; returns the decoded JSON answer."""
        data = None
        headers = {}
        if isinstance(body, bytes):
            data = body
            headers["Content-Type"] = "application/octet-stream"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        with _OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def create_model(
        self,
        name: str = "tiny",
        template: str = TEMPLATE,
        parameters: Mapping[str, Any] | None = None,
    ) -> str:
        """Create `name` from the tiny GGUF through the HTTP API; returns the name.

        Same steps as `ollama create`: upload the GGUF as a blob, then
        /api/create referring to it by digest.
        """
        digest = "sha256:" + _sha256(self.engine.gguf)
        try:
            self._upload_blob(digest)
            answer = self.request(
                "POST",
                "/api/create",
                {
                    "model": name,
                    "files": {GGUF_NAME: digest},
                    "template": template,
                    "parameters": dict(PARAMETERS if parameters is None else parameters),
                    "stream": False,
                },
                timeout=120.0,
            )
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise EngineUnavailable(f"creating model {name!r} failed: {exc.code} {detail}") from exc
        if not answer or answer.get("status") != "success":
            raise EngineUnavailable(f"creating model {name!r} failed: {answer!r}")
        return name

    def _upload_blob(self, digest: str) -> None:
        # Ask first: for a blob it already has, Ollama answers the POST at once
        # and closes the connection while the body is still being sent.
        try:
            self.request("HEAD", f"/api/blobs/{digest}")
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        self.request("POST", f"/api/blobs/{digest}", self.engine.gguf.read_bytes())


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The server leads its own session, so its pid is also its group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the parent dies (Linux only)."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


# --------------------------------------------------------------------------- command line


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_provision(args: argparse.Namespace) -> int:
    engine = provision(args.cache, log=print, python=args.python)
    print(f"binary  {engine.binary}")
    print(f"gguf    {engine.gguf}")
    print(f"version {engine.version}")
    print(f"env     {' '.join(f'{k}={v}' for k, v in engine.env.items())}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    # Progress on stderr: stdout carries only the READY line for the caller.
    engine = provision(args.cache, log=_stderr, python=args.python)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = OllamaServer(engine, port=args.port, die_with_parent=True)
    try:
        server.start()
        model = server.create_model(args.model)
        print(f"READY {server.base_url} {model}", flush=True)
        while not stop.wait(0.5):
            if not server.running:
                _stderr(f"ollama-lib serve exited unexpectedly:\n{server.log_tail()}")
                return 1
        return 0
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Real Ollama engine for memscreen-llm tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("provision", "serve"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--cache", type=Path, default=None, help="engine cache folder")
        cmd.add_argument("--python", default=None, help="interpreter for the engine venv")
        if name == "serve":
            cmd.add_argument("--port", type=int, default=None, help="default: a free port")
            cmd.add_argument("--model", default="tiny", help="name of the model to create")
    args = parser.parse_args(argv)
    try:
        return _cmd_provision(args) if args.command == "provision" else _cmd_serve(args)
    except EngineUnavailable as exc:
        _stderr(f"{LOG_PREFIX} engine unavailable: {exc.reason}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
