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
from memscreen_llm.openai_compat import wire_messages

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
    """Messages for `LLM.chat`: assistant tool-call arguments as mappings, not JSON text
    (templates iterate them, e.g. `arguments|items`), content never None, and core's
    `ImagePart`s as `image_url` parts (data URLs; the digest as the engine's cache uuid)."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(wire_messages(messages, image_uuids=True)):
        item = dict(message)
        if item.get("content") is None:
            item["content"] = ""
        if item.get("tool_calls"):
            item["tool_calls"] = [_call_for_template(call, index) for call in item["tool_calls"]]
        out.append(item)
    return out


def text_only(conversation: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`conversation` without its image parts: what a tokenizer's template can count."""
    out = []
    for message in conversation:
        item = dict(message)
        if isinstance(item.get("content"), list):
            item["content"] = [part for part in item["content"]
                               if not (isinstance(part, Mapping)
                                       and part.get("type") == "image_url")]
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
