"""The openai client's exceptions as core's typed errors, for any OpenAI-compatible server."""

from __future__ import annotations

import re

import openai

from .._budget import RETRY, RETRY_STATUSES, Verdict, is_timeout
from ..errors import (
    BackendError,
    BackendOverloadedError,
    BackendUnavailableError,
    ImageError,
    MemscreenLLMError,
    ModelNotFoundError,
    VisionUnsupportedError,
)
from ..specs import BackendIdentity

# What the client raises for a server that fails; anything else is a bug and propagates.
CLIENT_ERRORS = (openai.APIError,)
# Refusals for load (too many requests; overloaded, or a router with no healthy worker).
OVERLOADED_STATUSES = frozenset({429, 503})


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own error text ({"error": {"message": ...}} or {"detail": ...})."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return str(exc.message)


def retry_verdict(exc: BaseException) -> Verdict:
    """Core's retry policy for the openai client's errors: connection failures and
    408/429/5xx are retried (after the server's Retry-After, if it sent one); a timeout
    means a limit of the call ran out, so there is no time for another attempt."""
    if is_timeout(exc) or not isinstance(exc, openai.APIError):
        return None
    if isinstance(exc, openai.APIConnectionError):
        return RETRY
    if isinstance(exc, openai.APIStatusError) and exc.status_code in RETRY_STATUSES:
        return RETRY  # the Retry-After: noted by the client's response hook
    return None


# How a vLLM server refuses images (SGLang's words are alike): the model cannot see,
# more images than --limit-mm-per-prompt allows, bytes it cannot decode.
_BLIND = "is not a multimodal model"
_TOO_MANY = re.compile(r"at most (\d+) (image|video|audio)", re.IGNORECASE)
_UNDECODABLE = ("failed to load image", "cannot identify image")


def is_blind_model(exc: BaseException) -> bool:
    """The server says the model takes no images (HTTP 400)."""
    return isinstance(exc, openai.BadRequestError) and _BLIND in server_message(exc)


def _image_refusal(exc: openai.APIStatusError, engine: str, url: str) -> ImageError | None:
    message = server_message(exc)
    too_many = _TOO_MANY.search(message)
    if too_many:
        count, kind = too_many.groups()
        return ImageError("the request", f"{engine} at {url} takes at most {count} "
                          f"{kind}(s) per prompt ({message})",
                          f"send at most {count} per call, or start the server with "
                          f"--limit-mm-per-prompt '{{\"{kind}\": N}}'")
    if any(words in message.lower() for words in _UNDECODABLE):
        return ImageError("the request", f"{engine} at {url} could not decode an image "
                          f"({message})", "send a complete PNG, JPEG or WebP image")
    return None


def is_unknown_model(exc: BaseException) -> bool:
    return isinstance(exc, openai.NotFoundError) and "model" in server_message(exc).lower()


def translate(
    exc: BaseException,
    *,
    engine: str,
    url: str,
    identity: BackendIdentity,
    timeout: float,
    model: str | None = None,
    served: list[str] | None = None,
) -> MemscreenLLMError:
    """The typed error for a failed request to `engine` (e.g. "vLLM") at `url`; `served`
    lists the server's models for an unknown-model answer."""
    if isinstance(exc, openai.APITimeoutError):  # before its base class, APIConnectionError
        return BackendError(f"{engine} at {url} timed out: no answer within {timeout:g} s")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return BackendUnavailableError(url, hint=identity.compose_hint, cause=detail)
    if not isinstance(exc, openai.APIStatusError):
        return BackendError(f"{engine} request failed: {type(exc).__name__}: {exc}")
    message = server_message(exc)
    if exc.status_code == 401:
        return BackendError(
            f"{engine} at {url} refused the request (HTTP 401: {message}); it was started "
            f"with --api-key: set api_key (env {identity.env('api_key')}) to that key")
    if is_unknown_model(exc) and model:
        return ModelNotFoundError(
            model, available=served,
            fix=f"set model (env {identity.env('model')}) to a served one, or serve {model} "
            "on the server")
    if is_blind_model(exc):
        return VisionUnsupportedError(identity.name, model)
    if exc.status_code == 400 and (refusal := _image_refusal(exc, engine, url)) is not None:
        return refusal
    if exc.status_code in OVERLOADED_STATUSES:  # still so after the call's retries
        return BackendOverloadedError(f"{engine} at {url}", exc.status_code, message,
                                      retry_after=_retry_after(exc))
    return BackendError(f"{engine} at {url} answered HTTP {exc.status_code}: {message}")


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """The Retry-After of the answer that ended the call, in seconds (None: none sent)."""
    from .._budget import retry_after

    return retry_after(exc.response.headers)
