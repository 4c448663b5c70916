"""Ollama's silent truncation made loud: `ContextLengthError`, not an answer to a cut prompt.

How Ollama 0.9 fits a prompt into its context window (`num_ctx`) — with no error, and
nothing in the answer that says so (seen on the 0.9.3 engine the tests run):

- the server drops whole messages from the front until the rendered prompt fits. It
  keeps the last message always, and the system messages before the ones it keeps; when
  only the last message fits, a system prompt goes too;
- the model runner then cuts what is still too long down to exactly `num_ctx` tokens
  (keeping the first `num_keep`), and says so only in the server's log.

Ollama 0.9 cannot count tokens for a client (no tokenize endpoint), so this works from:

- the window: `num_ctx` per call, in the config or its `options`, else the model's
  Modelfile `num_ctx` (/api/show, fetched once per model), else Ollama's default: 4096 in
  0.9, or the server's OLLAMA_CONTEXT_LENGTH (read from this process's environment: the
  server's own is out of sight).
  Never more than the model's trained context length: Ollama clamps `num_ctx` to it;
- the answer's `prompt_eval_count` (P): the tokens the model was given;
- a floor under the prompt's token count: its number of words (whitespace-separated runs).
  The tokenizers of current models (GPT-2-style and SentencePiece BPE, Llama 3, Qwen,
  Mistral, Gemma) do not join two words into one token, so a prompt of W words is at
  least W tokens: English runs about 1.3 tokens a word, code and other scripts more. A
  character estimate (say chars / 4) is no floor: 16 spaces or a long run of `=` can be
  one token. Words of user and assistant messages and of the last system message count
  (templates render those; a tool result or an older system message may not be).

The checks:

1. before sending, when the window is known (not Ollama's default): floor > window
   raises at once; nothing is sent (a stream fails before its first delta);
2. after the answer: P >= window means the runner cut the prompt to the window (for
   Ollama's default window, which the server may have changed, only P == it exactly);
3. after the answer: P < floor means messages were dropped. Only on Ollama < 0.30, whose
   prompt_eval_count counts cached prompt tokens too (from 0.30 some releases count only
   the new ones, which would look like dropped messages); off when the version is unknown.

4. before sending, for a conversation with images: Ollama budgets 768 tokens for each
   image (whatever the projector makes of it) when it picks the messages that fit, so
   floor + 768 x images > a known window means the earlier messages would go.

`embed()` asks /api/embed not to cut (`truncate: false`) and turns its refusal into the
same error.

Not caught: a few old messages dropped from a conversation near the limit (P stays over
the floor); a cut on a server whose default window is not the one assumed, unless P
falls under the floor. Wrongly raised, in principle: a prompt of exactly the window's
size (check 2), or one whose template leaves out user or assistant text (check 3).
`truncate=True` (per call, or `options={"truncate": true}` in the config) accepts the
cut: a warning is logged instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
import ollama
import pydantic

from memscreen_llm.errors import ContextLengthError, UsageError
from memscreen_llm.types import StreamJoiner

log = logging.getLogger("memscreen_llm_ollama")

OLLAMA_DEFAULT_CONTEXT = 4096  # Ollama 0.9's, unless the server sets OLLAMA_CONTEXT_LENGTH
# What Ollama counts for each image of a conversation when it fits one into num_ctx.
OLLAMA_IMAGE_BUDGET = 768
# From this release on, prompt_eval_count may leave out cached tokens (check 3 is off).
_COUNTS_NEW_TOKENS_ONLY = (0, 30)


@dataclass(frozen=True)
class ModelLimits:
    """What /api/show says about a model's context: its trained length, its Modelfile's
    num_ctx (either None when not said), and whether check 3 holds on this server."""

    trained: int | None = None
    modelfile: int | None = None
    full_prompt_counts: bool = False
    # /api/show's capabilities ("completion", "vision", "tools"...); None: not said.
    capabilities: frozenset[str] | None = None


# An /api/show or /api/version answer that says nothing usable (a proxy without them, an
# odd server): the limits are unknown, and the call goes on. Transport errors propagate.
_UNREADABLE = (ollama.ResponseError, httpx.HTTPStatusError, json.JSONDecodeError,
               pydantic.ValidationError, TypeError, AttributeError, KeyError)


class LimitsCache:
    """A backend's `ModelLimits` per model, each fetched once (/api/show), and the server's
    version (/api/version, once)."""

    def __init__(self) -> None:
        self._models: dict[str, ModelLimits] = {}
        self._version: str | None = None
        self._have_version = False

    def get(self, model: str) -> ModelLimits | None:
        return self._models.get(model)

    def forget(self, model: str | None) -> None:
        """After "model not found": ask again next time (it may have been pulled)."""
        self._models.pop(model or "", None)

    def fetch(self, client: ollama.Client, model: str) -> ModelLimits:
        try:
            shown: Any = client.show(model)
        except _UNREADABLE:
            return self._unknown(model)
        if not self._have_version:
            http = getattr(client, "_client", None)
            try:
                self._set_version(http.get("/api/version") if isinstance(http, httpx.Client)
                                  else None)
            except (httpx.HTTPError, *_UNREADABLE):
                self._set_version(None)
        return self._store(model, shown)

    async def afetch(self, client: ollama.AsyncClient, model: str) -> ModelLimits:
        try:
            shown: Any = await client.show(model)
        except _UNREADABLE:
            return self._unknown(model)
        if not self._have_version:
            http = getattr(client, "_client", None)
            try:
                self._set_version(await http.get("/api/version")
                                  if isinstance(http, httpx.AsyncClient) else None)
            except (httpx.HTTPError, *_UNREADABLE):
                self._set_version(None)
        return self._store(model, shown)

    def _set_version(self, response: httpx.Response | None) -> None:
        version = response.raise_for_status().json().get("version") if response else None
        self._version = version if isinstance(version, str) else None
        self._have_version = True

    def _store(self, model: str, shown: Any) -> ModelLimits:
        limits = self._models[model] = limits_from(shown, self._version)
        return limits

    def _unknown(self, model: str) -> ModelLimits:
        limits = self._models[model] = ModelLimits()  # until forget(): the call says why
        return limits


def limits_from(shown: Any, version: str | None) -> ModelLimits:
    """The limits in an /api/show answer (`ollama.ShowResponse`) and /api/version's string."""
    trained = None
    for key, value in dict(getattr(shown, "modelinfo", None) or {}).items():
        if key.endswith(".context_length") and _positive(value):
            trained = value
    capabilities = getattr(shown, "capabilities", None)
    return ModelLimits(trained, _modelfile_num_ctx(getattr(shown, "parameters", None) or ""),
                       _version(version) < _COUNTS_NEW_TOKENS_ONLY,
                       frozenset(map(str, capabilities)) if capabilities else None)


