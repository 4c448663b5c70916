"""`doctor` for vLLM: server reachable, model served, context length; offline: vllm, model."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from memscreen_llm import HealthCheck, HealthReport
from memscreen_llm.compose import compose_up_command
from memscreen_llm.errors import MemscreenLLMError

from ._errors import backend_name, env_var
from .config import VllmConfig

if TYPE_CHECKING:
    from .offline import VllmOfflineLLM
    from .server import VllmServerLLM

def check_server(llm: VllmServerLLM) -> HealthReport:
    server = _server(llm)
    checks = [server]
    if server.ok:
        checks += _model_and_context(llm)
    return HealthReport(llm.backend_name, checks)


def _server(llm: VllmServerLLM) -> HealthCheck:
    import openai

    root = llm.config.server_root
    client = llm._client.with_options(max_retries=0, timeout=min(llm.config.timeout, 10.0))
    try:
        client.get(f"{root}/health", cast_to=str)
    except openai.APIConnectionError as exc:
        return HealthCheck("server", False, f"{root} unreachable ({type(exc).__name__})",
                           fix=compose_up_command(backend_name(llm.backend_name)))
    except openai.APIStatusError as exc:
        if exc.status_code != 404:
            return HealthCheck("server", False, f"{root}/health answered HTTP {exc.status_code}",
                               fix="see the server's log; vLLM answers 503 while its engine "
                               "is down")
        return HealthCheck("server", True, f"{root} (no /health: not vLLM?)")
    return HealthCheck("server", True, f"vLLM at {root} healthy")


def _model_and_context(llm: VllmServerLLM) -> list[HealthCheck]:
    config = llm.config
    model_env = env_var(backend_name(llm.backend_name), "model")
    try:
        served = llm.served_models()
    except MemscreenLLMError as exc:
        return [HealthCheck("model", False, f"cannot list served models: {exc}",
                            fix="set api_key (VLLM_API_KEY) if the server has --api-key")]
    names = [m.id for m in served]
    listing = ", ".join(names) or "(none)"
    if config.model:
        if config.model not in names:
            return [HealthCheck(
                "model", False, f"{config.model!r} is not served; served: {listing}",
                fix=f"set {model_env} to one of: {listing}, or restart vLLM "
                f"with --model {config.model}",
            )]
        model = config.model
        detail = f"{model!r} served"
    elif len(names) == 1:
        model = names[0]
        detail = f"{model!r} (the server's only model; model unset)"
    else:
        return [HealthCheck("model", False, f"model unset and the server serves {listing}",
                            fix=f"set {model_env} to one of: {listing}")]
    checks = [HealthCheck("model", True, detail)]
    reported = next((m.max_model_len for m in served if m.id == model), None)
    checks.append(_context(config, reported))
    return checks


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


def check_offline(llm: VllmOfflineLLM) -> HealthReport:
    config = llm.config
    checks = [HealthCheck("vllm", True, f"vllm {llm.vllm_version} imported")]
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
    loaded = llm.loaded_max_model_len()
    if config.max_model_len is not None:
        detail = f"max_model_len {config.max_model_len} (config)"
    elif loaded is not None:
        detail = f"max_model_len {loaded} (the model's)"
    else:
        detail = "max_model_len = the model's own (known once it is loaded)"
    checks.append(HealthCheck("context", True, detail))
    return HealthReport(llm.backend_name, checks)
