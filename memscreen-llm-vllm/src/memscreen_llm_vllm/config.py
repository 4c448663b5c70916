"""`VllmConfig`: the fields of the `vllm` backend, validated where they are declared.

Importing this module is cheap: it needs only core (no openai, no vllm).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import attrs

from memscreen_llm.config import (
    BaseLlmConfig,
    boolean,
    http_url,
    integer,
    mapping,
    number,
    setting,
    string,
    url_ending,
)

MODES = ("server", "offline")
DEFAULT_BASE_URL = "http://localhost:8000/v1"
API_PATH = "/v1"
# The header vllm-router reads session affinity from (the first of several it looks at).
SESSION_HEADER = "X-Session-ID"
MAX_SESSION_ID = 256


def api_url(url: str) -> str:
    """The OpenAI-compatible API root: `url` with `/v1` appended unless it already ends so."""
    stripped = url.rstrip("/")
    return stripped if stripped.endswith(API_PATH) else stripped + API_PATH


def server_root(url: str) -> str:
    """The server's root (where vLLM serves /health and /tokenize): the API URL minus /v1."""
    return api_url(url)[: -len(API_PATH)]


def _stop(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise TypeError(f"{field.name} must be a list of non-empty strings, e.g. ['\\n\\n']")


def _header_value(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    """A value that can travel as an HTTP header: printable ASCII, not blank."""
    string(optional=True)(_inst, field, value)
    if value is None:
        return
    if not value.strip() or not (value.isascii() and value.isprintable()):
        raise ValueError(f"{field.name} must be printable ASCII text, not blank (it is sent "
                         "as an HTTP header), e.g. a conversation id")
    if len(value) > MAX_SESSION_ID:
        raise ValueError(f"{field.name} is {len(value)} characters; at most {MAX_SESSION_ID}")


def _parser_name(_inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
    string(optional=True)(_inst, field, value)
    if value is not None and value != value.strip().lower():
        raise ValueError(f"{field.name} must be a lowercase parser name, e.g. 'step3p5'")


@attrs.frozen(kw_only=True)
class VllmConfig(BaseLlmConfig):
    """Config of the `vllm` backend (env: MEMSCREEN_VLLM_<FIELD>).

    `mode="server"` talks to a vLLM OpenAI-compatible server at `base_url`;
    `mode="offline"` runs `vllm.LLM` in this process (needs the `offline` extra).
    """

    mode: str = setting(
        "server", validator=string(choices=MODES),
        help="server (an OpenAI-compatible vLLM server) or offline (vllm.LLM in-process)",
    )
    base_url: str = setting(
        DEFAULT_BASE_URL, validator=http_url(), converter=url_ending(API_PATH),
        env=("MEMSCREEN_VLLM_URL",),
        help="vLLM server URL, with or without /v1, e.g. http://localhost:8000/v1",
    )
    api_key: str | None = setting(
        None, validator=string(optional=True), secret=True, env=("VLLM_API_KEY",),
        help="the server's --api-key, if it was started with one",
    )
    model: str | None = setting(
        None, validator=string(optional=True), env=("MEMSCREEN_VLLM_LLM_MODEL",),
        help="served model name (server: unset = the server's only model) or, offline, "
        "a Hugging Face id or local model directory",
    )
    session_id: str | None = setting(
        None, validator=_header_value,
        help=f"sent as the {SESSION_HEADER} header, so a router in front of several vLLM "
        "replicas (vllm-router --policy consistent_hash or sticky_least_loaded) keeps a "
        "conversation on the replica holding its prefix cache; per call: session_id=...",
    )
    repetition_penalty: float | None = setting(
        None, validator=number(min=0, min_exclusive=True, optional=True),
        help="vLLM repetition penalty (1.0 = none); unset = engine default",
    )
    stop: list[str] | None = setting(None, validator=_stop, help="stop strings")
    reasoning_parser: str | None = setting(
        None, validator=_parser_name,
        help="registered parser that splits reasoning from raw text (used only when the "
        "server did not split it, and always offline), e.g. step3p5",
    )
    tool_parser: str | None = setting(
        None, validator=_parser_name,
        help="registered parser that finds tool calls in raw text (used only when the server "
        "returned none, and always offline), e.g. step3p5",
    )
    chat_template_kwargs: dict[str, Any] | None = setting(
        None, validator=mapping(),
        help="extra chat-template variables, e.g. {enable_thinking: false}",
    )
    extra_body: dict[str, Any] | None = setting(
        None, validator=mapping(),
        help="extra request fields passed through to vLLM (offline: extra SamplingParams)",
    )
    # --- engine arguments for offline mode; max_model_len is also the context budget ---
    max_model_len: int | None = setting(
        None, validator=integer(min=1, optional=True),
        help="context length in tokens (server: unset = what the server reports)",
    )
    tensor_parallel_size: int = setting(
        1, validator=integer(min=1), help="offline: GPUs to split the model over"
    )
    gpu_memory_utilization: float | None = setting(
        None, validator=number(min=0, min_exclusive=True, max=1, optional=True),
        help="offline: share of GPU memory vLLM may use; unset = vLLM's default",
    )
    dtype: str = setting(
        "auto", validator=string(), help="offline: weights dtype (auto, bfloat16, float16, float32)"
    )
    enforce_eager: bool = setting(
        False, validator=boolean(), help="offline: disable CUDA graphs / compilation"
    )
    trust_remote_code: bool = setting(
        False, validator=boolean(), help="offline: allow the model repository's own code to run"
    )

    def __attrs_post_init__(self) -> None:
        if self.mode == "offline" and not self.model:
            raise ValueError(
                "mode 'offline' needs a model: a Hugging Face id or a local model directory "
                "(set model=... or MEMSCREEN_VLLM_MODEL)"
            )
        if urllib.parse.urlsplit(self.base_url).query:
            raise ValueError("base_url must not have a query string")

    @property
    def server_root(self) -> str:
        """Where vLLM serves /health and /tokenize (base_url without /v1)."""
        return server_root(self.base_url)
