"""OpenAI-client failures against a vLLM server as memscreen-llm's typed errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import openai

from memscreen_llm.compose import compose_up_command
from memscreen_llm.errors import (
    BackendError,
    BackendUnavailableError,
    ContextLengthError,
    MemscreenLLMError,
    ModelNotFoundError,
)

# What the client raises for a server that fails; anything else is a bug and propagates.
CLIENT_ERRORS = (openai.APIError,)

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


def env_var(backend: str, field: str) -> str:
    """MEMSCREEN_<BACKEND>_<FIELD>, as core names it (a preset such as step35 has its own)."""
    return f"MEMSCREEN_{re.sub(r'[^A-Z0-9]+', '_', backend.upper())}_{field.upper()}"


def backend_name(name: str) -> str:
    """The registered name; "vllm" for a backend made without the factory."""
    return "vllm" if name == "?" else name


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own error text (vLLM: {"error": {"message": ...}})."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return str(exc.message)


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


def is_missing_tool_parser(exc: BaseException) -> bool:
    """The server refused tool_choice because it was started without a tool-call parser."""
    return isinstance(exc, openai.BadRequestError) and bool(
        _NO_TOOL_PARSER.search(server_message(exc))
    )


def translate(
    exc: BaseException,
    *,
    url: str,
    model: str | None,
    timeout: float,
    served_models: Callable[[], list[str] | None] = lambda: None,
    what: str = "chat",
    backend: str = "vllm",
) -> MemscreenLLMError:
    """The typed error for `exc`, or a generic BackendError that keeps the server's words."""
    backend = backend_name(backend)
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"vLLM at {url} did not answer within {timeout:g} s (timeout)")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return BackendUnavailableError(url, hint=compose_up_command(backend), cause=detail)
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, url=url, model=model, served_models=served_models, what=what,
                             backend=backend)
    return BackendError(f"vLLM request failed: {type(exc).__name__}: {exc}")


def _status_error(
    exc: openai.APIStatusError,
    *,
    url: str,
    model: str | None,
    served_models: Callable[[], list[str] | None],
    what: str,
    backend: str,
) -> MemscreenLLMError:
    message = server_message(exc)
    status = exc.status_code
    if status == 401:
        return BackendError(
            f"vLLM at {url} refused the request (HTTP 401: {message}); it was started with "
            f"--api-key: set api_key (env VLLM_API_KEY or {env_var(backend, 'api_key')}) to "
            "that key"
        )
    if status == 404 and model and "model" in message.lower():
        available = served_models()
        return ModelNotFoundError(
            model, available=available,
            fix=(f"set model to a served one (env {env_var(backend, 'model')}), or restart "
                 f"vLLM with --model {model}"),
        )
    if status == 404 and what == "embeddings":
        return BackendError(
            f"vLLM at {url} has no embeddings endpoint (HTTP 404: {message}); it serves a "
            "generative model: start a vLLM server for an embedding model (--runner pooling) "
            "and point a second backend at it"
        )
    if status in (400, 413, 422):
        numbers = context_numbers(message)
        if numbers is not None:
            return ContextLengthError(*numbers)
        if is_missing_tool_parser(exc):
            return BackendError(
                f"vLLM at {url} cannot handle this tool_choice: {message}\n  fix: start vLLM "
                "with --enable-auto-tool-choice --tool-call-parser NAME, or set tool_parser "
                f"(env {env_var(backend, 'tool_parser')}) to parse tool calls client-side "
                "(then use tool_choice='auto')"
            )
    return BackendError(f"vLLM at {url} answered HTTP {status}: {message}")
