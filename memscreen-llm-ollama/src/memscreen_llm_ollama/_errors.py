"""Ollama client and transport failures as memscreen-llm's typed errors."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import ollama
import pydantic

from memscreen_llm.errors import (
    BackendError,
    BackendOverloadedError,
    BackendUnavailableError,
    ImageError,
    MemscreenLLMError,
    ModelNotFoundError,
    ResponseParseError,
    UsageError,
)
from memscreen_llm.transport import RETRY, RETRY_STATUSES, Verdict, is_timeout


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
        if is_undecodable_image(exc):
            return ImageError("the request", f"Ollama at {url} could not decode an image "
                              f"({text})", "send a complete PNG, JPEG or WebP image")
        if exc.status_code in (429, 503):  # busy (OLLAMA_MAX_QUEUE), still after retries
            return BackendOverloadedError(f"Ollama at {url}", exc.status_code, text)
        return BackendError(f"Ollama at {url} answered HTTP {exc.status_code}: {text}")
    if isinstance(exc, httpx.TimeoutException):
        return BackendError(f"Ollama at {url} timed out: no answer within {timeout:g} s")
    if isinstance(exc, (ConnectionError, httpx.ConnectError)):
        return BackendUnavailableError(url, hint=compose_hint, cause=connect_cause(exc, url))
    if isinstance(exc, httpx.TransportError):
        return BackendUnavailableError(url, hint=compose_hint,
                                       cause=f"{type(exc).__name__}: {exc}")
    if isinstance(exc, json.JSONDecodeError):
        return ResponseParseError(
            f"Ollama at {url} answered with something that is not JSON ({exc.msg} at line "
            f"{exc.lineno} column {exc.colno}: {exc.doc[:60]!r})\n  fix: check that {url} is an "
            "Ollama server (not another service, or a proxy's error page)")
    if isinstance(exc, pydantic.ValidationError):
        return _invalid(exc, url)
    if isinstance(exc, (TypeError, AttributeError)):  # JSON, but not an object where one belongs
        return ResponseParseError(
            f"Ollama at {url} answered in a shape this client cannot read "
            f"({type(exc).__name__}: {exc})\n  fix: check that {url} is an Ollama server")
    return BackendError(f"Ollama request failed: {type(exc).__name__}: {exc}")


def retry_verdict(exc: BaseException) -> Verdict:
    """Core's retry policy for the ollama client's errors: a connection that fails (or a
    stream that breaks before its first delta) and HTTP 408/429/5xx are retried (after a
    Retry-After the client's response hook noted); a timeout means a limit of the call ran
    out; anything else is final."""
    if is_timeout(exc):
        return None
    if isinstance(exc, ollama.ResponseError):
        final = is_undecodable_image(exc)  # a 500, but the same image fails again
        return RETRY if exc.status_code in RETRY_STATUSES and not final else None
    if isinstance(exc, (ConnectionError, httpx.TransportError)):
        return RETRY
    return None


def is_undecodable_image(exc: ollama.ResponseError) -> bool:
    """Ollama's 500 for image bytes its projector cannot read ("unable to make llava
    embedding from image")."""
    return exc.status_code == 500 and "embedding from image" in str(exc.error)


def problems(exc: pydantic.ValidationError, limit: int = 3) -> str:
    """`exc`'s errors, one `where: what (got value)` each, for a message."""
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(the whole value)"
        got = repr(error.get("input"))
        parts.append(f"{where}: {error['msg']} (got {got[:60]})")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _invalid(exc: pydantic.ValidationError, url: str) -> MemscreenLLMError:
    # The SDK's models are named for their side: ChatResponse, EmbedResponse... are answers;
    # Message, Tool, Image, ChatRequest... are the request it builds from our arguments.
    if exc.title.endswith("Response"):
        return ResponseParseError(
            f"Ollama at {url} answered JSON that is not an Ollama {exc.title}: {problems(exc)}"
            f"\n  fix: check that {url} is an Ollama server, of a version this ollama SDK "
            "supports")
    return UsageError(f"the request cannot be sent to Ollama: its {exc.title} is invalid: "
                      f"{problems(exc)}")


def connect_cause(exc: BaseException, url: str) -> str:
    """Why a connection failed, in words: a host name that does not resolve, a refused
    connection, or the transport's own message (the SDK hides its error in the chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    innermost: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            host = urlsplit(url).hostname or url
            return (f"the host name {host!r} could not be resolved (DNS: "
                    f"{current.strerror or current}); check the host in the URL")
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, httpx.ConnectError):
            innermost = current
        current = current.__cause__ or current.__context__
    if isinstance(innermost, httpx.ConnectError) and str(innermost):
        text = str(innermost)
        return "connection refused" if "refused" in text.lower() else text
    return "connection refused"


# What the client raises for a server that fails, or answers what it cannot read (and
# pydantic's ValidationError for a request the SDK cannot build); translate() maps each.
CLIENT_ERRORS = (ollama.ResponseError, ConnectionError, httpx.HTTPError, json.JSONDecodeError,
                 pydantic.ValidationError, TypeError, AttributeError)
