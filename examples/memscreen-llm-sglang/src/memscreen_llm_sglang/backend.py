"""`SglangLLM`: an SGLang server through its OpenAI-compatible API, on core's kit.

The kit (`memscreen_llm.openai_compat`) does the request path: chat, streaming, asyncio,
tools (fragments gathered into whole calls), reasoning (SGLang's `reasoning_content`),
JSON output, embeddings, typed errors, per-call `extra_body`, and the client-side parsers
named by `reasoning_parser` / `tool_parser`. What is SGLang's own is its name and its
`/health` route, which answers 503 while the model is still loading.
"""

from __future__ import annotations

from memscreen_llm import HealthCheck, HealthReport
from memscreen_llm.config import redact_url
from memscreen_llm.openai_compat import CLIENT_ERRORS, OpenAICompatLLM

from .config import SglangConfig


class SglangLLM(OpenAICompatLLM):
    engine = "SGLang"  # in messages: "SGLang at http://... answered HTTP 500: ..."
    config: SglangConfig

    def _health(self) -> HealthReport:
        """GET /health (up, model loaded), then the kit's checks on /v1/models."""
        url = f"{self.config.server_root}/health"
        shown = redact_url(url)  # a password in the URL is never shown
        try:
            self._client.with_options(max_retries=0, timeout=10.0).get(url, cast_to=str)
        except CLIENT_ERRORS as exc:
            status = getattr(exc, "status_code", None)  # None: no answer at all
            return HealthReport(self.backend_name, [HealthCheck(
                "server", False, f"{shown}: " + (f"HTTP {status}" if status else "unreachable"),
                fix="see the server's log (503: still loading)" if status
                else self.identity.compose_hint)])
        return super()._health()


__all__ = ["SglangLLM"]