def _modelfile_num_ctx(parameters: str) -> int | None:
    for line in parameters.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            return int(parts[1])
    return None


def _version(text: str | None) -> tuple[int, ...]:
    """(0, 9, 3) for "0.9.3"; something past every threshold when unknown."""
    numbers = []
    for part in (text or "").split("-")[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers) if numbers else (999,)


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def opt_in(request_options: Mapping[str, Any], ollama_options: dict[str, Any]) -> bool:
    """Whether the call accepts a cut prompt: `truncate=` per call, else `truncate` in the
    merged Ollama options (config, then per call), which is taken out of them: Ollama 0.9
    has no such option."""
    value = ollama_options.pop("truncate", False)
    value = request_options.get("truncate", value)
    if not isinstance(value, bool):
        raise UsageError(f"truncate={value!r}: must be true (accept a prompt Ollama cuts to "
                         "fit num_ctx, with a warning) or false (raise ContextLengthError)")
    return value


@dataclass(frozen=True)
class ContextPlan:
    """One call's window and prompt size; `check()` it against the answer."""

    window: int
    known: bool  # set per call, in the config or the Modelfile (else Ollama's default)
    source: str
    floor: int  # the prompt has at least this many tokens
    chars: int
    full_prompt_counts: bool
    truncate: bool
    warned: bool = False

    @classmethod
    def plan(cls, params: Mapping[str, Any], limits: ModelLimits, truncate: bool) -> ContextPlan:
        """The budget of a chat request (`params` as sent, the messages in Ollama's shape);
        raises ContextLengthError when even the floor cannot fit a known window."""
        requested: Any = (params.get("options") or {}).get("num_ctx")
        window: int
        if _positive(requested):
            window, known, source = int(requested), True, "num_ctx"
        elif limits.modelfile:
            window, known, source = limits.modelfile, True, "the model's Modelfile num_ctx"
        else:
            env = os.environ.get("OLLAMA_CONTEXT_LENGTH", "")
            window = int(env) if env.isdigit() and int(env) > 0 else OLLAMA_DEFAULT_CONTEXT
            known, source = False, "Ollama's default (assumed; set num_ctx to be sure)"
        if limits.trained and limits.trained < window:
            window, source = limits.trained, f"the model's trained context, under {source}"
        messages = params.get("messages") or ()
        floor, chars = _size(messages)
        budget = cls(window, known, source, floor, chars, limits.full_prompt_counts, truncate)
        if known and floor > window:
            budget._cut(None, floor, "Ollama would cut it to fit, without saying so")
            return replace(budget, warned=True)  # truncate=True: said once is enough
        images = sum(len(message.get("images") or ()) for message in messages)
        with_images = floor + OLLAMA_IMAGE_BUDGET * images
        if known and images and len(messages) > 1 and with_images > window:
            budget._cut(None, with_images, "Ollama would drop the earlier messages, without "
                        f"saying so: it counts {OLLAMA_IMAGE_BUDGET} tokens for each image "
                        f"({images} here) when it fits a conversation into its window")
            return replace(budget, warned=True)
        return budget

    def check(self, prompt_eval_count: int | None, stream: StreamJoiner | None = None) -> None:
        """After the answer: ContextLengthError when Ollama cut the prompt (for a stream,
        what it had so far is the error's `partial`)."""
        seen = prompt_eval_count
        if self.warned or not isinstance(seen, int) or seen <= 0:
            return
        if seen >= self.window if self.known else seen == self.window:
            self._cut(stream, max(self.window + 1, self.floor),
                      f"Ollama cut it to the {seen} tokens that fit, without saying so")
        elif self.full_prompt_counts and seen < self.floor:
            self._cut(stream, max(self.window + 1, self.floor),
                      f"Ollama dropped messages from its start to fit (the model saw {seen} "
                      "tokens), without saying so")

    def _cut(self, stream: StreamJoiner | None, at_least: int, what: str) -> None:
        tokens = max(at_least, math.ceil(self.chars / 4))  # about; no tokenizer here
        error = ContextLengthError(tokens, self.window, estimated=True)
        error.args = (
            f"{error}: {what}\n  the window: {self.window} tokens, {self.source}\n  fix: "
            "shorten the prompt, or raise num_ctx (per call or in the config) if the model "
            "takes more; truncate=True accepts the cut",)
        if self.truncate:
            log.warning("%s (truncate=True: answering anyway)", error.args[0].splitlines()[0])
            return
        error.partial = stream.result() if stream else None  # type: ignore[attr-defined]
        raise error


