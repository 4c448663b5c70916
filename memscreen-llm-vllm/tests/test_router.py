"""Two real vLLM replicas behind vLLM's own router (vllm-router, pinned, from the kit).

The replicas are the session's shared server and one more, started in parallel, stopped
by PID at the end of this module (never more than two vLLM engines at a time). Which
replica served a request is read from each engine's /metrics request counter. The one
this module started is the one it kills and restarts.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MESSAGES, MODEL

from memscreen_llm import ChatResult, StreamInterruptedError, create_llm
from memscreen_llm.testing import loud_skip, run_cli
from memscreen_llm_vllm.testing import (
    Engine,
    EngineUnavailable,
    VllmRouter,
    VllmServer,
    provision_router,
    requests_served,
)


@pytest.fixture(scope="module")
def router_binary() -> Path:
    try:
        return provision_router()
    except EngineUnavailable as exc:
        loud_skip(f"vllm-router UNAVAILABLE, router tests skipped: {exc.reason}")


@pytest.fixture(scope="module")
def replicas(engine: Engine, request: pytest.FixtureRequest) -> Iterator[list[VllmServer]]:
    """[the shared server, this module's own]: both start at once when neither is up.
    Its own has room for a long stream (4096 tokens): the one killed mid-way."""
    own = VllmServer(engine, extra_args=("--max-model-len", "4096"))
    failed: list[BaseException] = []

    def start() -> None:
        try:
            own.start()
        except BaseException as exc:  # raised below, in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    try:
        shared: VllmServer = request.getfixturevalue("server")
    finally:
        thread.join()
    if failed:
        own.stop()
        raise failed[0]
    try:
        yield [shared, own]
    finally:
        own.stop()


def _router(binary: Path, replicas: list[VllmServer], policy: str) -> Iterator[VllmRouter]:
    with VllmRouter(binary, [r.host_url for r in replicas], policy=policy) as router:
        assert router.wait_healthy_workers(2), router.log_tail()
        yield router


@pytest.fixture(scope="module")
def hashing(router_binary: Path, replicas: list[VllmServer]) -> Iterator[VllmRouter]:
    yield from _router(router_binary, replicas, "consistent_hash")


@pytest.fixture(scope="module")
def round_robin(router_binary: Path, replicas: list[VllmServer]) -> Iterator[VllmRouter]:
    yield from _router(router_binary, replicas, "round_robin")


def _counts(replicas: list[VllmServer]) -> list[int]:
    return [requests_served(r.host_url) for r in replicas]


def _landed(replicas: list[VllmServer], call: Callable[..., Any], *args: Any,
            **kwargs: Any) -> tuple[int, Any]:
    """Which replica (0 or 1) served the one request `call(*args, **kwargs)` made, and
    what the call returned."""
    before = _counts(replicas)
    answer = call(*args, **kwargs)
    moved = [after - was for after, was in zip(_counts(replicas), before, strict=True)]
    assert sorted(moved) == [0, 1], f"one request, counters moved by {moved}"
    return moved.index(1), answer


@pytest.fixture(scope="module")
def sessions(hashing: VllmRouter, replicas: list[VllmServer]) -> dict[str, int]:
    """Session ids -> the replica consistent hashing sends them to: up to 24 probed,
    until each replica has at least two."""
    llm = create_llm("vllm", base_url=hashing.base_url, model=MODEL, max_tokens=2)
    found: dict[str, int] = {}
    for number in range(24):
        name = f"chat-{number}"
        found[name] = _landed(replicas, llm.chat, MESSAGES, session_id=name)[0]
        if min(list(found.values()).count(i) for i in (0, 1)) >= 2:
            break
    llm.close()
    return found


def test_round_robin_spreads_requests_over_both_replicas(
        round_robin: VllmRouter, replicas: list[VllmServer]) -> None:
    llm = create_llm("vllm", base_url=round_robin.base_url, model=MODEL, max_tokens=2)
    before = _counts(replicas)
    for _ in range(8):
        assert llm.chat(MESSAGES).backend == "vllm"
    moved = [after - was for after, was in zip(_counts(replicas), before, strict=True)]
    assert sum(moved) == 8 and min(moved) >= 3, moved  # round robin: 4 and 4
    llm.close()


def test_every_turn_of_a_session_lands_on_one_replica(
        hashing: VllmRouter, replicas: list[VllmServer], sessions: dict[str, int]) -> None:
    assert set(sessions.values()) == {0, 1}, sessions  # both replicas take sessions
    for name, replica in list(sessions.items())[:6]:
        # The session from the config, a conversation growing turn by turn.
        llm = create_llm("vllm", base_url=hashing.base_url, model=MODEL, max_tokens=2,
                         session_id=name)
        history = list(MESSAGES)
        for _turn in range(3):
            landed, result = _landed(replicas, llm.chat, history)
            assert landed == replica
            history += [result.to_message(), {"role": "user", "content": "And then?"}]
        # A per-call session_id wins over the config's.
        other = next(s for s, r in sessions.items() if r != replica)
        assert _landed(replicas, llm.chat, MESSAGES, session_id=other)[0] != replica
        llm.close()


def test_doctor_shows_the_router_and_each_worker(hashing: VllmRouter,
                                                 replicas: list[VllmServer]) -> None:
    done = run_cli("doctor", "-b", "vllm", env={"MEMSCREEN_VLLM_URL": hashing.base_url})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"ok    server     router at {hashing.host_url} (2 of 2 workers healthy"
            in done.stdout)
    for replica in replicas:  # in the router's order
        assert re.search(rf"^ok    worker \d   {replica.host_url} healthy", done.stdout,
                         re.MULTILINE), done.stdout
    assert f"ok    model      '{MODEL}'" in done.stdout


def test_a_killed_replica_cuts_its_stream_costs_no_call_and_comes_back(
        hashing: VllmRouter, replicas: list[VllmServer], sessions: dict[str, int]) -> None:
    own = replicas[1]  # this module's replica: the one killed
    doomed = next(s for s, r in sessions.items() if r == 1)
    # max_model_len: the killed replica's (the router's /v1/models may show the other's).
    llm = create_llm("vllm", base_url=hashing.base_url, model=MODEL, temperature=0.0,
                     max_tokens=4000, max_model_len=4096, max_retries=0, timeout=60,
                     session_id=doomed)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as err:
        # ignore_eos: hundreds of tokens for sure, so the kill lands mid-way.
        for delta in llm.stream(MESSAGES, extra_body={"ignore_eos": True}):
            if delta.content:
                received.append(delta.content)
            if len(received) == 1 and own.is_running():
                own.kill()  # SIGKILL to its process group; returns once it is gone
            assert delta.finish_reason is None, "the stream finished normally"
    partial = err.value.partial
    assert isinstance(partial, ChatResult) and (partial.content or "").startswith(received[0])
    assert len(received) < 3900

    # Plain calls of that session still succeed: the router retries on the other replica.
    shared_before = requests_served(replicas[0].host_url)
    for _ in range(4):
        assert llm.chat(MESSAGES, max_tokens=2).backend == "vllm"
    assert requests_served(replicas[0].host_url) == shared_before + 4

    # The router notices (its health checks: about 2 s), and doctor says which one is out.
    assert hashing.wait_healthy_workers(1, timeout=30), hashing.workers()
    checks = llm.health().checks
    assert checks[0].ok and "1 of 2 workers healthy" in checks[0].detail
    workers = {c.detail.split()[0]: c for c in checks if c.name.startswith("worker ")}
    assert workers[replicas[0].host_url].ok and not workers[own.host_url].ok
    assert "unhealthy" in workers[own.host_url].detail and workers[own.host_url].fix

    # Restarted on its port, it is back in rotation: the session lands on it again.
    started = time.monotonic()
    own.restart()
    assert hashing.wait_healthy_workers(2, timeout=30), hashing.workers()
    print(f"restart: {time.monotonic() - started:.0f} s until the router took it back")
    assert _landed(replicas, llm.chat, MESSAGES, max_tokens=2)[0] == 1
    llm.close()


def test_an_igw_router_lists_models_in_its_own_shape(router_binary: Path,
                                                     replicas: list[VllmServer]) -> None:
    """--enable-igw: workers added by POST /workers, and GET /v1/models answers
    {"models": [...]} (bare names); the backend reads it, and the router's workers."""
    with VllmRouter(router_binary, policy="round_robin", extra_args=["--enable-igw"]) as igw:
        for replica in replicas:
            assert igw.add_worker(replica.host_url)["success"] is True
        assert igw.wait_healthy_workers(2), igw.workers()
        llm = create_llm("vllm", base_url=igw.base_url, model=MODEL, max_tokens=2)
        # A worker whose model the router could not ask in time is listed as "unknown".
        assert MODEL in [m.id for m in llm.served_models()]
        assert llm.chat(MESSAGES).content is not None
        checks = {check.name: check for check in llm.health().checks}
        assert checks["server"].ok and "2 of 2 workers healthy" in checks["server"].detail
        assert checks["model"].ok and "worker 2" in checks
        llm.close()
