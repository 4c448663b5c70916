"""A fallback chain vLLM -> Ollama, both real: vLLM frozen (it times out), unreachable or
overloaded -> Ollama answers and the result says so; after the cooldown vLLM answers
again; a stream moves on only before its first delta; other errors never move on.

Timing bounds are loose on purpose: the machine is shared with other engines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from conftest import MESSAGES, freeze, thaw

from memscreen_llm import (
    ChatResult,
    ModelNotFoundError,
    RequestTimeoutError,
    create_llm,
)
from memscreen_llm._fallback import FallbackLLM
from memscreen_llm.testing import FaultServer, free_port, run_cli
from memscreen_llm_ollama.testing import MODEL as OLLAMA_MODEL
from memscreen_llm_ollama.testing import OllamaServer
from memscreen_llm_vllm.testing import VllmServer

LOAD_SLACK = 15.0  # seconds a loaded 2-core machine may add to a bound


def _write_config(vllm_url: str, ollama: OllamaServer, cooldown: float, **vllm: object) -> Path:
    """./memscreen-llm.toml (found at its default location): vLLM first, Ollama after it,
    each backend with its own section."""
    lines = ['[llm]', 'backend = "vllm"', 'fallbacks = ["ollama"]',
             f"fallback_cooldown = {cooldown}", "[llm.vllm]", f'base_url = "{vllm_url}"',
             'model = "tiny"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in {"max_tokens": 8, **vllm}.items()]
    lines += ["[llm.ollama]", f'base_url = "{ollama.base_url}"', f'model = "{OLLAMA_MODEL}"']
    path = Path("memscreen-llm.toml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _said(caplog: pytest.LogCaptureFixture, level: int, *words: str) -> bool:
    return any(r.levelno == level and all(w in r.getMessage() for w in words)
               for r in caplog.records if r.name == "memscreen_llm.fallback")


def _timed(call: object) -> tuple[object, float]:
    started = time.monotonic()
    result = call()  # type: ignore[operator]
    return result, time.monotonic() - started


def test_a_frozen_vllm_times_out_ollama_answers_then_vllm_is_back_after_the_cooldown(
        vllm: VllmServer, ollama: OllamaServer, freezer: list[bool],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memscreen_llm.fallback")
    _write_config(vllm.base_url, ollama, cooldown=10, timeout=3)
    llm = create_llm()  # backend and fallbacks from ./memscreen-llm.toml
    assert isinstance(llm, FallbackLLM) and llm.labels == ("vllm", "ollama")
    assert llm.chat(MESSAGES).backend == "vllm"  # warm: vLLM answers while it can

    freeze(vllm)
    result, spent = _timed(lambda: llm.chat(MESSAGES))
    assert isinstance(result, ChatResult) and result.backend == "ollama"
    assert result.content  # Ollama's answer, not an empty stand-in
    assert 3 <= spent <= 3 + LOAD_SLACK, spent  # vLLM's deadline, then Ollama
    assert _said(caplog, logging.WARNING, "vllm failed (RequestTimeoutError",
                 "skipped for the next 10 s", "moves to ollama")

    # While vLLM is skipped, calls go straight to Ollama: no wait on its deadline.
    result, spent = _timed(lambda: llm.chat(MESSAGES))
    assert result.backend == "ollama" and spent < 3, spent  # type: ignore[attr-defined]
    stream = llm.stream(MESSAGES)
    assert "".join(d.content or "" for d in stream) and stream.backend == "ollama"
    assert _said(caplog, logging.INFO, "skipping vllm", "the call goes to ollama")
    assert "vllm" in llm.skipped()

    # vLLM back: the first call after the cooldown goes to it, and it stays.
    thaw(vllm)
    time.sleep(max(0.0, *llm.skipped().values(), 0.0) + 0.2)
    assert llm.chat(MESSAGES).backend == "vllm"
    assert _said(caplog, logging.INFO, "vllm answered again")
    assert llm.chat(MESSAGES).backend == "vllm" and llm.skipped() == {}
    llm.close()


def test_a_stream_moves_on_before_its_first_delta_never_after(
        vllm: VllmServer, ollama: OllamaServer, freezer: list[bool],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memscreen_llm.fallback")
    # Before the first delta: vLLM frozen, its first_token_timeout runs out -> Ollama.
    _write_config(vllm.base_url, ollama, cooldown=30, first_token_timeout=2, timeout=60)
    with create_llm() as llm:
        assert llm.chat(MESSAGES).backend == "vllm"  # warm
        freeze(vllm)
        stream = llm.stream(MESSAGES)
        started = time.monotonic()
        text = "".join(d.content or "" for d in stream)
        assert stream.backend == "ollama" and text  # type: ignore[attr-defined]
        assert 2 <= time.monotonic() - started <= 2 + LOAD_SLACK
        assert _said(caplog, logging.WARNING, "vllm failed (RequestTimeoutError",
                     "first_token_timeout", "moves to ollama")
    thaw(vllm)
    caplog.clear()

    # After the first delta: vLLM frozen mid-stream -> its error, with the partial text;
    # Ollama is not asked (the caller already has vLLM's words).
    _write_config(vllm.base_url, ollama, cooldown=30, stream_idle_timeout=2, timeout=60,
                  max_tokens=4000)
    with create_llm() as llm:
        received: list[str] = []
        # Special tokens kept as text: every token is a delta with content, so the freeze
        # comes at the stream's first token (a random model may emit special tokens,
        # skipped as empty, for most of its answer: it was then all sent before the freeze).
        stream = llm.stream(MESSAGES, extra_body={"ignore_eos": True,
                                                  "skip_special_tokens": False})
        with pytest.raises(RequestTimeoutError) as err:
            for delta in stream:
                if delta.content:
                    received.append(delta.content)
                if received and not freezer:
                    freeze(vllm)
                    freezer.append(True)
        assert stream.backend == "vllm"  # type: ignore[attr-defined]
        assert err.value.limit == "stream_idle_timeout" and "vLLM" in str(err.value)
        partial = err.value.partial
        assert isinstance(partial, ChatResult)
        assert (partial.content or "").startswith("".join(received))
        assert len(received) < 3900, "the stream was sent whole before the freeze"
        assert _said(caplog, logging.WARNING, "vllm failed after its stream began")
        assert not _said(caplog, logging.WARNING, "moves to ollama")


def test_an_unreachable_vllm_moves_on_in_every_call_style(
        ollama: OllamaServer, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, logger="memscreen_llm.fallback")
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    # The chain from env this time, each backend's settings from its own env names.
    for var, value in {"MEMSCREEN_LLM_FALLBACKS": "ollama",
                       "MEMSCREEN_LLM_FALLBACK_COOLDOWN": "1",
                       "MEMSCREEN_VLLM_URL": closed, "MEMSCREEN_VLLM_MAX_RETRIES": "0",
                       "MEMSCREEN_OLLAMA_URL": ollama.base_url,
                       "MEMSCREEN_OLLAMA_MODEL": OLLAMA_MODEL}.items():
        monkeypatch.setenv(var, value)
    llm = create_llm("vllm", model="tiny")
    # session_id is vLLM's option: left out of Ollama's call, not an error there.
    result = llm.chat(MESSAGES, session_id="chat-1")
    assert result.backend == "ollama" and result.content
    assert _said(caplog, logging.WARNING, "vllm failed (BackendUnavailableError",
                 "cannot reach the server", "moves to ollama")

    async def both() -> tuple[str | None, str | None]:
        answer = await llm.achat(MESSAGES)
        stream = llm.astream(MESSAGES)
        assert "".join([d.content or "" async for d in stream])
        return answer.backend, stream.backend  # type: ignore[attr-defined]

    assert asyncio.run(both()) == ("ollama", "ollama")
    # After the cooldown vLLM is tried again, still fails, and is skipped again.
    time.sleep(1.2)
    caplog.clear()
    assert llm.chat(MESSAGES).backend == "ollama"
    assert _said(caplog, logging.WARNING, "vllm failed", "skipped for the next 1 s")
    llm.close()

    # The CLI takes the same chain: chat answers from Ollama, doctor checks both.
    env = {"MEMSCREEN_LLM_FALLBACKS": "ollama", "MEMSCREEN_VLLM_URL": closed,
           "MEMSCREEN_VLLM_MAX_RETRIES": "0", "MEMSCREEN_VLLM_MODEL": "tiny",
           "MEMSCREEN_OLLAMA_URL": ollama.base_url, "MEMSCREEN_OLLAMA_MODEL": OLLAMA_MODEL}
    chat = run_cli("chat", "-b", "vllm", "--json", "hi", env=env)
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["backend"] == "ollama"
    doctor = run_cli("doctor", "-b", "vllm", env=env)
    assert doctor.returncode == 3, doctor.stdout  # the first backend is unreachable
    assert "FAIL  server" in doctor.stdout and "ok    chain      vllm -> ollama" in doctor.stdout
    assert "ok    fallback   ollama from memscreen-llm-ollama" in doctor.stdout


@pytest.mark.parametrize("status", [429, 503])
def test_an_overloaded_vllm_moves_on_after_its_retries(
        ollama: OllamaServer, status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memscreen_llm.fallback")
    with FaultServer(fault=f"status:{status}:retry-after=0") as overloaded:
        _write_config(overloaded.openai_url, ollama, cooldown=30, max_retries=1)
        with create_llm() as llm:
            assert llm.chat(MESSAGES).backend == "ollama"
        assert len(overloaded.requests_to("/v1/chat/completions")) == 2  # 1 + its retry
    assert _said(caplog, logging.WARNING, "vllm failed (BackendOverloadedError",
                 f"HTTP {status}", "moves to ollama")


def test_other_errors_never_move_on(vllm: VllmServer, ollama: OllamaServer,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memscreen_llm.fallback")
    _write_config(vllm.base_url, ollama, cooldown=30)
    with create_llm() as llm:
        with pytest.raises(ModelNotFoundError):  # the request's own fault: Ollama not asked
            llm.chat(MESSAGES, model="nosuch")
        with pytest.raises(ModelNotFoundError):
            list(llm.stream(MESSAGES, model="nosuch"))
        assert llm.skipped() == {}  # and vLLM is not counted as failing
        assert llm.chat(MESSAGES).backend == "vllm"
    assert not _said(caplog, logging.WARNING, "moves to ollama")
