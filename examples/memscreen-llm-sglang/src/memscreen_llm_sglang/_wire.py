"""OpenAI chat-completions shapes <-> memscreen-llm types, and client errors -> typed errors.

Answers are read by attribute, so extra fields a server adds (SGLang's
`reasoning_content`) are found whatever the openai client version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import openai

from memscreen_llm import get_registry
from memscreen_llm.compose import compose_up_command
from memscreen_llm.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    MemscreenLLMError,
    ModelNotFoundError,
    ResponseParseError,
)
from memscreen_llm.parsing import OutputParser, OutputStreamer, ReasoningParser
from memscreen_llm.types import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    ToolCall,
    Usage,
    new_tool_call_id,
)

from .config import SglangConfig

Tools = Sequence[Mapping[str, Any]]

# Sampling settings the OpenAI client takes as keyword arguments.
_NATIVE = ("temperature", "top_p", "max_tokens", "seed", "stop")


def request_params(request: ChatRequest, config: SglangConfig, model: str) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create()` (stream settings aside)."""
    options = request.options
    params: dict[str, Any] = {"model": model, "messages": [dict(m) for m in request.messages]}
    for name in _NATIVE:
        value = options.get(name, getattr(config, name, None))
        if value is not None:
            params[name] = value
    # SGLang's own request fields go in the body: top_k, and whatever the caller passes
    # as `extra_body` (e.g. {"separate_reasoning": False} or constrained decoding).
    body: dict[str, Any] = {}
    top_k = options.get("top_k", config.top_k)
    if top_k is not None:
        body["top_k"] = top_k
    body.update(options.get("extra_body") or {})
    if body:
        params["extra_body"] = body
    if request.tools:
        params["tools"] = [dict(tool) for tool in request.tools]
        params["tool_choice"] = request.tool_choice or "auto"
    if request.response_format is not None:
        params["response_format"] = dict(request.response_format)
    return params


# --- client-side parsers, looked up by name in core's registry ---


class ClientParsers:
    """The parsers named by `reasoning_parser` / `tool_parser`, checked when the backend is
    created. They run on the text the server left unparsed: reasoning only when the server
    sent none of its own, tool calls only when the request had tools."""

    def __init__(self, config: SglangConfig) -> None:
        self.tool_parser = config.tool_parser
        self.reasoning: ReasoningParser | None = None
        registry = get_registry()
        for field, name, part in (("reasoning_parser", config.reasoning_parser, "reasoning"),
                                  ("tool_parser", config.tool_parser, "tool_calls")):
            if name is None:
                continue
            installed = ", ".join(registry.parser_names()) or "(none)"
            if name not in registry.parser_names():
                raise ConfigError(f"{field}: no parser named {name!r} is installed",
                                  field=field, value=name, fix=f"installed parsers: {installed}")
            parser = registry.output_parser(name)
            if getattr(parser, part) is None:
                raise ConfigError(f"{field}: parser {name!r} has no {part} part",
                                  field=field, value=name, fix=f"installed parsers: {installed}")
            if part == "reasoning":
                self.reasoning = parser.reasoning

    def for_text(self, tools: Tools | None, server_reasoning: bool) -> OutputParser | None:
        reasoning = None if server_reasoning else self.reasoning
        tool_calls = None
        if tools and self.tool_parser:
            tool_calls = get_registry().output_parser(self.tool_parser, tools).tool_calls
        if reasoning is None and tool_calls is None:
            return None
        return OutputParser(reasoning=reasoning, tool_calls=tool_calls)


# --- answers ---


