"""`doctor` for Ollama: server version, model present, context size."""

from __future__ import annotations

from typing import Any

import httpx
import ollama

from memscreen_llm import HealthCheck, HealthReport
from memscreen_llm.config import redact_url

from ._errors import CLIENT_ERRORS, connect_cause
from .config import OllamaConfig


def check(client: ollama.Client, config: OllamaConfig, backend: str,
          compose_hint: str | None = None) -> HealthReport:
    """`compose_hint`: the command that starts the server (the backend identity's)."""
    checks = [_server(config, compose_hint)]
    if checks[0].ok:
        checks += _model(client, config)
    return HealthReport(backend, checks)


def _server(config: OllamaConfig, compose_hint: str | None) -> HealthCheck:
    url = config.base_url.rstrip("/")
    shown = redact_url(url)
    try:
        response = httpx.get(f"{url}/api/version", headers=config.http_headers,
                             timeout=min(config.timeout, 10.0))
        response.raise_for_status()
        version = response.json().get("version", "?")
    except httpx.ConnectError as exc:
        return HealthCheck("server", False, f"{shown} unreachable: {connect_cause(exc, url)}",
                           fix=compose_hint)
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return HealthCheck("server", False, f"{shown} unreachable ({type(exc).__name__})",
                           fix=compose_hint)
    return HealthCheck("server", True, f"Ollama {version} at {shown}")


def _model(client: ollama.Client, config: OllamaConfig) -> list[HealthCheck]:
    model = config.model or ""
    try:
        shown = client.show(model)
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            return [HealthCheck("model", False, f"{model!r} is not on the server",
                                fix=f"ollama pull {model}")]
        return [HealthCheck("model", False, f"{model!r}: HTTP {exc.status_code} {exc.error}")]
    except CLIENT_ERRORS as exc:  # gone since /api/version answered, or an unreadable answer
        return [HealthCheck("model", False, f"{model!r}: /api/show failed: "
                            f"{type(exc).__name__}: {exc}")]
    trained = _context_length(shown.modelinfo or {})
    serving = config.num_ctx or _num_ctx(shown.parameters or "")
    detail = f"trained for {trained} tokens" if trained else "training context unknown"
    detail += f"; num_ctx {serving}" if serving else "; num_ctx = server default"
    return [
        HealthCheck("model", True, f"{model!r} present"),
        HealthCheck("context", True, detail),
    ]


def _context_length(modelinfo: Any) -> int | None:
    for key, value in dict(modelinfo).items():
        if key.endswith(".context_length") and isinstance(value, int):
            return value
    return None


def _num_ctx(parameters: str) -> int | None:
    for line in parameters.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            return int(parts[1])
    return None