def _size(messages: Any) -> tuple[int, int]:
    """(words that surely reach the prompt, characters of all content)."""
    words = chars = 0
    last_system = ""
    for message in messages:
        content = message.get("content") or ""
        chars += len(content)
        role = message.get("role")
        if role == "system":
            last_system = content
        elif role in ("user", "assistant"):
            words += len(content.split())
    return words + len(last_system.split()), chars


def embed_error(limits: ModelLimits, texts: Sequence[str]) -> ContextLengthError:
    """For /api/embed's "input length exceeds maximum context length" (asked not to cut):
    the longest text and the embedding model's window."""
    window = limits.modelfile or OLLAMA_DEFAULT_CONTEXT
    if limits.trained:
        window = min(window, limits.trained)
    longest = max(texts, key=len, default="")
    tokens = max(window + 1, len(longest.split()), math.ceil(len(longest) / 4))
    error = ContextLengthError(tokens, window, estimated=True)
    error.args = (
        f"{error}: a text to embed does not fit the embedding model's context (the longest "
        f"is {len(longest)} characters)\n  fix: split long texts before embedding them; "
        "options={'truncate': True} in the config lets Ollama cut them instead",)
    return error


def embed_too_long(exc: BaseException) -> bool:
    return isinstance(exc, ollama.ResponseError) and "exceeds maximum context length" in str(
        exc.error)