def reasoning_of(message: Any) -> str | None:
    """SGLang names the field `reasoning_content`; vLLM and newer servers `reasoning`."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def _finish(reason: str | None, has_calls: bool) -> str | None:
    return "tool_calls" if has_calls and reason == "stop" else reason


def to_result(response: Any, parsers: ClientParsers, tools: Tools | None) -> ChatResult:
    """A whole answer; the client-side parsers split what the server did not."""
    if not response.choices:
        raise ResponseParseError("the server answered without any choices")
    choice = response.choices[0]
    message = choice.message
    content: str | None = message.content
    reasoning = reasoning_of(message)
    calls = [ToolCall(name=call.function.name, arguments=call.function.arguments or "{}",
                      id=call.id or new_tool_call_id())
             for call in message.tool_calls or ()]
    parser = parsers.for_text(tools, server_reasoning=reasoning is not None)
    if parser is not None and content:
        parsed = parser.parse(content)
        content, reasoning = parsed.content, reasoning or parsed.reasoning
        calls += parsed.tool_calls
    return ChatResult(content=content, reasoning=reasoning, tool_calls=calls,
                      finish_reason=_finish(choice.finish_reason, bool(calls)),
                      usage=_usage(response.usage), model=response.model)


class StreamReader:
    """Streamed chunks -> ChatDeltas.

    The server streams a tool call as fragments of its arguments: they are gathered and
    each call is emitted whole with the last delta. Raw text goes through the
    client-side parsers (decided on the first text: did the server split reasoning?).
    """

    def __init__(self, parsers: ClientParsers, tools: Tools | None) -> None:
        self._parsers, self._tools = parsers, tools
        self._decided = False
        self._streamer: OutputStreamer | None = None
        self._calls: dict[int, dict[str, Any]] = {}  # index -> id, name, argument pieces
        self._parsed_calls = False
        self.finish_reason: str | None = None
        self._usage: Usage | None = None
        self._model: str | None = None

    def feed(self, chunk: Any) -> ChatDelta | None:
        self._model = chunk.model or self._model
        self._usage = _usage(getattr(chunk, "usage", None)) or self._usage
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        self.finish_reason = choice.finish_reason or self.finish_reason
        delta = choice.delta
        for fragment in delta.tool_calls or ():
            pending = self._calls.setdefault(fragment.index or 0, {"id": None, "name": "",
                                                                   "arguments": []})
            pending["id"] = fragment.id or pending["id"]
            if fragment.function is not None:
                pending["name"] += fragment.function.name or ""
                pending["arguments"].append(fragment.function.arguments or "")
        reasoning, content = reasoning_of(delta), delta.content or None
        if not self._decided and (reasoning or content):
            self._decided = True
            parser = self._parsers.for_text(self._tools, server_reasoning=reasoning is not None)
            self._streamer = parser.streamer() if parser is not None else None
        if self._streamer is not None and content:
            parsed = self._streamer.feed(content)
            self._parsed_calls = self._parsed_calls or bool(parsed.tool_calls)
            out = ChatDelta(content=parsed.content, tool_calls=parsed.tool_calls,
                            reasoning=(reasoning or "") + (parsed.reasoning or "") or None)
        else:
            out = ChatDelta(content=content, reasoning=reasoning)
        return None if out.is_empty() else out

    def held_back(self) -> ChatDelta:
        """For a stream that broke off: text the parsers still held (no half tool calls)."""
        if self._streamer is None:
            return ChatDelta()
        tail = self._streamer.finish()
        return ChatDelta(content=tail.content, reasoning=tail.reasoning)

    def finish(self) -> ChatDelta:
        """The last delta: held-back text, whole tool calls, finish reason and usage."""
        tail = self._streamer.finish() if self._streamer is not None else ChatDelta()
        calls = list(tail.tool_calls)
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending["name"]:
                raise ResponseParseError(f"the server streamed tool call #{index} without a name")
            calls.append(ToolCall(name=pending["name"],
                                  arguments="".join(pending["arguments"]) or "{}",
                                  id=pending["id"] or new_tool_call_id()))
        return ChatDelta(content=tail.content, reasoning=tail.reasoning, tool_calls=calls,
                         finish_reason=_finish(self.finish_reason,
                                               bool(calls) or self._parsed_calls),
                         usage=self._usage, model=self._model)


# --- errors ---


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own words: {"error": {"message": ...}} or {"message": ...}."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(exc.message)


def is_unknown_model(exc: BaseException) -> bool:
    return isinstance(exc, openai.NotFoundError) and "model" in server_message(exc).lower()


def translate(exc: BaseException, config: SglangConfig, model: str | None,
              served: list[str] | None = None) -> MemscreenLLMError:
    """The typed error for a failed request; `served` lists the models for a 404."""
    url = config.base_url
    if isinstance(exc, openai.APITimeoutError):  # before its base class, APIConnectionError
        return BackendError(f"SGLang at {url} did not answer within {config.timeout:g} s")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return BackendUnavailableError(url, hint=compose_up_command("sglang"), cause=detail)
    if isinstance(exc, openai.APIStatusError):
        message = server_message(exc)
        if is_unknown_model(exc) and model:
            return ModelNotFoundError(
                model, available=served,
                fix="set model (MEMSCREEN_SGLANG_MODEL) to a served name, or start SGLang with "
                f"--model-path {model} (or --served-model-name {model})")
        if exc.status_code == 401:
            return BackendError(f"SGLang at {url} refused the request (HTTP 401: {message}); "
                                "set api_key (MEMSCREEN_SGLANG_API_KEY) to its --api-key")
        return BackendError(f"SGLang at {url} answered HTTP {exc.status_code}: {message}")
    return BackendError(f"SGLang request failed: {type(exc).__name__}: {exc}")
