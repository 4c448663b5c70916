"""`SglangConfig`: the settings of the `sglang` backend, each validated where it is declared.

Every field can be set in code, as MEMSCREEN_SGLANG_<FIELD>, or in `[llm.sglang]` of
memscreen-llm.toml; core layers those sources and names the source of a bad value.
`model`, `temperature`, `top_p`, `top_k`, `max_tokens`, `seed`, `timeout` and `api_key`
(the server's --api-key, a secret) come from `BaseLlmConfig`.
"""

from __future__ import annotations

import attrs

from memscreen_llm.config import BaseLlmConfig, http_url, setting, string, url_ending

DEFAULT_BASE_URL = "http://localhost:30000/v1"  # SGLang's default port


@attrs.frozen(kw_only=True)
class SglangConfig(BaseLlmConfig):
    """Config of the `sglang` backend (env: MEMSCREEN_SGLANG_<FIELD>)."""

    base_url: str = setting(
        DEFAULT_BASE_URL, validator=http_url(), converter=url_ending("/v1"),
        env=("MEMSCREEN_SGLANG_URL",),
        help="SGLang server URL, with or without /v1, e.g. http://localhost:30000",
    )
    reasoning_parser: str | None = setting(
        None, validator=string(optional=True),
        help="registered parser that splits reasoning out of raw text, when the server "
        "does not (started without --reasoning-parser)",
    )
    tool_parser: str | None = setting(
        None, validator=string(optional=True),
        help="registered parser that finds tool calls in raw text, when the server "
        "does not (started without --tool-call-parser)",
    )

    @property
    def server_root(self) -> str:
        """Where SGLang serves /health: base_url without /v1."""
        return self.base_url.removesuffix("/v1")
