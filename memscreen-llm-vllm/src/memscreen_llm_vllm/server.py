"""`VllmServerLLM`: a vLLM OpenAI-compatible server, on core's `openai_compat` kit.

The request path is the kit's — choose the model, prepare, send, read — with vLLM's two
additions: the prompt is bounded against the served context (counted by the server's
`/tokenize` when it may not fit, so an over-long prompt fails before it is sent and
`max_tokens` is clamped to the room left), and two refusals are understood and recovered
from by preparing the call again with what they taught (the real context length; no
server-side tool parser, so tools go with tool_choice "none" and are parsed client-side).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator
from typing import Any

import openai

from memscreen_llm import BackendIdentity, ChatRequest, HealthReport
from memscreen_llm.errors import MemscreenLLMError, VisionUnsupportedError
from memscreen_llm.openai_compat import (
    CLIENT_ERRORS,
    Call,
    Create,
    Op,
    OpenAICompatLLM,
    Post,
    setting,
    tokenize_body,
)

from . import _context, _health, _messages
from ._errors import (
    context_limit,
    is_context_refusal,
    is_image_cache_miss,
    is_missing_tool_parser,
    vllm_error,
)
from .config import SESSION_HEADER, VllmConfig

Steps = Generator[Op, Any, Any]


# A 32x32 grey PNG: the smallest image every vision processor takes, for the probe.
_PROBE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAAKElEQVR42u3"
          "NQQEAAAQEMCS/6Erw2wqsk9SnqWcCgUAgEAgEAoHgygK+PQHAs0oJIwAAAABJRU5ErkJggg==")


class _SeenImages:
    """Digests of the images the server answered lately (the newest kept). vLLM keys its
    multimodal cache by the part's `uuid` and takes a part without data for a key it
    has, so a screenshot sent again goes as its uuid alone; a miss is recovered from."""

    KEPT = 256

    def __init__(self) -> None:
        self.enabled = True
        self._digests: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def leave_out(self, messages: list[dict[str, Any]]) -> None:
        """Drop the data of image parts whose uuid the server has (in place)."""
        if not self.enabled:
            return
        with self._lock:
            for part in _image_parts(messages):
                if part["uuid"] in self._digests:
                    part["image_url"] = None

    def took(self, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            for part in _image_parts(messages):
                self._digests[part["uuid"]] = None
                self._digests.move_to_end(part["uuid"])
            while len(self._digests) > self.KEPT:
                self._digests.popitem(last=False)


def _image_parts(messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            yield from (part for part in content
                        if isinstance(part, dict) and part.get("type") == "image_url"
                        and "uuid" in part)


@dataclasses.dataclass
class VllmCall(Call):
    """A call with the prompt's count, when the server counted it."""

    request: ChatRequest | None = None
    count: _context.PromptCount | None = None


