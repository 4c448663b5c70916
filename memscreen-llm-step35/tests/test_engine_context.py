"""The preset's context budget at the boundary, counted by the real server's /tokenize.

The preset serves max_model_len=32768; the tiny test model has 1024, so the budget is
set from the prompt's own token count to land exactly on the edges.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from memscreen_llm import ContextLengthError, create_llm
from memscreen_llm_vllm.testing import Engine, VllmServer, serve

MESSAGES = [{"role": "user", "content": "Summarise what was on my screen this morning."}]


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[VllmServer]:
    yield from serve(engine)


def prompt_tokens(server: VllmServer) -> int:
    root = server.base_url.removesuffix("/v1")
    body = json.dumps({"model": "tiny", "messages": MESSAGES}).encode()
    request = urllib.request.Request(f"{root}/tokenize", body,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.load(response)["count"])


def test_the_preset_budget_is_32k() -> None:
    assert create_llm("step35").config.max_model_len == 32768


@pytest.mark.parametrize("room", [1, 3])
def test_max_tokens_is_clamped_to_the_room_left(server: VllmServer, room: int) -> None:
    tokens = prompt_tokens(server)
    llm = create_llm("step35", base_url=server.base_url, model="tiny", temperature=0.0,
                     max_model_len=tokens + room, max_tokens=400)
    result = llm.chat(MESSAGES, extra_body={"ignore_eos": True})
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (tokens, room)
    assert result.finish_reason == "length"


@pytest.mark.parametrize("over", [0, 1])
def test_a_prompt_that_leaves_no_room_is_refused_with_both_numbers(
    server: VllmServer, over: int
) -> None:
    tokens = prompt_tokens(server)
    llm = create_llm("step35", base_url=server.base_url, model="tiny",
                     max_model_len=tokens - over)
    with pytest.raises(ContextLengthError) as err:
        llm.chat(MESSAGES)
    assert (err.value.prompt_tokens, err.value.max_context) == (tokens, tokens - over)
    assert not err.value.estimated  # counted by the server, not guessed
    assert f"prompt is {tokens} tokens" in str(err.value)
