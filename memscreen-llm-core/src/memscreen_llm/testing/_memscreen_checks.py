"""The checks both plugins' MemScreen suites make, each engine's specifics as arguments.

Private: import them from `memscreen_patterns`, which re-exports them (one module for a
suite; importing this one first would be a cycle)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from ._recording import RecordingProxy
from .memscreen_patterns import (
    BY_NAME,
    CallPattern,
    PipelineRun,
    embedder_calls,
    is_model_backend_error,
    replay,
)


def is_vector(value: object) -> bool:
    """A non-empty list of floats: what every embed call must return."""
    return isinstance(value, list) and bool(value) and all(isinstance(x, float) for x in value)


def _raises_backend_error(call: Callable[[], object]) -> BaseException:
    from memscreen_llm import BackendError

    with pytest.raises(BackendError) as err:
        call()
    return err.value


def check_stream_and_async(llm: Any, proxy: RecordingProxy, chat_path: str,
                           wire_check: Callable[[Any, CallPattern], None]) -> None:
    """G1's arguments (memory.py:530-542) on stream() and achat(): `wire_check(body, G1)`
    asserts each request's format and options, as for generate_response."""
    from memscreen_llm import join_deltas

    g1 = BY_NAME["G1"]
    kwargs = {"response_format": dict(g1.response_format or {}), "options": dict(g1.options or {})}
    joined = join_deltas(llm.stream([dict(m) for m in g1.messages], **kwargs))
    assert isinstance(joined.content, str)
    streamed = proxy.last(chat_path)
    result = asyncio.run(llm.achat([dict(m) for m in g1.messages], **kwargs))
    assert isinstance(result.content, str)
    for body in (streamed, proxy.last(chat_path)):
        wire_check(body, g1)
    assert streamed["stream"] is True


def check_two_threads(llm: Any, names: Sequence[str], timeout: float) -> None:
    """memory.py:408-415: patterns `names` at once, each in its own thread, on one `llm`;
    every one returns a str within `timeout` seconds."""
    results: list[object] = []
    threads = [threading.Thread(target=lambda p=p: results.append(replay(llm, BY_NAME[p])))
               for p in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert len(results) == len(names) and all(isinstance(r, str) for r in results)


def check_embed_shapes(embedder: Any, texts: Sequence[str]) -> dict[str, Any]:
    """`embedder_calls(embedder, texts)`, each a vector, the batch one per text with the
    first equal to the positional embed; returns the calls."""
    calls = embedder_calls(embedder, texts)
    for name, value in calls.items():
        if name != "batch":
            assert is_vector(value), name
    batch = calls["batch"]
    assert len(batch) == len(texts) and all(is_vector(v) for v in batch)
    assert batch[0] == pytest.approx(calls["positional_add"])  # order kept
    return calls


def check_env_config(env: Mapping[str, str], llm_cfg: Mapping[str, Any], proxy: RecordingProxy,
                     chat_path: str, backend: str, model: str) -> Any:
    """`llm_cfg` (MemScreen's get_llm_config() under `env`) through the factory, then
    memscreen-llm's own create_llm() from the same variables: both reach the wire. Returns
    the create_llm() backend for more checks."""
    from memscreen_llm import LlmFactory, create_llm

    llm = LlmFactory.create(llm_cfg["provider"], llm_cfg["config"])
    assert isinstance(replay(llm, BY_NAME["G13"]), str)
    plain = create_llm()  # backend, URL and model from the same variables
    assert (plain.backend_name, plain.config.model) == (backend, model)
    assert isinstance(plain.generate_response([{"role": "user", "content": "hi"}],
                                              max_tokens=4), str)
    assert len(proxy.bodies(chat_path)) == 2
    return plain


def check_missing_model(llm: Any) -> None:
    """G1 on a model the server lacks: str(e) says "not found"; not a backend-down error."""
    error = _raises_backend_error(lambda: replay(llm, BY_NAME["G1"]))
    assert "not found" in str(error).lower()
    assert not is_model_backend_error(error)


def check_unreachable(llm: Any, embedder: Any, needles: Sequence[str]) -> None:
    """G1 and an embed on a down server: each a BackendError whose text has one of
    `needles` and that MemScreen's is_model_backend_error matches."""
    for call in (lambda: replay(llm, BY_NAME["G1"]), lambda: embedder.embed("x", "add")):
        message = str(error := _raises_backend_error(call)).lower()
        assert any(needle in message for needle in needles), message
        assert is_model_backend_error(error)


def check_timeout(make_llm: Callable[[str], Any]) -> None:
    """G6 on `make_llm(url)` (a 1s timeout) against a server that never answers: "timed
    out" in the text (model_capability.py:222-228), a backend-down error."""
    with RecordingProxy(stall=True) as stalled:
        llm = make_llm(stalled.url)
        error = _raises_backend_error(lambda: replay(llm, BY_NAME["G6"]))
    assert "timed out" in str(error).lower()
    assert is_model_backend_error(error)


def check_pipeline_run(run: PipelineRun, backend: str, embedder_model: str) -> None:
    """run_memory_pipeline's result: the backend and embedder model asked for, a str for
    each of Memory's calls and a vector for each of its embeds."""
    assert run.backend == backend and run.embedder_model == embedder_model
    assert set(run.texts) == {"G1", "G2", "G3", "G5", "G6", "G7", "G8"}
    assert all(isinstance(text, str) for text in run.texts.values())
    assert all(is_vector(v) for vectors in run.vectors.values() for v in vectors)
