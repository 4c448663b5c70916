"""Building a chat-completions request from a `ChatRequest`: pure, no I/O, no SDK."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` (stream settings aside).

    `max_tokens` is the budget the caller settled on; `tool_choice` overrides the request's
    (e.g. "none" when the server cannot parse calls); `body` adds engine fields under the
    config's `extra_body` and the call's own `extra_body`, which wins.
    """
    params: dict[str, Any] = {"model": model, "messages": wire_messages(request.messages)}
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


def tokenize_body(request: ChatRequest, config: Any, model: str) -> dict[str, Any]:
    """The body of a `/tokenize` request (vLLM, SGLang) counting the prompt the chat
    request renders: the same messages, tools and chat-template variables."""
    body: dict[str, Any] = {
        "model": model,
        "messages": wire_messages(request.messages),
        "add_generation_prompt": True,
    }
    if request.tools:
        body["tools"] = [dict(tool) for tool in request.tools]
    template = template_kwargs(request, config)
    if template:
        body["chat_template_kwargs"] = template
    return body


# The first bytes of base64-encoded images, by type: Ollama's `images` carry no MIME type.
_BASE64_MAGIC = {"iVBOR": "image/png", "/9j/": "image/jpeg", "R0lGOD": "image/gif",
                 "UklGR": "image/webp"}


def wire_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages in OpenAI's shape. Ollama's `images: [base64, ...]` (how MemScreen sends a
    screenshot) become `image_url` content parts: never dropped on the way."""
    out = []
    for message in messages:
        item = dict(message)
        images = item.pop("images", None)
        if images:
            text = item.get("content")
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if isinstance(
                text, str) and text else list(text or [])
            parts += [{"type": "image_url", "image_url": {"url": _data_url(image)}}
                      for image in images]
            item["content"] = parts
        out.append(item)
    return out


def _data_url(image: Any) -> str:
    if isinstance(image, bytes | bytearray):
        import base64

        image = base64.b64encode(image).decode("ascii")
    if not isinstance(image, str):
        from ..errors import UsageError

        raise UsageError(f"an entry of a message's images is {type(image).__name__}; "
                         "expected base64 text or bytes")
    if image.startswith("data:"):
        return image
    mime = next((m for magic, m in _BASE64_MAGIC.items() if image.startswith(magic)),
                "image/png")
    return f"data:{mime};base64,{image}"
