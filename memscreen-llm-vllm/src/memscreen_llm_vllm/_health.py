"""`doctor` for vLLM, from what the backend found out: pure, no I/O.

Server mode: /health answered, the model is served, the context length agrees. Offline:
vllm imported, the model directory, the context length.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import BackendIdentity, HealthCheck, HealthReport
from memscreen_llm.config import redact_url
from memscreen_llm.errors import MemscreenLLMError
from memscreen_llm.openai_compat import ServedModel

from .config import VllmConfig


def server_report(
    identity: BackendIdentity, config: VllmConfig, health_status: int | str,
    served: Sequence[ServedModel] | MemscreenLLMError,
    workers: Sequence[Mapping[str, Any]] | None = None,
) -> HealthReport:
    """`health_status`: GET /health's HTTP status, or the transport error's name;
    `served`: GET /v1/models' answer, or the error listing it; `workers`: a router's
    GET /workers list (None: not a router, a vLLM server itself)."""
    root = redact_url(config.server_root)
    if workers is not None:
        checks = _router(root, health_status, workers)
        server = checks[0]
    else:
        server = _server(identity, root, health_status)
        checks = [server]
    if server.ok:
        checks += _model_and_context(identity, config, served)
    return HealthReport(identity.name, checks)


def is_router_listing(answer: Any) -> bool:
    """Whether GET /workers answered as vllm-router does: {"workers": [{"url": ...}]}."""
    items = answer.get("workers") if isinstance(answer, dict) else None
    return isinstance(items, list) and all(
        isinstance(item, dict) and isinstance(item.get("url"), str) for item in items)


def _router(root: str, status: int | str,
            workers: Sequence[Mapping[str, Any]]) -> list[HealthCheck]:
    """The router (its /health: 503 while any worker is out) and each worker as the
    router sees it (its own health checks of the worker's /health)."""
    healthy = [w for w in workers if w.get("is_healthy") is True]
    said = "answers" if status == 200 else f"answered HTTP {status}" if isinstance(
        status, int) else f"failed ({status})"
    detail = (f"router at {root} ({len(healthy)} of {len(workers)} workers healthy; its "
              f"/health {said})")
    if not workers:
        router = HealthCheck("server", False, detail, fix=(
            "give the router its workers (vllm-router --worker-urls URL ..., or POST "
            "/workers with --enable-igw)"))
    elif not healthy:
        router = HealthCheck("server", False, detail, fix=(
            "no worker is healthy: start the vLLM replicas (see the router's log for why "
            "each is out)"))
    else:
        router = HealthCheck("server", True, detail)
    checks = [router]
    for number, worker in enumerate(workers, 1):
        url = redact_url(str(worker["url"]))
        extra = "".join(f", {key} {worker[key]}" for key in ("model_id", "load")
                        if worker.get(key) not in (None, "unknown", -1))
        if worker.get("is_healthy") is True:
            checks.append(HealthCheck(f"worker {number}", True, f"{url} healthy{extra}"))
        else:
            checks.append(HealthCheck(
                f"worker {number}", False, f"{url} unhealthy (the router sends it nothing)"
                f"{extra}", fix="see that replica's log; the router takes it back once its "
                "/health answers (in seconds with the health-check flags in docs/SCALING.md)"))
    return checks


def _server(identity: BackendIdentity, root: str, status: int | str) -> HealthCheck:
    if isinstance(status, str):
        return HealthCheck("server", False, f"{root} unreachable ({status})",
                           fix=identity.compose_hint)
    if status == 404:
        return HealthCheck("server", True, f"{root} (no /health: not vLLM?)")
    if status != 200:
        return HealthCheck("server", False, f"{root}/health answered HTTP {status}",
                           fix="see the server's log; vLLM answers 503 while its engine is down")
    return HealthCheck("server", True, f"vLLM at {root} healthy")


def _model_and_context(
    identity: BackendIdentity, config: VllmConfig,
    served: Sequence[ServedModel] | MemscreenLLMError,
) -> list[HealthCheck]:
    if isinstance(served, MemscreenLLMError):
        return [HealthCheck("model", False, f"cannot list served models: {served}",
                            fix=f"set api_key ({identity.env('api_key')} or VLLM_API_KEY) if "
                            "the server has --api-key")]
    names = [m.id for m in served]
    listing = ", ".join(names) or "(none)"
    model_env = identity.env("model")
    if config.model:
        if config.model not in names:
            return [HealthCheck(
                "model", False, f"{config.model!r} is not served; served: {listing}",
                fix=f"set {model_env} to one of: {listing}, or restart vLLM "
                f"with --model {config.model}",
            )]
        model, detail = config.model, f"{config.model!r} served"
    elif len(names) == 1:
        model, detail = names[0], f"{names[0]!r} (the server's only model; model unset)"
    else:
        return [HealthCheck("model", False, f"model unset and the server serves {listing}",
                            fix=f"set {model_env} to one of: {listing}")]
    reported = next((m.max_model_len for m in served if m.id == model), None)
    return [HealthCheck("model", True, detail), _context(config, reported)]


def _context(config: VllmConfig, reported: int | None) -> HealthCheck:
    if config.max_model_len is None:
        if reported is None:
            return HealthCheck("context", True, "max_model_len unknown (the server did not "
                               "report it): prompts are not checked before sending")
        return HealthCheck("context", True, f"max_model_len {reported} (from the server)")
    if reported is not None and config.max_model_len > reported:
        return HealthCheck(
            "context", False,
            f"max_model_len {config.max_model_len} (config) exceeds the server's {reported}",
            fix=f"set max_model_len <= {reported}, or restart vLLM with --max-model-len "
            f"{config.max_model_len}",
        )
    source = f"; the server allows {reported}" if reported is not None else ""
    return HealthCheck("context", True, f"max_model_len {config.max_model_len} (config){source}")


def offline_report(
    identity: BackendIdentity, config: VllmConfig, vllm_version: str, loaded_max: int | None,
) -> HealthReport:
    """`loaded_max`: the loaded engine's max_model_len (None before the first request)."""
    checks = [HealthCheck("vllm", True, f"vllm {vllm_version} imported")]
    model = config.model or ""
    looks_local = model.startswith((".", "/", "~")) or os.path.isdir(os.path.expanduser(model))
    if looks_local:
        path = os.path.expanduser(model)
        ok = os.path.isfile(os.path.join(path, "config.json"))
        checks.append(HealthCheck(
            "model", ok, f"local model directory {path}" + ("" if ok else " has no config.json"),
            fix=None if ok else "point model at a Hugging Face model directory (config.json, "
            "tokenizer, weights)",
        ))
    else:
        checks.append(HealthCheck("model", True, f"Hugging Face id {model!r} (downloaded on "
                                  "first use; set HF_TOKEN for gated models)"))
    if config.max_model_len is not None:
        detail = f"max_model_len {config.max_model_len} (config)"
    elif loaded_max is not None:
        detail = f"max_model_len {loaded_max} (the model's)"
    else:
        detail = "max_model_len = the model's own (known once it is loaded)"
    checks.append(HealthCheck("context", True, detail))
    return HealthReport(identity.name, checks)
