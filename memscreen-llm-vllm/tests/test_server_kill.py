"""A real vLLM server killed while it streams: the stream must end in an error, never a hang.

The server is this module's own (it dies), with plain flags, so nothing between the
engine and the client holds text back, and a long context for a long generation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import MESSAGES

from memscreen_llm import ChatResult, StreamInterruptedError, create_llm
from memscreen_llm_vllm.testing import Engine, VllmServer, serve


@pytest.fixture
def doomed(engine: Engine) -> Iterator[VllmServer]:
    yield from serve(engine, "--max-model-len", "4096")


def test_server_killed_mid_stream_raises_with_the_partial_answer(doomed: VllmServer) -> None:
    llm = create_llm("vllm", base_url=doomed.base_url, model="tiny", temperature=0.0,
                     max_tokens=4000, max_retries=0, timeout=30)
    received: list[str] = []
    after_kill = 0
    with pytest.raises(StreamInterruptedError) as err:
        # ignore_eos: 4000 tokens for sure (several seconds), so the kill lands mid-way.
        for delta in llm.stream(MESSAGES, extra_body={"ignore_eos": True}):
            if received and not doomed.is_running():
                after_kill += 1  # chunks already in flight still arrive
            if delta.content:
                received.append(delta.content)
            if len(received) == 1 and doomed.is_running():
                doomed.kill()  # SIGKILL to the whole process group; returns once it is gone
            assert delta.finish_reason is None, (
                f"the stream finished normally ({after_kill} deltas after the kill)")
    partial = err.value.partial
    assert isinstance(partial, ChatResult)
    assert (partial.content or "").startswith(received[0])
    assert len(received) < 3900 and "broke off" in str(err.value)
