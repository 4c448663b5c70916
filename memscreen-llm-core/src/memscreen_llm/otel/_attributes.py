"""The GenAI semantic conventions' attributes of a call, from what core knows (pure: no
OpenTelemetry import). docs/OBSERVABILITY.md lists every name emitted."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from .._options import OLLAMA_OPTIONS
from .._urls import redact_all_urls

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_ON = frozenset({"true", "1", "yes", "on", "span_only", "span_and_event"})

# method -> gen_ai.operation.name
OPERATIONS = {"chat": "chat", "stream": "chat", "achat": "chat", "astream": "chat",
              "embed": "embeddings"}
# per-call option (or config field) -> attribute, and the type the convention wants
_SAMPLING = (
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", float),
    ("max_tokens", "gen_ai.request.max_tokens", int),
    ("seed", "gen_ai.request.seed", int),
)
# the attributes of a span that the metrics carry too (low cardinality)
METRIC_KEYS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
               "server.address", "server.port")

_servers: dict[str, tuple[str, int] | None] = {}


def capture_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment opts in to recording prompts and answers."""
    value = (os.environ if env is None else env).get(CAPTURE_ENV, "")
    return value.strip().lower() in _CAPTURE_ON


def server_of(base_url: object) -> tuple[str, int] | None:
    """(host, port) of a backend's base_url; never its user name or password."""
    if not isinstance(base_url, str):
        return None
    if base_url not in _servers:
        try:
            parts = urllib.parse.urlsplit(base_url)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
            host = parts.hostname
        except ValueError:
            host, port = None, None
        _servers[base_url] = (host, port) if host and port else None
    return _servers[base_url]


def _effective(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The per-call options with MemScreen's `options={...}` (Ollama names) folded in."""
    given = options.get("options")
    if not isinstance(given, Mapping):
        return options
    folded = dict(options)
    for key, value in given.items():
        name = OLLAMA_OPTIONS.get(key)
        if name is not None and folded.get(name) is None:
            folded[name] = value
    return folded


def request_attributes(backend: str, config: Any, method: str, options: Mapping[str, Any],
                       response_format: Any = None) -> dict[str, Any]:
    """A call's attributes before it is sent: each sampling parameter as the call gives
    it, else as the config does."""
    operation = OPERATIONS[method]
    attributes: dict[str, Any] = {"gen_ai.operation.name": operation,
                                  "gen_ai.provider.name": backend, "gen_ai.system": backend}
    if operation == "embeddings":
        model = getattr(config, "embedding_model", None) or getattr(config, "model", None)
    else:
        if "options" in options:
            options = _effective(options)
        model = options.get("model") or getattr(config, "model", None)
        for name, key, kind in _SAMPLING:
            value = options.get(name)
            if value is None:
                value = getattr(config, name, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[key] = kind(value)
        stop = options.get("stop") or getattr(config, "stop", None)
        if stop:
            attributes["gen_ai.request.stop_sequences"] = (
                [stop] if isinstance(stop, str) else [str(s) for s in stop])
        kind_of = response_format.get("type") if isinstance(response_format, Mapping) else None
        if kind_of in ("json_object", "json_schema"):  # asked for an output format
            attributes["gen_ai.output.type"] = "json"
    if model:
        attributes["gen_ai.request.model"] = str(model)
    server = server_of(getattr(config, "base_url", None))
    if server is not None:
        attributes["server.address"], attributes["server.port"] = server
    return attributes


def result_attributes(result: Any) -> dict[str, Any]:
    """A ChatResult's attributes: response model, finish reason, engine-reported usage."""
    attributes: dict[str, Any] = {}
    if result.model:
        attributes["gen_ai.response.model"] = str(result.model)
    if result.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [str(result.finish_reason)]
    usage = result.usage
    if usage is not None:
        if usage.prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = int(usage.prompt_tokens)
        if usage.completion_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = int(usage.completion_tokens)
    return attributes


def error_type(exc: BaseException) -> str:
    """`error.type`: the exception's class name (memscreen-llm's typed errors, or what a
    backend let through)."""
    return type(exc).__qualname__


def error_description(exc: BaseException) -> str:
    """The span status' description: the error's first line, URLs' passwords redacted."""
    lines = str(exc).splitlines()
    return redact_all_urls(lines[0])[:500] if lines else type(exc).__qualname__


_IMAGE = {"type": "blob", "modality": "image"}  # an image is named, never its bytes


def _parts(content: Any, images: Any = None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [dict(_IMAGE) for _ in images or ()]  # Ollama's `images`
    if isinstance(content, str):
        return [*parts, {"type": "text", "content": content}]
    for part in [content] if isinstance(content, Mapping) else content or ():
        kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            parts.append({"type": "text", "content": part["text"]})
        elif kind in ("image_url", "image", "ImagePart"):
            parts.append(dict(_IMAGE))
        else:
            parts.append({"type": str(kind or "unknown")})
    return parts


def input_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """`gen_ai.input.messages` (opt-in): the chat history in the convention's shape."""
    out = []
    for message in messages:
        entry: dict[str, Any] = {"role": message.get("role"),
                                 "parts": _parts(message.get("content"), message.get("images"))}
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            entry["parts"].append({"type": "tool_call", "id": call.get("id"),
                                   "name": function.get("name"),
                                   "arguments": function.get("arguments")})
        if message.get("role") == "tool":
            entry["parts"] = [{"type": "tool_call_response", "id": message.get("tool_call_id"),
                               "response": message.get("content")}]
        out.append(entry)
    return json.dumps(out, ensure_ascii=False)


def output_messages(result: Any) -> str:
    """`gen_ai.output.messages` (opt-in): the answer, its reasoning and tool calls."""
    parts: list[dict[str, Any]] = []
    if result.reasoning:
        parts.append({"type": "reasoning", "content": result.reasoning})
    if result.content:
        parts.append({"type": "text", "content": result.content})
    for call in result.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name,
                      "arguments": call.arguments})
    return json.dumps([{"role": "assistant", "parts": parts,
                        "finish_reason": result.finish_reason}], ensure_ascii=False)
