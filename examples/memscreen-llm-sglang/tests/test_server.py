"""More than the kit asks, against the same real vLLM stand-in (see conftest.py): the
client-side parsers streamed, a whole tool round trip, per-call `extra_body`, the model
chosen from the server, health and errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from test_contract import CALL_TEXT, REASONING_TEXT

from memscreen_llm import (
    ChatResult,
    ConfigError,
    ModelNotFoundError,
    UsageError,
    create_llm,
    join_deltas,
)

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def shape(result: ChatResult) -> tuple[Any, ...]:
    """A result without what differs per call (tool-call ids, usage)."""
    return (result.content, result.reasoning, result.finish_reason, result.model,
            [(c.name, c.parsed_arguments()) for c in result.tool_calls])


@pytest.fixture
def parsed(server: Any, parser_site: Path) -> Any:
    return create_llm("sglang", base_url=server.base_url, model="tiny", temperature=0.0,
                      reasoning_parser="kit-think", tool_parser="kit-calls")


def test_reasoning_streams_apart_from_content(parsed: Any, engine: Any) -> None:
    forced = {"max_tokens": 64, "extra_body": engine.forced_output_params(REASONING_TEXT)}
    result = parsed.chat(MESSAGES, **forced)
    assert (result.reasoning, result.content) == ("The user wants one colour.", "Blue.")
    deltas = list(parsed.stream(MESSAGES, **forced))
    assert deltas[0].reasoning and not deltas[0].content  # reasoning arrives first ...
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert not any(d.reasoning for d in deltas[first_content:])  # ... and only first
    assert not any("think>" in (d.reasoning or "") + (d.content or "") for d in deltas)
    assert shape(join_deltas(deltas)) == shape(result)
    # Without the parser the server's raw text arrives, markers and all: it split nothing.
    raw = create_llm("sglang", base_url=parsed.config.base_url, model="tiny", temperature=0.0)
    assert raw.chat(MESSAGES, **forced).content == REASONING_TEXT


def test_tool_call_round_trip(parsed: Any, engine: Any) -> None:
    forced = {"max_tokens": 96, "extra_body": engine.forced_output_params(CALL_TEXT)}
    first = parsed.chat(MESSAGES, tools=TOOLS, **forced)
    assert [(c.name, c.parsed_arguments()) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert first.finish_reason == "tool_calls" and first.content is None
    streamed = list(parsed.stream(MESSAGES, tools=TOOLS, **forced))
    assert [len(d.tool_calls) for d in streamed if d.tool_calls] == [1]  # whole, once
    assert shape(join_deltas(streamed)) == shape(first)
    call = first.tool_calls[0]
    history = [*MESSAGES, first.to_message(),
               {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 21})}]
    final = parsed.chat(history, tools=TOOLS, max_tokens=12)
    assert final.finish_reason in ("stop", "length") and not final.tool_calls
    assert parsed.generate_response(MESSAGES, tools=TOOLS, **forced) == {
        "content": None, "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}


def test_extra_body_reaches_the_server_per_call(server: Any) -> None:
    llm = create_llm("sglang", base_url=server.base_url, model="tiny", temperature=0.0)
    stopped = llm.chat(MESSAGES, max_tokens=5, extra_body={"ignore_eos": True})
    assert stopped.usage is not None and stopped.usage.completion_tokens == 5
    assert stopped.finish_reason == "length"
    with pytest.raises(UsageError, match="did you mean 'extra_body'"):
        llm.chat(MESSAGES, extra_bdy={})


def test_json_schema_response_format(server: Any) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    llm = create_llm("sglang", base_url=server.base_url, model="tiny")
    # Greedy random weights pad JSON with spaces up to max_tokens; this seed closes it.
    result = llm.chat(MESSAGES, temperature=1.0, seed=1, max_tokens=40, response_format={
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema}})
    assert isinstance(json.loads(result.content or "")["ok"], bool)


def test_unset_model_is_the_servers_only_one(server: Any) -> None:
    llm = create_llm("sglang", base_url=server.base_url, max_tokens=4)
    assert llm.chat(MESSAGES).model == "tiny"
    assert asyncio.run(llm.achat(MESSAGES)).model == "tiny"


def test_unknown_model_lists_the_served_ones(server: Any) -> None:
    llm = create_llm("sglang", base_url=server.base_url, model="nonesuch")
    for call in (lambda: llm.chat(MESSAGES), lambda: list(llm.stream(MESSAGES)),
                 lambda: asyncio.run(llm.achat(MESSAGES))):
        with pytest.raises(ModelNotFoundError) as err:
            call()
        assert err.value.model == "nonesuch" and err.value.available == ["tiny"]


def test_health_names_server_and_model_checks(server: Any) -> None:
    report = create_llm("sglang", base_url=server.base_url).health()
    assert [(c.name, c.ok) for c in report.checks] == [("server", True), ("model", True)]
    missing = create_llm("sglang", base_url=server.base_url, model="nonesuch").health()
    assert [(c.name, c.ok) for c in missing.checks] == [("server", True), ("model", False)]
    assert "tiny" in missing.checks[1].detail


def test_parser_names_are_checked_when_the_backend_is_made(parser_site: Path) -> None:
    with pytest.raises(ConfigError, match="unknown parser 'nonesuch'") as err:
        create_llm("sglang", reasoning_parser="nonesuch")
    assert "kit-think" in str(err.value)  # the fix lists what is installed
    with pytest.raises(ConfigError, match="has no reasoning part"):
        create_llm("sglang", reasoning_parser="kit-calls")
