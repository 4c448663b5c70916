"""Ollama client and transport failures as memscreen-llm's typed errors."""

from __future__ import annotations

import httpx
import ollama

from memscreen_llm.errors import (
    BackendError,
    BackendUnavailableError,
    MemscreenLLMError,
    ModelNotFoundError,
)


def translate(
    exc: BaseException, *, url: str, model: str | None, timeout: float,
    compose_hint: str | None = None,
) -> MemscreenLLMError:
    """The typed error for `exc`, or a generic BackendError that keeps its message;
    `compose_hint` (the backend identity's) is how to start an unreachable server."""
    if isinstance(exc, ollama.ResponseError):
        text = str(exc.error)
        if exc.status_code == 404 and "not found" in text:
            return ModelNotFoundError(
                model or "?",
                fix=f"ollama pull {model}   (in Docker: docker compose exec ollama ollama pull "
                f"{model})",
            )
        return BackendError(f"Ollama at {url} answered HTTP {exc.status_code}: {text}")
    if isinstance(exc, httpx.TimeoutException):
        return BackendError(f"Ollama at {url} timed out: no answer within {timeout:g} s")
    if isinstance(exc, (ConnectionError, httpx.ConnectError)):
        return BackendUnavailableError(url, hint=compose_hint,
                                       cause="connection refused")
    if isinstance(exc, httpx.TransportError):
        return BackendUnavailableError(url, hint=compose_hint,
                                       cause=f"{type(exc).__name__}: {exc}")
    return BackendError(f"Ollama request failed: {type(exc).__name__}: {exc}")


# What the client raises for a server that fails; anything else is a bug and propagates.
CLIENT_ERRORS = (ollama.ResponseError, ConnectionError, httpx.HTTPError)
