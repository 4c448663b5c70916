"""Golden cases forced out of the real engine, and how results are compared."""

from __future__ import annotations

import json
from typing import Any

from test_parsers_golden import CASES

from memscreen_llm import ChatResult, create_llm, join_deltas
from memscreen_llm.base import LLMBase

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def step35(base_url: str, **fields: Any) -> LLMBase:
    """The step35 preset pointed at the test server (its tiny model has a 1024 context)."""
    settings = {"model": "tiny", "max_model_len": 1024, "temperature": 0.0, "max_tokens": 400,
                "max_retries": 0, **fields}
    return create_llm("step35", base_url=base_url, **settings)


def outcome(result: ChatResult) -> tuple[Any, ...]:
    return (result.reasoning, result.content,
            [(c.name, json.loads(c.arguments)) for c in result.tool_calls])


def expected(case: dict[str, Any]) -> tuple[Any, ...]:
    return (case["reasoning"], case["content"],
            [(c["name"], c["arguments"]) for c in case["tool_calls"]])


def ask(llm: LLMBase, case: dict[str, Any], forced: dict[str, Any], *,
        stream: bool) -> ChatResult:
    options: dict[str, Any] = {"extra_body": forced}
    if case.get("tools"):
        options["tools"] = case["tools"]
    if stream:
        return join_deltas(llm.stream(MESSAGES, **options))
    return llm.chat(MESSAGES, **options)


__all__ = ["CASES", "ask", "expected", "outcome", "step35"]
