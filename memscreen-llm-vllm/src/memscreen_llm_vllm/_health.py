"""`doctor` for vLLM, from what the backend found out: pure, no I/O.

Server mode: /health answered, the model is served, the context length agrees. Offline:
vllm imported, the model directory, the context length.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from memscreen_llm import BackendIdentity, HealthCheck, HealthReport
from memscreen_llm.config import redact_url
from memscreen_llm.errors import MemscreenLLMError
from memscreen_llm.openai_compat import ServedModel

from .config import VllmConfig


def server_report(
    identity: BackendIdentity, config: VllmConfig, health_status: int | str,
    served: Sequence[ServedModel] | MemscreenLLMError,
) -> HealthReport:
    """`health_status`: GET /health's HTTP status, or the transport error's name;
    `served`: GET /v1/models' answer, or the error listing it."""
    server = _server(identity, redact_url(config.server_root), health_status)
    checks = [server]
    if server.ok:
        checks += _model_and_context(identity, config, served)
    return HealthReport(identity.name, checks)


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
