"""Ollama cuts a prompt that does not fit num_ctx without a word: here it raises
ContextLengthError naming both numbers (the real engine; how: _truncation.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from memscreen_llm import ChatDelta, create_llm
from memscreen_llm.base import LLMBase
from memscreen_llm.errors import ContextLengthError
from memscreen_llm.testing.memscreen_patterns import RecordingProxy
from memscreen_llm_ollama._truncation import ContextPlan, ModelLimits, limits_from
from memscreen_llm_ollama.testing import OllamaServer
from memscreen_llm_ollama.testing.server import PARAMETERS

# The tiny model's tokenizer has no piece for "aa": 600 a's are ~600 tokens in one word,
# which no word count sees coming. Only the answer's prompt_eval_count tells.
ONE_LONG_WORD = [{"role": "user", "content": "a" * 600}]
MANY_WORDS = [{"role": "user", "content": "hello " * 600}]  # 600 words: >= 600 tokens
FITS_64 = [{"role": "user", "content": "hello " * 40}]  # ~50 tokens with the template


@pytest.fixture
def llm(server: OllamaServer) -> Iterator[LLMBase]:
    with create_llm("ollama", base_url=server.base_url, model="tiny", temperature=0.0,
                    max_tokens=8) as made:
        yield made


def _stream(llm: LLMBase, messages: Any, **options: Any) -> list[ChatDelta]:
    got: list[ChatDelta] = []
    try:
        for delta in llm.stream(messages, **options):
            got.append(delta)
    except ContextLengthError as exc:
        exc.deltas = got  # type: ignore[attr-defined]
        raise
    return got


def _astream(llm: LLMBase, messages: Any, **options: Any) -> list[ChatDelta]:
    got: list[ChatDelta] = []

    async def collect() -> None:
        async for delta in llm.astream(messages, **options):
            got.append(delta)
    try:
        asyncio.run(collect())
    except ContextLengthError as exc:
        exc.deltas = got  # type: ignore[attr-defined]
        raise
    return got


CALLS = {
    "chat": lambda llm, m, **o: llm.chat(m, **o),
    "achat": lambda llm, m, **o: asyncio.run(llm.achat(m, **o)),
    "stream": _stream,
    "astream": _astream,
}


@pytest.mark.parametrize("call", list(CALLS))
def test_a_prompt_cut_to_num_ctx_raises_with_both_numbers(llm: LLMBase, call: str) -> None:
    with pytest.raises(ContextLengthError) as caught:
        CALLS[call](llm, ONE_LONG_WORD, num_ctx=64)
    error = caught.value
    assert error.max_context == 64 and error.prompt_tokens > 64
    assert f"about {error.prompt_tokens} tokens" in str(error)
    assert "context budget of 64 tokens" in str(error) and "cut it to the 64 tokens" in str(error)
    assert "num_ctx" in str(error) and "truncate=True" in str(error)  # the fixes
    if call.endswith("stream"):  # raised before the final delta; what came is on the error
        deltas = error.deltas  # type: ignore[attr-defined]
        assert deltas and all(d.finish_reason is None for d in deltas)
        partial = error.partial  # type: ignore[attr-defined]
        assert partial.content.startswith("".join(d.content or "" for d in deltas))
        assert partial.usage.prompt_tokens == 64


@pytest.mark.parametrize("call", list(CALLS))
def test_a_prompt_that_fits_does_not_raise(llm: LLMBase, call: str) -> None:
    answer = CALLS[call](llm, FITS_64, num_ctx=64)
    usage = answer.usage if hasattr(answer, "usage") else answer[-1].usage
    assert 40 < usage.prompt_tokens < 64  # near the limit, under it


def test_a_prompt_sure_not_to_fit_is_not_sent(server: OllamaServer) -> None:
    with RecordingProxy(server.base_url) as proxy, create_llm(
            "ollama", base_url=proxy.url, model="tiny", max_tokens=8) as llm:
        for call in CALLS:
            with pytest.raises(ContextLengthError, match="would cut it") as caught:
                CALLS[call](llm, MANY_WORDS, num_ctx=64)
            assert caught.value.max_context == 64 and caught.value.prompt_tokens >= 600
        assert not proxy.bodies("/api/chat")  # raised before sending, every time


def test_the_models_own_num_ctx_is_the_window(llm: LLMBase) -> None:
    # No num_ctx given: the tiny model's Modelfile says 512 (testing/server.py).
    assert PARAMETERS["num_ctx"] == 512
    with pytest.raises(ContextLengthError, match="Modelfile num_ctx") as caught:
        llm.chat(ONE_LONG_WORD)
    assert caught.value.max_context == 512
    assert llm.chat([{"role": "user", "content": "a" * 400}]).usage.prompt_tokens < 512  # type: ignore[union-attr]


def test_num_ctx_over_the_trained_context_is_clamped(llm: LLMBase) -> None:
    # The tiny model was trained for 2048 tokens; Ollama serves 8192 as 2048.
    with pytest.raises(ContextLengthError, match="trained context") as caught:
        llm.chat([{"role": "user", "content": "a" * 2500}], num_ctx=8192)
    assert caught.value.max_context == 2048


def test_ollamas_default_window(own_server: OllamaServer) -> None:
    # A model without num_ctx gets Ollama's default (4096), clamped to its 2048 trained.
    own_server.create_model("nodefault", parameters={
        k: v for k, v in PARAMETERS.items() if k != "num_ctx"})
    with create_llm("ollama", base_url=own_server.base_url, model="nodefault",
                    max_tokens=4) as llm:
        with pytest.raises(ContextLengthError, match="assumed; set num_ctx") as caught:
            llm.chat([{"role": "user", "content": "a" * 2500}])
        assert caught.value.max_context == 2048
        assert llm.chat([{"role": "user", "content": "a" * 1500}]).usage.prompt_tokens > 1500  # type: ignore[union-attr,operator]


def test_dropped_messages_raise(llm: LLMBase) -> None:
    system = {"role": "system", "content": "hello " * 100}
    user = {"role": "user", "content": "world " * 20}
    reply = {"role": "assistant", "content": "yes " * 20}
    # Ollama drops the system prompt (it keeps the last message) and answers the rest.
    with pytest.raises(ContextLengthError, match="dropped messages") as caught:
        llm.chat([system, user], num_ctx=128)
    assert caught.value.max_context == 128 and caught.value.prompt_tokens > 120
    with pytest.raises(ContextLengthError, match="dropped messages"):
        llm.chat([system, user, reply, user], num_ctx=160)
    # The same conversation where it fits (window 512), twice (the prompt cache counts too).
    for _ in range(2):
        assert llm.chat([system, user, reply, user]).usage.prompt_tokens > 160  # type: ignore[union-attr,operator]


def test_truncate_true_warns_and_answers(server: OllamaServer,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with RecordingProxy(server.base_url) as proxy:
        with create_llm("ollama", base_url=proxy.url, model="tiny", max_tokens=4) as llm:
            with caplog.at_level(logging.WARNING, "memscreen_llm_ollama"):
                result = llm.chat(ONE_LONG_WORD, num_ctx=64, truncate=True)
            assert result.usage.prompt_tokens == 64  # type: ignore[union-attr]
            assert "context budget of 64 tokens" in caplog.text and "truncate=True" in caplog.text
        with create_llm("ollama", base_url=proxy.url, model="tiny", max_tokens=4,
                        options={"truncate": True}) as configured:
            assert len(list(configured.stream(ONE_LONG_WORD, num_ctx=64))) > 1
            with pytest.raises(ContextLengthError):  # per call wins over the config
                configured.chat(ONE_LONG_WORD, num_ctx=64, truncate=False)
        # Ollama 0.9 has no "truncate" option: it is never sent.
        assert all("truncate" not in body["options"] for body in proxy.bodies("/api/chat"))


def test_embedding_a_text_longer_than_the_context(server: OllamaServer) -> None:
    texts = ["hello " * 900, "short"]
    with create_llm("ollama", base_url=server.base_url, model="tiny") as llm:
        with pytest.raises(ContextLengthError, match="text to embed does not fit") as caught:
            llm.embed(texts)
        assert caught.value.max_context == 512 and caught.value.prompt_tokens > 512
        assert len(llm.embed(["short", "texts"])) == 2
    with create_llm("ollama", base_url=server.base_url, model="tiny",
                    options={"truncate": True}) as cutting:
        assert len(cutting.embed(texts)) == 2  # asked for: Ollama cuts the long one


# --- the rules on their own (no engine) ---

def _budget(limits: ModelLimits, messages: Any, **options: Any) -> ContextPlan:
    return ContextPlan.plan({"messages": messages, "options": options}, limits, truncate=False)


def test_dropped_messages_are_only_inferred_where_the_count_includes_the_cache() -> None:
    assert limits_from(None, "0.9.3").full_prompt_counts
    assert not limits_from(None, "0.30.1").full_prompt_counts
    assert not limits_from(None, None).full_prompt_counts  # unknown: no inference
    messages = [{"role": "user", "content": "word " * 100}]
    _budget(ModelLimits(full_prompt_counts=False), messages, num_ctx=512).check(20)
    with pytest.raises(ContextLengthError, match="dropped"):
        _budget(ModelLimits(full_prompt_counts=True), messages, num_ctx=512).check(20)


def test_the_floor_counts_words_that_reach_the_prompt() -> None:
    messages = [
        {"role": "system", "content": "old system " * 50},  # a template may leave it out
        {"role": "tool", "content": "result " * 50},  # may not be rendered either
        {"role": "system", "content": "one two"},
        {"role": "user", "content": "three  four\n\nfive"},
        {"role": "assistant", "content": "six"},
    ]
    assert _budget(ModelLimits(), messages, num_ctx=100).floor == 6
    with pytest.raises(ContextLengthError):
        _budget(ModelLimits(), messages, num_ctx=5)
    # Ollama's default window is a guess: never refused before sending on it alone.
    assert not _budget(ModelLimits(), [{"role": "user", "content": "w " * 9000}]).known