class VllmServerLLM(OpenAICompatLLM):
    """A backend bound to one vLLM server: one sync client serves every call, and one
    async client per event loop."""

    engine = "vLLM"
    image_uuids = True  # vLLM keys its multimodal cache by an item's `uuid`
    extra_call_options = _messages.CALL_OPTIONS
    config: VllmConfig

    # The request, then one retry for each kind of recoverable refusal.
    ATTEMPTS = 3

    def __init__(self, config: VllmConfig, identity: BackendIdentity | None = None) -> None:
        super().__init__(config, identity)
        # False once the server says it has no tool-call parser (tool_choice "auto" refused):
        # then tools go with tool_choice "none" and the client-side parser finds the calls.
        self._server_tool_choice = True
        # Images the server took lately, by digest: sent again by their uuid alone.
        self._seen_images = _SeenImages()

    # --- prepare: bound the prompt against the context ---

    def _prepare(self, request: ChatRequest, model: str) -> Steps:
        max_context = yield from self._max_context(model)
        count = None
        # Images: not counted first (that would send each twice); a prompt too long is
        # refused by the server, then counted and fitted in _recover.
        if max_context is not None and not request.images and not _context.clearly_fits(
                request.messages, request.tools, max_context,
                setting(request, self.config, "max_tokens")):
            count = yield from self._count(request, model)
        return self._call(request, model, max_context, count)

    def _max_context(self, model: str) -> Generator[Op, Any, int | None]:
        if self.config.max_model_len is not None:
            return self.config.max_model_len
        served = yield from self._served_models()
        return next((m.max_model_len for m in served if m.id == model), None)

    def _count(self, request: ChatRequest, model: str) -> Steps:
        """Prompt tokens from the server's /tokenize; an estimate if it cannot count."""
        try:
            answer = yield Post(f"{self.config.server_root}/tokenize",
                                tokenize_body(request, self.config, model,
                                              image_uuids=self.image_uuids))
        except CLIENT_ERRORS as exc:
            if isinstance(exc, openai.APIConnectionError):  # the chat would fail the same way
                raise self._error(exc, model) from exc
            answer = None  # no /tokenize here (not vLLM), or it refused: estimate
        if isinstance(answer, dict) and isinstance(answer.get("count"), int):
            return _context.PromptCount(answer["count"])
        return _context.estimate(request.messages, request.tools)

    def _call(self, request: ChatRequest, model: str, max_context: int | None,
              count: _context.PromptCount | None) -> VllmCall:
        """The call, built once from everything known: pure."""
        max_tokens = setting(request, self.config, "max_tokens")
        if count is not None and max_context is not None:
            max_tokens = _context.fit(count, max_context, max_tokens)
        # Without a server-side tool parser vLLM renders the tools but refuses "auto";
        # "none" still renders them, and the client-side parser finds the calls.
        choice = "none" if not self._server_tool_choice and self.parsers.has_tool_parser else None
        params = self._params(request, model, max_tokens=max_tokens, tool_choice=choice,
                              body=_messages.vllm_body(request))
        if request.images:
            self._seen_images.leave_out(params["messages"])
        session = setting(request, self.config, "session_id")
        if session:  # a router keeps the conversation on one replica (docs/SCALING.md)
            params["extra_headers"] = {SESSION_HEADER: session}
        return VllmCall(params, self._parser(request), max_context=max_context,
                        request=request, count=count)

    # --- send: recover from the refusals vLLM explains ---

    def _send(self, call: Call, stream: bool) -> Steps:
        assert isinstance(call, VllmCall)
        for attempt in range(self.ATTEMPTS):
            try:
                answer = yield Create(call.params, stream)
                self._seen_images.took(call.params["messages"])
                return answer
            except CLIENT_ERRORS as exc:
                again = None
                if attempt < self.ATTEMPTS - 1:
                    again = yield from self._recover(exc, call)
                if again is None:
                    raise (yield from self._typed_error(exc, call.model)) from exc
                call = again
        raise AssertionError("unreachable")

    def _recover(self, exc: BaseException, call: VllmCall) -> Generator[Op, Any, VllmCall | None]:
        """The call to send instead, or None when `exc` is final."""
        assert call.request is not None
        request, model = call.request, call.model
        if is_context_refusal(exc):
            # Refused for its length: count it if it was only bounded, or budget against
            # the smaller context the server names. ContextLengthError if it cannot fit.
            limit = context_limit(exc)
            lowered = limit is not None and (call.max_context is None or limit < call.max_context)
            max_context = limit if lowered else call.max_context
            if max_context is None or not (lowered or call.count is None):
                return None
            count = call.count or (yield from self._count(request, model))
            return self._call(request, model, max_context, count)
        if is_image_cache_miss(exc) and self._seen_images.enabled:
            # The server no longer has an image sent by its uuid: send every image whole,
            # from now on (a server whose cache keeps missing is not worth the round trip).
            self._seen_images.enabled = False
            return self._call(request, model, call.max_context, call.count)
        if (is_missing_tool_parser(exc) and self.parsers.has_tool_parser
                and call.params.get("tool_choice") == "auto"):
            self._server_tool_choice = False
            return self._call(request, model, call.max_context, call.count)
        return None

    def _error(self, exc: BaseException, model: str | None,
               served: list[str] | None = None, what: str = "chat") -> MemscreenLLMError:
        own = vllm_error(exc, url=self.shown_url, identity=self.identity, model=model,
                         served=served, embeddings=what == "embeddings")
        return own or super()._error(exc, model, served, what)

    # --- can the model see: /tokenize renders an image without generating ---

    def _can_see(self, model: str) -> bool | None:
        if model in self._blind:
            return False
        body = {"model": model, "add_generation_prompt": True, "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": _PROBE}},
                                         {"type": "text", "text": "?"}]}]}
        try:
            self._run(self._probe_path(body), self._budget())
        except VisionUnsupportedError:
            return False
        except MemscreenLLMError:
            return None  # no /tokenize (a router, an older server): unknown until an image
        return True

    def _probe_path(self, body: dict[str, Any]) -> Steps:
        try:
            yield Post(f"{self.config.server_root}/tokenize", body)
        except CLIENT_ERRORS as exc:
            raise self._error(exc, body["model"]) from exc

    # --- health ---

    def _health(self) -> HealthReport:
        root = self.config.server_root
        probe = self._client.with_options(max_retries=0, timeout=min(self.config.timeout, 10.0))
        try:
            probe.get(f"{root}/health", cast_to=str)
            status: int | str = 200
        except CLIENT_ERRORS as exc:
            status = getattr(exc, "status_code", None) or type(exc).__name__
        workers = self._router_workers(probe, root)
        served: Any
        try:
            listable = status in (200, 404) or (workers is not None and any(
                w.get("is_healthy") is True for w in workers))
            served = self.served_models() if listable else ()
        except MemscreenLLMError as exc:
            served = exc
        return _health.server_report(self.identity, self.config, status, served, workers)

    @staticmethod
    def _router_workers(probe: Any, root: str) -> list[dict[str, Any]] | None:
        """A router's workers (vllm-router's GET /workers), or None: not a router."""
        try:
            answer = probe.get(f"{root}/workers", cast_to=object)
        except CLIENT_ERRORS:
            return None  # vLLM itself has no /workers (404)
        except ValueError:  # not JSON: not a router
            return None
        return list(answer["workers"]) if _health.is_router_listing(answer) else None


__all__ = ["VllmServerLLM"]
