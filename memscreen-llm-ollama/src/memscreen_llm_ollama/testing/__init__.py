"""A real Ollama server for tests and benchmarks (`pip install memscreen-llm-ollama[testing]`).

    from memscreen_llm_ollama.testing import EngineUnavailable, OllamaServer, provision

    engine = provision()                 # Ollama 0.9.3 (CPU build) in a cached venv and a
                                         # tiny GGUF model; or EngineUnavailable (skip)
    with OllamaServer(engine) as server:
        server.create_model("tiny")
        create_llm("ollama", base_url=server.base_url, model="tiny")

In a conftest (pytest): `provision_or_skip()` for the session's engine fixture, and
`yield from serve(engine)` for a server fixture (the tiny model created as "tiny").

Nothing here imports an engine SDK. Discovery never imports this package
(`memscreen_llm_ollama.plugin` does not), so it costs nothing to `memscreen-llm backends`.
`python -m memscreen_llm_ollama.testing.engine serve` runs a server from the command line.
"""

from ._fixtures import MODEL, provision_or_skip, serve
from .engine import Engine, EngineUnavailable, OllamaServer, modelfile, provision

__all__ = [
    "MODEL",
    "Engine",
    "EngineUnavailable",
    "OllamaServer",
    "modelfile",
    "provision",
    "provision_or_skip",
    "serve",
]
