"""What vLLM's refusals mean: context-length numbers, a missing tool parser, and the
typed errors for them (everything else: core's `openai_compat.translate`)."""

from __future__ import annotations

import re

import openai

from memscreen_llm import BackendError, BackendIdentity, ContextLengthError, ModelNotFoundError
from memscreen_llm.errors import MemscreenLLMError
from memscreen_llm.openai_compat import is_unknown_model, server_message

_MAX_CONTEXT = (
    re.compile(r"maximum (?:context|model) length (?:is|of) (\d+)"),
    re.compile(r"max_model_len(?:=| of | is )(\d+)"),
    re.compile(r"exceeds (?:the )?limit of (\d+)"),
)
_PROMPT_TOKENS = (
    re.compile(r"(\d+) in the messages"),
    re.compile(r"(?:prompt|request|input) (?:contains|has) (?:at least )?(\d+) (?:input )?tokens"),
    re.compile(r"prompt \((?:length )?(\d+)(?: tokens)?\)"),
    re.compile(r"you requested (\d+) tokens"),
)
_TOO_LONG = re.compile(r"max_tokens|max_completion_tokens|context length|max_model_len")
_NO_TOOL_PARSER = re.compile(
    r"tool.?choice.*requires --(?:enable-auto-tool-choice|tool-call-parser)"
)


def context_numbers(message: str) -> tuple[int, int] | None:
    """(prompt tokens, max context) from vLLM's over-long-prompt message, if it has both."""
    maximum = next((m for p in _MAX_CONTEXT if (m := p.search(message))), None)
    prompt = next((m for p in _PROMPT_TOKENS if (m := p.search(message))), None)
    if maximum is None or prompt is None:
        return None
    return int(prompt.group(1)), int(maximum.group(1))


def context_limit(exc: BaseException) -> int | None:
    """The context length the server names in a refusal (e.g. "max_model_len=1024")."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    message = server_message(exc)
    found = next((m for p in _MAX_CONTEXT if (m := p.search(message))), None)
    return int(found.group(1)) if found else None


def is_context_refusal(exc: BaseException) -> bool:
    """The server refused the request for its length (prompt, or prompt + max_tokens)."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    message = server_message(exc)
    return context_numbers(message) is not None or bool(_TOO_LONG.search(message))


def is_image_cache_miss(exc: BaseException) -> bool:
    """An image sent by its uuid alone is no longer in the server's cache (evicted, a
    restart, another replica): "Cache miss for image at index 0 but data is not provided"."""
    return isinstance(exc, openai.BadRequestError) and "cache miss" in server_message(
        exc).lower()


def is_missing_tool_parser(exc: BaseException) -> bool:
    """The server refused tool_choice because it was started without a tool-call parser."""
    return isinstance(exc, openai.BadRequestError) and bool(
        _NO_TOOL_PARSER.search(server_message(exc))
    )


def vllm_error(
    exc: BaseException, *, url: str, identity: BackendIdentity, model: str | None,
    served: list[str] | None, embeddings: bool = False,
) -> MemscreenLLMError | None:
    """The typed error for a refusal only vLLM gives, or None (then core's translation)."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    message = server_message(exc)
    if is_unknown_model(exc) and model:
        return ModelNotFoundError(
            model, available=served,
            fix=f"set model to a served one (env {identity.env('model')}), or restart vLLM "
            f"with --model {model}")
    if exc.status_code == 404 and embeddings:
        return BackendError(
            f"vLLM at {url} has no embeddings endpoint (HTTP 404: {message}); it serves a "
            "generative model: start a vLLM server for an embedding model (--runner pooling) "
            "and point a second backend at it")
    if exc.status_code in (400, 413, 422):
        numbers = context_numbers(message)
        if numbers is not None:
            return ContextLengthError(*numbers)
        if is_missing_tool_parser(exc):
            return BackendError(
                f"vLLM at {url} cannot handle this tool_choice: {message}\n  fix: start vLLM "
                "with --enable-auto-tool-choice --tool-call-parser NAME, or set tool_parser "
                f"(env {identity.env('tool_parser')}) to parse tool calls client-side "
                "(then use tool_choice='auto')")
    if exc.status_code == 401:
        return BackendError(
            f"vLLM at {url} refused the request (HTTP 401: {message}); it was started with "
            f"--api-key: set api_key (env VLLM_API_KEY or {identity.env('api_key')}) to "
            "that key")
    return None
