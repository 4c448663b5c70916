"""Async calls of a backend in fresh event loops, as an app calling `asyncio.run` twice does."""

from __future__ import annotations

import asyncio

from ..base import LLMBase, Messages
from ..types import ChatResult, join_deltas


def async_rounds(
    llm: LLMBase, messages: Messages, concurrent: int = 4, loops: int = 2
) -> list[tuple[list[ChatResult], ChatResult]]:
    """Per event loop: `concurrent` gathered `achat` results, then one joined `astream`.

    Each round runs in its own `asyncio.run`, so a client cached on a closed loop shows.
    """

    async def one_round() -> tuple[list[ChatResult], ChatResult]:
        results = await asyncio.gather(*(llm.achat(messages) for _ in range(concurrent)))
        streamed = join_deltas([d async for d in llm.astream(messages)])
        return list(results), streamed

    return [asyncio.run(one_round()) for _ in range(loops)]
