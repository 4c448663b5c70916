"""Every error memscreen-llm raises on purpose, each with the facts a user needs to fix it."""

from __future__ import annotations

from typing import Any

# Distributions the project publishes, by the backend names (and aliases) they provide.
FIRST_PARTY_BACKENDS = {
    "ollama": "memscreen-llm-ollama",
    "vllm": "memscreen-llm-vllm",
    "step35": "memscreen-llm-step35",
    "step3p5": "memscreen-llm-step35",
    "step-3.5-flash": "memscreen-llm-step35",
}


class MemscreenLLMError(Exception):
    """Base of all errors raised on purpose; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(MemscreenLLMError):
    """A request or command that cannot be carried out as asked."""

    exit_code = 2


class UnknownBackendError(UsageError):
    """No installed plugin provides the backend asked for."""

    def __init__(self, name: str, installed: list[str], problem: str | None = None) -> None:
        self.name = name
        self.installed = installed
        lines = [problem or f"unknown backend {name!r}"]
        lines.append("installed backends: " + (", ".join(installed) if installed else "(none)"))
        dist = FIRST_PARTY_BACKENDS.get(name.lower())
        if dist is not None and problem is None:
            lines.append(f"to add it: pip install {dist}")
        super().__init__("\n".join(lines))


class ConfigError(UsageError):
    """A config value that is missing, unknown or invalid; names field, source and fix."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        source: str | None = None,
        value: Any = None,
        fix: str | None = None,
    ) -> None:
        self.field = field
        self.source = source
        self.value = value
        self.fix = fix
        parts = [message]
        if source:
            parts.append(f"  source: {source}")
        if fix:
            parts.append(f"  fix: {fix}")
        super().__init__("\n".join(parts))


class CapabilityError(UsageError):
    """A backend was asked for something it does not declare it can do."""

    def __init__(self, backend: str, capability: str, detail: str = "") -> None:
        self.backend = backend
        self.capability = capability
        msg = f"backend {backend!r} does not support {capability}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class VisionUnsupportedError(CapabilityError):
    """Images were sent to a model (or backend) that cannot see them; `model` names it."""

    def __init__(self, backend: str, model: str | None, fix: str | None = None) -> None:
        self.model = model
        fix = fix or ("serve a vision-language model (docs/VISION.md: e.g. vLLM with "
                      "Qwen/Qwen2.5-VL-3B-Instruct) and set model to it, or send text only")
        UsageError.__init__(self, f"model {model!r} on backend {backend!r} cannot see images"
                            f" (it is not a vision-language model)\n  fix: {fix}")
        self.backend = backend
        self.capability = "vision"


class ImageError(UsageError):
    """An image that cannot be sent as given: unreadable, missing, too big, too many for
    the server, or an URL that could not be fetched. `where` says which (messages[i]...)."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


class PluginLoadError(MemscreenLLMError):
    """A plugin failed to load (raised only in strict mode; otherwise it is reported)."""


class BackendError(MemscreenLLMError):
    """A backend or its engine failed at run time."""


class BackendUnavailableError(BackendError):
    """The engine's server cannot be reached."""

    exit_code = 3

    def __init__(self, url: str, hint: str | None = None, cause: str | None = None) -> None:
        from ._urls import redact_url, redact_urls_in

        if cause:  # the transport's words may repeat the URL
            cause = redact_urls_in(cause, url)
        url = redact_url(url)
        self.url = url
        self.hint = hint
        # "connection error"/"connection refused": the words MemScreen (and users) look for.
        msg = f"cannot reach the server at {url}: connection error"
        if cause:
            msg += f" ({cause})"
        if hint:
            msg += f"\n  to start it: {hint}"
        super().__init__(msg)


class BackendOverloadedError(BackendError):
    """The engine (or the router in front of it) refused the call for load: HTTP 429 or
    503, still so after the call's own retries. `status` is the HTTP status, `retry_after`
    the server's Retry-After in seconds (None if it sent none)."""

    def __init__(self, where: str, status: int, message: str = "",
                 retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        what = "too many requests" if status == 429 else "overloaded or out of workers"
        msg = f"{where} answered HTTP {status} ({what})"
        if message:
            msg += f": {message}"
        if retry_after is not None:
            msg += f"; it asks to retry after {retry_after:g} s"
        super().__init__(
            f"{msg}\n  fix: retry later, raise max_retries/timeout, add replicas behind a "
            "router (docs/SCALING.md), or set fallbacks so another backend answers")


class ModelNotFoundError(BackendError):
    """The engine does not have the requested model."""

    def __init__(
        self, model: str, available: list[str] | None = None, fix: str | None = None
    ) -> None:
        self.model = model
        self.available = available or []
        msg = f"model {model!r} not found"
        if available is not None:
            msg += "; available: " + (", ".join(available) if available else "(none)")
        if fix:
            msg += f"\n  fix: {fix}"
        super().__init__(msg)


class ContextLengthError(BackendError):
    """The prompt does not fit the model's context window."""

    def __init__(self, prompt_tokens: int, max_context: int, *, estimated: bool = False) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_context = max_context
        self.estimated = estimated
        approx = "about " if estimated else ""
        super().__init__(
            f"prompt is {approx}{prompt_tokens} tokens, over the context budget of "
            f"{max_context} tokens{' (estimated count)' if estimated else ''}"
        )


class RequestTimeoutError(BackendError):
    """A call ran out of time: `limit` names the limit that fired ("timeout",
    "first_token_timeout" or "stream_idle_timeout"), `seconds` its value."""

    def __init__(self, where: str, *, limit: str, seconds: float, elapsed: float,
                 attempts: int = 1, partial: Any = None) -> None:
        self.limit = limit
        self.seconds = seconds
        self.elapsed = elapsed
        self.attempts = attempts
        self.partial = partial
        what = {"timeout": "the call", "first_token_timeout": "the first delta",
                "stream_idle_timeout": "the next delta"}.get(limit, limit)
        tries = f" over {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"{where} timed out: {limit}={seconds:g} s ran out for {what} after "
            f"{elapsed:.1f} s{tries}\n  fix: raise {limit} (config or per call) if the "
            "engine is only slow, else check that it is running and not stuck")


class ResponseParseError(BackendError):
    """The engine's output could not be parsed as promised (JSON, tool calls)."""


class StreamInterruptedError(BackendError):
    """A stream (or a whole answer the engine streams inside, as Ollama does) ended
    before the engine said it was done; `partial` holds what arrived."""

    def __init__(self, message: str, partial: Any = None) -> None:
        self.partial = partial
        super().__init__(message)
