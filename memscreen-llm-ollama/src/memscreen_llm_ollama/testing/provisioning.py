"""Provisioning of the Ollama CPU build (bigdl-core-cpp) and its tiny model, once, cached.

``provision()`` makes a private venv and pip-installs ``bigdl-core-cpp`` (a pre-release
from Intel's ipex-llm that ships Ollama 0.9.3 as ``bigdl/cpp/libs/ollama/ollama-lib``) plus
the Intel runtime libraries it links against. That build aborts without an Intel GPU inside
``libggml-sycl.so``; a gcc-built stand-in (``sycl_stub.c``) reporting zero devices makes it
run on ggml's CPU backends. It then builds a tiny random-weight llama GGUF with
``build_gguf.py`` (fixed seed, byte-identical). Everything lives in a cache folder keyed by
the pins, the stub's and the builder's bytes (not this module's), so it runs once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

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
