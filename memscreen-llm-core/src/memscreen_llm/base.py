"""`LLMBase`: the interface every backend implements, and the checks it does for all of them."""

from __future__ import annotations

import abc
import difflib
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from ._options import fold_options
from ._urls import guard_http_logs
from .config import BaseLlmConfig
from .errors import CapabilityError, UsageError
from .specs import BackendIdentity
from .types import (
    Capability,
    ChatDelta,
    ChatRequest,
    ChatResult,
    HealthReport,
    StreamJoiner,
)

Messages = Sequence[Mapping[str, Any]]
Tools = Sequence[Mapping[str, Any]]
ToolChoice = str | Mapping[str, Any] | None
Format = Mapping[str, Any]

# Per-call options every backend accepts; a backend adds its own in `extra_call_options`.
COMMON_CALL_OPTIONS = frozenset(
    {"model", "temperature", "top_p", "top_k", "max_tokens", "seed", "stop"}
)
_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})


class LLMBase(abc.ABC):
    """A configured backend.

    The subclass surface (docs/writing-a-backend.md, "What a backend implements"):

    - implement `_chat(request)` and `_health()`; per declared capability `_stream`,
      `_achat`, `_astream`, `_embed`; `close()` when it holds connections;
    - declare `capabilities`, `extra_call_options` (per-call options beyond the common
      ones) and, optionally, `capability_notes` (why an undeclared capability is missing);
    - may use `self.config`, `self.identity` (name, env names, the server's start command),
      `build_request()` (for batch APIs), `_require()`.

    The public methods validate the request, check the declared `capabilities`, and
    raise `CapabilityError` for anything undeclared, so no request is silently dropped.
    A per-call option given as None means "use the config": it never reaches `_chat`.
    MemScreen's `options={"num_predict": ..., "temperature": ...}` (Ollama's names) works on
    every backend: core folds it into the per-call options (see `option_aliases`).
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    extra_call_options: ClassVar[frozenset[str]] = frozenset()
    capability_notes: ClassVar[Mapping[Capability, str]] = {}
    # Ollama option names (in a per-call `options={...}`) this backend takes under its own
    # per-call names, beyond core's common ones, e.g. {"repeat_penalty": "repetition_penalty"}.
    option_aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: BaseLlmConfig, identity: BackendIdentity | None = None) -> None:
        self.config = config
        self.identity = identity or _identity_for(type(config), type(self))
        guard_http_logs()  # a password in a URL stays out of the HTTP libraries' logs

    @property
    def backend_name(self) -> str:
        """The name the backend was registered (and created) under."""
        return self.identity.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # --- the MemScreen / mem0 entry point ---

    def generate_response(
        self,
        messages: Messages,
        tools: Tools | None = None,
        tool_choice: str | Mapping[str, Any] = "auto",
        response_format: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> str | dict[str, Any]:
        """Text, or `{"content", "tool_calls": [{"name", "arguments"}]}` when tools were given."""
        result = self.chat(
            messages, tools=tools, tool_choice=tool_choice, response_format=response_format,
            **kwargs,
        )
        return result.to_memscreen(tools_given=bool(tools))

    # --- chat, streaming, async: one signature, the request built by build_request ---

    def chat(self, messages: Messages, *, tools: Tools | None = None,
             tool_choice: ToolChoice = "auto", response_format: Format | None = None,
             **options: Any) -> ChatResult:
        """One chat turn; the result names the backend that answered (`backend`)."""
        return self._answered(self._chat(self.build_request(messages, tools, tool_choice,
                                                            response_format, options)))

    def stream(self, messages: Messages, *, tools: Tools | None = None,
               tool_choice: ToolChoice = "auto", response_format: Format | None = None,
               **options: Any) -> Iterator[ChatDelta]:
        """One chat turn as deltas; tool calls arrive whole."""
        self._require(Capability.STREAMING)
        return self._stream(self.build_request(messages, tools, tool_choice, response_format,
                                               options))

    async def achat(self, messages: Messages, *, tools: Tools | None = None,
                    tool_choice: ToolChoice = "auto", response_format: Format | None = None,
                    **options: Any) -> ChatResult:
        """`chat` for asyncio."""
        self._require(Capability.ASYNC)
        return self._answered(await self._achat(self.build_request(
            messages, tools, tool_choice, response_format, options)))

    def astream(self, messages: Messages, *, tools: Tools | None = None,
                tool_choice: ToolChoice = "auto", response_format: Format | None = None,
                **options: Any) -> AsyncIterator[ChatDelta]:
        """`stream` for asyncio."""
        self._require(Capability.ASYNC)
        self._require(Capability.STREAMING)
        return self._astream(self.build_request(messages, tools, tool_choice,
                                                response_format, options))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One embedding vector per text."""
        self._require(Capability.EMBEDDINGS)
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise UsageError("embed() takes a list of strings")
        return self._embed(list(texts))

    def health(self) -> HealthReport:
        """Check the engine: reachable, model present, context size."""
        return self._health()

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release connections; the backend is unusable afterwards."""

    def __enter__(self) -> LLMBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def can_see(self, model: str | None = None) -> bool | None:
        """Whether `model` (default: the configured one) takes images: as the engine says,
        or None when it cannot tell before an image is sent (docs/VISION.md)."""
        if Capability.VISION not in self.capabilities:
            return False
        chosen = model or self.config.model
        return self._can_see(chosen) if chosen else None

    def _can_see(self, model: str) -> bool | None:
        return None  # the backend can take images; whether this model can, it cannot tell

    def supports(self, capability: Capability | str) -> bool:
        return Capability(capability) in self.capabilities

    # --- what subclasses implement ---

    @abc.abstractmethod
    def _chat(self, request: ChatRequest) -> ChatResult: ...

    def _stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        raise CapabilityError(self.backend_name, "streaming")

    async def _achat(self, request: ChatRequest) -> ChatResult:
        # A backend declaring ASYNC without its own `_achat` gets one built on `_astream`.
        joiner = StreamJoiner()
        async for delta in self._astream(request):
            joiner.add(delta)
        return joiner.result()

    def _astream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        raise CapabilityError(self.backend_name, "async streaming")

    def _embed(self, texts: list[str]) -> list[list[float]]:
        raise CapabilityError(self.backend_name, "embeddings")

    @abc.abstractmethod
    def _health(self) -> HealthReport: ...

    def _answered(self, result: ChatResult) -> ChatResult:
        """`result` with `backend` set to this backend's name, unless it names one."""
        if result.backend is not None:
            return result
        return attrs.evolve(result, backend=self.backend_name)

    # --- shared checks ---

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise CapabilityError(self.backend_name, capability.value,
                                  self.capability_notes.get(capability, ""))

    def build_request(
        self,
        messages: Messages,
        tools: Tools | None = None,
        tool_choice: ToolChoice = "auto",
        response_format: Format | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ChatRequest:
        """The validated request the `_chat` family receives (None-valued options dropped)."""
        options = {name: value for name, value in (options or {}).items() if value is not None}
        options = fold_options(options, backend=self.backend_name, aliases=self.option_aliases,
                               native="options" in self.extra_call_options)
        _check_option_values(type(self.config), options)
        _check_messages(messages)
        images = 0
        from . import _vision  # here: loaded by the first request, not by discovery

        if _vision.has_images(messages):
            self._require(Capability.VISION)
        if _vision.needs_normalizing(messages):
            from ._image_prep import ImageSettings

            messages = _vision.normalize_messages(messages, ImageSettings.from_config(self.config))
            images = _vision.count_images(messages)
        if tools:
            self._require(Capability.TOOLS)
            _check_tools(tools)
        if response_format is not None and _check_response_format(response_format) != "text":
            self._require(Capability.JSON_SCHEMA)
        self._check_options(options)
        return ChatRequest(
            messages=tuple(messages),
            tools=tuple(tools) if tools else None,
            tool_choice=tool_choice if tools else None,
            response_format=response_format,
            options=options,
            images=images,
        )

    def _check_options(self, options: Mapping[str, Any]) -> None:
        allowed = COMMON_CALL_OPTIONS | self.extra_call_options
        for name in options:
            if name not in allowed:
                close = difflib.get_close_matches(name, sorted(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UsageError(
                    f"unknown option {name!r} for backend {self.backend_name!r}{hint} "
                    f"(accepted: {', '.join(sorted(allowed))})"
                )


def _check_messages(messages: Messages) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise UsageError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise UsageError(f"messages[{index}] must be a dict with a 'role'")
        role = message["role"]
        if not isinstance(role, str) or role not in _ROLES:
            raise UsageError(
                f"messages[{index}] has role {role!r}; expected one of {', '.join(sorted(_ROLES))}"
            )
        _check_content(index, role, message.get("content"))


def _check_content(index: int, role: str, content: Any) -> None:
    """Text, a list of content parts (or one part, as mem0 sends an image), or None for an
    assistant turn (its tool calls). Image parts are checked where they are loaded."""
    if isinstance(content, str):
        _check_text(f"messages[{index}].content", content)
    elif isinstance(content, Mapping):
        _check_content(index, role, [content])
    elif isinstance(content, list | tuple):
        for number, part in enumerate(content):
            if _is_image_part(part):
                continue
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise UsageError(f"messages[{index}].content[{number}] must be a content part "
                                 "like {'type': 'text', 'text': ...}")
            if isinstance(part.get("text"), str):
                _check_text(f"messages[{index}].content[{number}].text", part["text"])
    elif content is not None or role != "assistant":
        raise UsageError(
            f"messages[{index}].content must be a string or a list of content parts, got "
            f"{type(content).__name__}" + ("; decode bytes first" if isinstance(
                content, bytes | bytearray) else ""))


def _is_image_part(part: Any) -> bool:
    # The module is loaded whenever an ImagePart exists; text-only apps never load it.
    module = sys.modules.get("memscreen_llm._image_part")
    return module is not None and isinstance(part, module.ImagePart)


def _check_text(where: str, text: str) -> None:
    if not text.isascii():  # only non-ASCII text can hold what UTF-8 cannot encode
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError(f"{where} is not valid text: {exc.reason} at character "
                             f"{exc.start} (a lone surrogate?)") from None


def _check_tools(tools: Tools) -> None:
    shape = "{'type': 'function', 'function': {'name': ..., 'parameters': {...}}}"
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            raise UsageError(f"tools[{index}] must be an OpenAI tool: {shape}")
        if not isinstance(function["name"], str):
            raise UsageError(f"tools[{index}].function.name must be a string, got "
                             f"{type(function['name']).__name__}")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise UsageError(f"tools[{index}].function.parameters must be a JSON schema "
                             f"object, got {type(parameters).__name__}: {shape}")


def _check_response_format(response_format: Mapping[str, Any]) -> str:
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "json_schema":
        schema = response_format.get("json_schema")
        if not isinstance(schema, Mapping) or not isinstance(schema.get("schema"), Mapping):
            raise UsageError(
                "response_format json_schema needs {'type': 'json_schema', "
                "'json_schema': {'name': ..., 'schema': {...}}}"
            )
    elif kind not in ("json_object", "text"):
        raise UsageError(
            "response_format must be {'type': 'json_object'} or "
            "{'type': 'json_schema', 'json_schema': {...}}"
        )
    return str(kind)


def _identity_for(config_class: type, backend_class: type) -> BackendIdentity:
    """For a backend made without the factory (old plugins, direct construction): the
    registered backend whose config class this is (not a preset), else the class name."""
    from ._discovery import get_registry

    target = f"{config_class.__module__}:{config_class.__qualname__}"
    for registered in get_registry().backends.values():
        spec = registered.spec
        if spec.extends is None and spec.config_class in (config_class, target):
            return registered.identity
    return BackendIdentity(name=backend_class.__name__.lower())


def _check_option_values(config_class: type[BaseLlmConfig], options: Mapping[str, Any]) -> None:
    """A per-call option that is also a config field gets the field's own check."""
    fields = _validated_fields(config_class)
    for name, value in options.items():
        field = fields.get(name)
        if field is None or (name == "stop" and isinstance(value, str)):  # one stop string
            continue
        try:
            field.validator(None, field, value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}={value!r} (per call): {exc}") from None


_FIELDS: dict[type, dict[str, Any]] = {}


def _validated_fields(config_class: type[BaseLlmConfig]) -> dict[str, Any]:
    if config_class not in _FIELDS:
        import attrs

        _FIELDS[config_class] = {f.name: f for f in attrs.fields(config_class)
                                 if f.validator is not None}
    return _FIELDS[config_class]
