"""vLLM's own request fields, and chat history shaped for a chat template (offline mode).

Everything OpenAI-shaped comes from core's `memscreen_llm.openai_compat` kit; this holds
only what is vLLM's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import ChatRequest, ResponseParseError
from memscreen_llm.openai_compat import CALL_OPTIONS as OPENAI_CALL_OPTIONS

# Per-call options both modes take beyond core's common ones (session_id: the server's
# router reads it; offline it has nothing to route, so it is not used).
CALL_OPTIONS = OPENAI_CALL_OPTIONS | {"structured_outputs", "skip_special_tokens", "session_id"}


def vllm_body(request: ChatRequest) -> dict[str, Any]:
    """vLLM's request-body fields set per call (laid under the call's `extra_body`)."""
    body: dict[str, Any] = {}
    options = request.options
    if "structured_outputs" in options:
        body["structured_outputs"] = dict(options["structured_outputs"])
    if "skip_special_tokens" in options:
        body["skip_special_tokens"] = bool(options["skip_special_tokens"])
    return body


def to_template_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages for a chat template: assistant tool-call arguments as mappings, not JSON text
    (templates iterate them, e.g. `arguments|items`), and content never None."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        item = dict(message)
        if item.get("content") is None:
            item["content"] = ""
        if item.get("tool_calls"):
            item["tool_calls"] = [_call_for_template(call, index) for call in item["tool_calls"]]
        out.append(item)
    return out


def _call_for_template(call: Mapping[str, Any], index: int) -> dict[str, Any]:
    item = dict(call)
    function = dict(item.get("function") or {})
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            function["arguments"] = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ResponseParseError(
                f"messages[{index}]: tool call {function.get('name')!r} has arguments that "
                f"are not JSON: {exc}"
            ) from None
    item["function"] = function
    return item
