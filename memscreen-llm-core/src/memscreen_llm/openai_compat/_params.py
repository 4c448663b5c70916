"""Building a chat-completions request from a `ChatRequest`: pure, no I/O, no SDK."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._image_part import ImagePart
from ..images import openai_image_part
from ..types import ChatRequest

# Sampling settings the OpenAI client takes as keyword arguments.
NATIVE = ("temperature", "top_p", "seed", "stop")
# Engine extras that OpenAI-compatible servers (vLLM, SGLang, llama.cpp) read from the body.
BODY = ("top_k", "repetition_penalty")
# Per-call options every backend on this kit accepts beyond core's common ones.
CALL_OPTIONS = frozenset({"extra_body", "chat_template_kwargs", "repetition_penalty", "timeout"})
# Ollama option names (in `options={...}`) these engines take under another name.
OPTION_ALIASES = {"repeat_penalty": "repetition_penalty"}


def setting(request: ChatRequest, config: Any, name: str) -> Any:
    """A per-call option, else the config's value (None when neither has it)."""
    value = request.options.get(name)
    return getattr(config, name, None) if value is None else value


def merged(*dicts: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dicts:
        if item:
            out.update(item)
    return out


def stop_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def template_kwargs(request: ChatRequest, config: Any) -> dict[str, Any]:
    """Chat-template variables: the config's, then the call's."""
    return merged(getattr(config, "chat_template_kwargs", None),
                  request.options.get("chat_template_kwargs"))


def chat_params(
    request: ChatRequest,
    config: Any,
    model: str,
    *,
    max_tokens: int | None,
    tool_choice: str | Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    image_uuids: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` (stream settings aside).

    `max_tokens` is the budget the caller settled on; `tool_choice` overrides the request's
    (e.g. "none" when the server cannot parse calls); `body` adds engine fields under the
    config's `extra_body` and the call's own `extra_body`, which wins; `image_uuids`: see
    `wire_messages`.
    """
    params: dict[str, Any] = {"model": model, "messages": wire_messages(
        request.messages, image_uuids=image_uuids)}
    for name in NATIVE:
        value = setting(request, config, name)
        if value is not None:
            params[name] = stop_list(value) if name == "stop" else value
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if request.tools:
        params["tools"] = [dict(tool) for tool in request.tools]
        params["tool_choice"] = tool_choice or request.tool_choice or "auto"
    if request.response_format is not None:
        params["response_format"] = dict(request.response_format)
    extra = merged(getattr(config, "extra_body", None))
    for name in BODY:
        value = setting(request, config, name)
        if value is not None:
            extra[name] = value
    template = template_kwargs(request, config)
    if template:
        extra["chat_template_kwargs"] = merged(extra.get("chat_template_kwargs"), template)
    extra.update(body or {})
    extra.update(request.options.get("extra_body") or {})
    if extra:
        params["extra_body"] = extra
    return params


def tokenize_body(request: ChatRequest, config: Any, model: str, *,
                  image_uuids: bool = False) -> dict[str, Any]:
    """The body of a `/tokenize` request (vLLM, SGLang) counting the prompt the chat
    request renders: the same messages (images too), tools and chat-template variables."""
    body: dict[str, Any] = {
        "model": model,
        "messages": wire_messages(request.messages, image_uuids=image_uuids),
        "add_generation_prompt": True,
    }
    if request.tools:
        body["tools"] = [dict(tool) for tool in request.tools]
    template = template_kwargs(request, config)
    if template:
        body["chat_template_kwargs"] = template
    return body


def wire_messages(messages: Sequence[Mapping[str, Any]], *,
                  image_uuids: bool = False) -> list[dict[str, Any]]:
    """Messages in OpenAI's shape: core's `ImagePart`s (every image input shape, see
    memscreen_llm.images) become `image_url` parts with data URLs; `image_uuids` adds each
    image's digest as its cache key (vLLM's multimodal `uuid`)."""
    out = []
    for message in messages:
        item = dict(message)
        content = item.get("content")
        if isinstance(content, list) and any(isinstance(p, ImagePart) for p in content):
            item["content"] = [openai_image_part(p, uuid=image_uuids)
                               if isinstance(p, ImagePart) else p for p in content]
        out.append(item)
    return out
