"""`OllamaConfig`: the fields of the `ollama` backend, validated where they are declared."""

from __future__ import annotations

from typing import Any

import attrs

from memscreen_llm.config import (
    BaseLlmConfig,
    http_url,
    integer,
    mapping,
    setting,
    string,
)

DEFAULT_BASE_URL = "http://localhost:11434"
# Small, current, and able to both call tools and think: the sensible laptop default.
DEFAULT_MODEL = "qwen3:1.7b"
THINK_LEVELS = ("low", "medium", "high")


def _think(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None or isinstance(value, bool) or value in THINK_LEVELS:
        return
    raise ValueError(f"{field.name} must be true, false or one of {', '.join(THINK_LEVELS)}")


def _keep_alive(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return
    if isinstance(value, str) and value.strip():
        return
    raise ValueError(f"{field.name} must be a duration like '5m' or a number of seconds")


@attrs.frozen(kw_only=True)
class OllamaConfig(BaseLlmConfig):
    """Config of the `ollama` backend (env: MEMSCREEN_OLLAMA_<FIELD>)."""

    base_url: str = setting(
        DEFAULT_BASE_URL, validator=http_url(), env=("MEMSCREEN_OLLAMA_URL",),
        help="Ollama server URL",
    )
    model: str | None = setting(
        DEFAULT_MODEL, validator=string(optional=True), env=("MEMSCREEN_LLM_MODEL",),
        help="model tag, e.g. qwen3:1.7b",
    )
    embedding_model: str | None = setting(
        None, validator=string(optional=True), help="model for embed(); unset = `model`"
    )
    num_ctx: int | None = setting(
        None, validator=integer(min=1, optional=True), help="context window in tokens"
    )
    keep_alive: str | float | None = setting(
        None, validator=_keep_alive, help="how long the model stays loaded, e.g. '5m'"
    )
    think: bool | str | None = setting(
        None, validator=_think, help="reasoning: true/false or low/medium/high (newer Ollama)"
    )
    options: dict[str, Any] | None = setting(
        None, validator=mapping(), help="extra Ollama options passed through, e.g. {mirostat: 1}"
    )
    headers: dict[str, str] | None = setting(
        None, validator=mapping(), secret=True, help="extra HTTP headers (e.g. auth for a proxy)"
    )
    api_key: str | None = setting(
        None, validator=string(optional=True), secret=True, env=("OLLAMA_API_KEY",),
        help="sent as 'Authorization: Bearer KEY' (Ollama's cloud, auth proxies)",
    )

    @property
    def http_headers(self) -> dict[str, str] | None:
        """The headers every request carries: `headers`, and the API key as a bearer token."""
        if not self.api_key:
            return self.headers
        return {**(self.headers or {}), "Authorization": f"Bearer {self.api_key}"}
