"""Property tests: any split of any text streams to the one-shot result and never raises."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_parsers_units import PROPERTIES, call_text

from memscreen_llm.parsing import OutputParser
from memscreen_llm.types import ChatResult, join_deltas
from memscreen_llm_step35.parsers import Step3p5ReasoningParser, Step3p5ToolCallParser

TYPED = ("s", "i", "n", "b", "o", "a")  # one parameter of each JSON type; "zz" is unknown
TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {key: PROPERTIES[key] for key in TYPED}}}}]

# Marker fragments and whole markers, so random texts hit partial and complete markers alike.
FRAGMENTS = [
    "<", "/", ">", "=", "\n", "\n\n", " ", "\t", "a", "b", "x y", "{", "}", "'", "1", "2.0",
    "True", "null", "[1, (2, 3)]", "think>", "<think>", "</think>", "tool_call>", "<tool_call>",
    "</tool_call>", "function=", "<function=", "</function>", "parameter=", "<parameter=",
    "</parameter>", "<function=f>", "<parameter=s>", "<parameter=i>",
]  # fmt: skip
KEYS = [*TYPED, "zz"]
VALUES = ["x", "3", "2.5", "true", "0", "{'k': (1, 2)}", "[1, 2]", "NULL", "two\nlines\n", ""]


@st.composite
def well_formed_call(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["f", "g", "", " "]))
    params = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=3))
    close = draw(st.sampled_from(["</parameter>\n", "\n", ""]))  # "" and "\n": repairs
    return call_text(name, *params, close=close)


PIECES = st.one_of(st.sampled_from(FRAGMENTS), well_formed_call(), st.text(max_size=3))
TEXTS = st.lists(PIECES, max_size=24).map("".join)
# Raw model output: usually with a `</think>` early, so the content part gets tool calls too.
OUTPUTS = st.tuples(st.sampled_from(["", "r\n</think>\n", "<think>\nr</think>"]), TEXTS).map(
    "".join
)


def _split(data: st.DataObject, text: str) -> list[str]:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=12).map(sorted))
    bounds = [0, *cuts, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


def _summary(result: ChatResult) -> tuple[Any, ...]:
    calls = [(call.name, json.loads(call.arguments)) for call in result.tool_calls]
    return result.reasoning, result.content, calls


def _parser() -> OutputParser:
    return OutputParser(reasoning=Step3p5ReasoningParser(), tool_calls=Step3p5ToolCallParser(TOOLS))


@settings(max_examples=200, deadline=None)
@given(text=OUTPUTS, data=st.data())
def test_pair_stream_equals_one_shot(text: str, data: st.DataObject) -> None:
    parser = _parser()
    streamer = parser.streamer()
    deltas = [streamer.feed(chunk) for chunk in _split(data, text)]
    deltas.append(streamer.finish())
    assert _summary(join_deltas(deltas)) == _summary(parser.parse(text))


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, data=st.data())
def test_tool_parser_stream_equals_one_shot(text: str, data: st.DataObject) -> None:
    """Content straight into the tool parser, as when reasoning was split by the server."""
    parser = Step3p5ToolCallParser(TOOLS)
    content, calls = parser.parse(text)
    streamer = parser.streamer()
    pieces: list[str] = []
    streamed_calls = []
    for chunk in [*_split(data, text), None]:
        piece, more = streamer.finish() if chunk is None else streamer.feed(chunk)
        pieces.append(piece)
        streamed_calls.extend(more)
    assert ("".join(pieces) or None) == content
    assert [(c.name, c.arguments) for c in streamed_calls] == [(c.name, c.arguments) for c in calls]
    if not calls:  # nothing is dropped unless a call was made
        assert content == (text or None)
    assert len({call.id for call in calls}) == len(calls)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, data=st.data())
def test_reasoning_stream_equals_one_shot(text: str, data: st.DataObject) -> None:
    parser = Step3p5ReasoningParser()
    streamer = parser.streamer()
    reasoning: list[str] = []
    content: list[str] = []
    for chunk in [*_split(data, text), None]:
        more_reasoning, more_content = streamer.finish() if chunk is None else streamer.feed(chunk)
        reasoning.append(more_reasoning)
        content.append(more_content)
    assert ("".join(reasoning) or None, "".join(content) or None) == parser.parse(text)
