"""Focused tests of the Step-3.5 parsers: typing, repairs, whitespace, hold-back, linearity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memscreen_llm.parsing import OutputParser, ReasoningParser, ToolCallParser
from memscreen_llm.types import ToolCall
from memscreen_llm_step35.parsers import (
    Step3p5ReasoningParser,
    Step3p5ReasoningStreamer,
    Step3p5ToolCallParser,
    Step3p5ToolCallStreamer,
)

PROPERTIES: dict[str, Any] = {
    "s": {"type": "string"},
    "i": {"type": "integer"},
    "n": {"type": "number"},
    "b": {"type": "boolean"},
    "o": {"type": "object"},
    "a": {"type": "array"},
    "e": {"type": "string", "enum": ["x", "y"]},
    "opt": {"type": ["integer", "null"]},
    "any": {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
}
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "f", "parameters": {"properties": PROPERTIES}}},
    {"name": "bare", "parameters": {"type": "object", "properties": {"i": {"type": "integer"}}}},
]


def call_text(name: str, *params: tuple[str, str], close: str = "</parameter>\n") -> str:
    body = "".join(f"<parameter={key}>\n{value}\n{close}" for key, value in params)
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def args_of(text: str, tools: list[dict[str, Any]] | None = TOOLS) -> dict[str, Any]:
    content, calls = Step3p5ToolCallParser(tools).parse(text)
    assert content is None and len(calls) == 1, (content, calls)
    return calls[0].parsed_arguments()


def stream_tools(chunks: list[str], tools: list[dict[str, Any]] | None = TOOLS) -> list[Any]:
    """Per feed (and the finish) the (text, calls) the tool streamer returned."""
    streamer = Step3p5ToolCallParser(tools).streamer()
    return [streamer.feed(chunk) for chunk in chunks] + [streamer.finish()]


# -- protocols and composition --------------------------------------------------------------


def test_implements_core_protocols() -> None:
    reasoning: ReasoningParser = Step3p5ReasoningParser()
    tools: ToolCallParser = Step3p5ToolCallParser(TOOLS)
    assert isinstance(reasoning.streamer(), Step3p5ReasoningStreamer)
    assert isinstance(tools.streamer(), Step3p5ToolCallStreamer)
    result = OutputParser(reasoning, tools).parse("think\n</think>\n" + call_text("f", ("i", "4")))
    assert (result.reasoning, result.content) == ("think", None)
    assert [call.parsed_arguments() for call in result.tool_calls] == [{"i": 4}]


# -- reasoning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (None, None)),
        ("<think>", (None, None)),
        ("<think>\n\nx", ("\nx", None)),
        ("<thi", ("<thi", None)),
        (" <think>\nx</think>y", (" <think>\nx", "y")),  # `<think>` only at the very start
        ("<think></think>\n", (None, None)),
        ("x\n</think>", ("x", None)),
        ("x\n", ("x\n", None)),  # no `</think>`: nothing is trimmed
    ],
)
def test_reasoning_edges(text: str, expected: tuple[str | None, str | None]) -> None:
    assert Step3p5ReasoningParser().parse(text) == expected


def test_reasoning_streams_early_and_holds_only_marker_prefixes() -> None:
    streamer = Step3p5ReasoningParser().streamer()
    assert streamer.feed("<thi") == ("", "")  # may still be the leading `<think>`
    assert streamer.feed("s is") == ("<this is", "")
    assert streamer.feed(" fine\n") == (" fine", "")  # the `\n` may precede `</think>`
    assert streamer.feed("</thi") == ("", "")
    assert streamer.feed("nk>") == ("", "")  # a `\n` after `</think>` may still come
    assert streamer.feed("\nhi") == ("", "hi")
    assert streamer.feed("</think>") == ("", "</think>")  # later ones are content
    assert streamer.finish() == ("", "")


def test_reasoning_finish_flushes_held_text() -> None:
    streamer = Step3p5ReasoningParser().streamer()
    assert streamer.feed("cut off\n</th") == ("cut off", "")
    assert streamer.finish() == ("\n</th", "")


# -- value typing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("s", "  padded \n", "  padded \n"),
        ("s", "null", None),
        ("e", "x", "x"),
        ("i", "3.0", 3),
        ("i", " 7 ", 7),
        ("i", "3.5", 3.5),
        ("i", "12345678901234567890", 12345678901234567890),
        ("i", "three", "three"),
        ("i", "inf", "inf"),
        ("n", "2.0", 2),
        ("n", "1e3", 1000),
        ("n", "0.25", 0.25),
        ("n", "NaN", "NaN"),
        ("b", "TRUE", True),
        ("b", "False", False),
        ("b", "1", True),
        ("b", "0", False),
        ("b", "yes", "yes"),
        ("o", '{"k": [1, 2]}', {"k": [1, 2]}),
        ("o", "{'k': (1, (2, 3)), 'on': None}", {"k": [1, [2, 3]], "on": None}),
        ("o", "{1, 2}", "{1, 2}"),  # a set is no JSON value
        ("o", "{oops", "{oops"),
        ("a", "(1, 'x', False)", [1, "x", False]),
        ("a", "[NaN]", "[NaN]"),
        ("a", "Null", None),
        ("opt", "5", 5),
        ("opt", "null", None),
        ("any", "true", True),
        ("any", "maybe", "maybe"),
        ("unknown", "3", "3"),
        ("unknown", "null", None),
    ],
)
def test_typed_values(key: str, raw: str, value: Any) -> None:
    assert args_of(call_text("f", (key, raw))) == {key: value}


def test_bare_tool_definitions_and_missing_tools() -> None:
    assert args_of(call_text("bare", ("i", "2"))) == {"i": 2}
    assert args_of(call_text("f", ("i", "2")), tools=None) == {"i": "2"}


def test_arguments_are_json_object_strings_with_unique_ids() -> None:
    text = call_text("f", ("s", "é")) * 3
    _, calls = Step3p5ToolCallParser(TOOLS).parse(text)
    assert [json.loads(call.arguments) for call in calls] == [{"s": "é"}] * 3
    assert "é" in calls[0].arguments  # not \u-escaped
    assert len({call.id for call in calls}) == 3


# -- block shapes and repairs ---------------------------------------------------------------


def test_missing_parameter_close_is_repaired() -> None:
    text = call_text("f", ("s", "a"), ("i", "2"), close="")
    assert args_of(text) == {"s": "a", "i": 2}
    assert args_of("<tool_call><function=f><parameter=s>v</function></tool_call>") == {"s": "v"}


def test_no_parameters_and_compact_layout() -> None:
    assert args_of("<tool_call><function=f></function></tool_call>") == {}
    assert args_of(
        "<tool_call><function= f ><parameter=i>1</parameter></function></tool_call>"
    ) == {"i": 1}


def test_value_may_contain_function_close() -> None:
    assert args_of(call_text("f", ("s", "a</function>b"))) == {"s": "a</function>b"}


@pytest.mark.parametrize(
    "block",
    [
        "<tool_call>\n<function=>\n</function>\n</tool_call>",
        "<tool_call>\n<function= >\n</function>\n</tool_call>",
        "<tool_call>\n<function=f>\n<parameter=s>\nx\n</parameter>\n</tool_call>",  # no </function>
        "<tool_call>\nhi <function=f>\n</function>\n</tool_call>",
        "<tool_call>\n<function=f>\nstray\n<parameter=s>\nx\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=f>\n</function>\ntrailing\n</tool_call>",
        "<tool_call>\n<function=f>\n<parameter=>\nx\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=f\n</function>\n</tool_call>",
        "<tool_call></tool_call>",
    ],
)
def test_malformed_block_is_content(block: str) -> None:
    text = "a " + block + " b"
    assert Step3p5ToolCallParser(TOOLS).parse(text) == (text, [])
    assert "".join(piece for piece, _ in stream_tools(list(text))) == text


# -- whitespace between and after calls ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "content", "count"),
    [
        ("\n\n{c}", "\n\n", 1),  # before the first call: kept as written
        ("{c}\n \n{c}\n", None, 2),  # between and after calls: dropped
        ("{c}{c}", None, 2),
        ("{c}\n x \n{c}", "\n x \n", 2),
        ("{c}\n<tool_call>\n<function=f>", "\n<tool_call>\n<function=f>", 1),  # unclosed
        ("{c}\n<tool_call></tool_call>\n", "\n<tool_call></tool_call>\n", 1),  # failed block
        ("{c}\n<tool_", "\n<tool_", 1),
    ],
)
def test_whitespace_rules(text: str, content: str | None, count: int) -> None:
    text = text.replace("{c}", call_text("f", ("i", "1")))
    got_content, calls = Step3p5ToolCallParser(TOOLS).parse(text)
    assert (got_content, len(calls)) == (content, count)
    for size in (1, 2, 3, 5, len(text)):
        fed = stream_tools([text[i : i + size] for i in range(0, len(text), size)])
        assert "".join(piece for piece, _ in fed) == (content or "")
        assert sum(len(more) for _, more in fed) == count


# -- streaming behaviour --------------------------------------------------------------------


def test_text_streams_at_once_and_only_marker_prefix_is_held() -> None:
    fed = stream_tools(["Hello wor", "ld <tool", "_cal", "x> done"])
    assert [piece for piece, _ in fed] == ["Hello wor", "ld ", "", "<tool_calx> done", ""]


def test_call_comes_whole_with_its_closing_marker() -> None:
    text = "ok " + call_text("f", ("s", "v")) + "\n"
    fed = stream_tools([text[:-2], text[-2], text[-1]])
    assert fed[0] == ("ok ", [])
    assert fed[1][0] == "" and [call.parsed_arguments() for call in fed[1][1]] == [{"s": "v"}]
    assert fed[2] == ("", []) and fed[3] == ("", [])  # the trailing `\n` is dropped


def test_whitespace_after_call_waits_for_what_follows() -> None:
    fed = stream_tools([call_text("f"), "\n ", "\n", "x", " "])
    assert [piece for piece, _ in fed] == ["", "", "", "\n \nx", " ", ""]


def test_streamer_is_reusable_after_finish() -> None:
    streamer = Step3p5ToolCallParser(TOOLS).streamer()
    assert streamer.feed("a <tool_call>\n<func") == ("a ", [])
    assert streamer.finish() == ("<tool_call>\n<func", [])
    piece, calls = streamer.feed(call_text("f", ("i", "1")))
    assert piece == "" and [call.name for call in calls] == ["f"]
    assert isinstance(calls[0], ToolCall)


# -- work per delta does not grow with the text already seen ---------------------------------


def _sample(repeats: int) -> str:
    reasoning = "Let me think about the weather in <b>Paris</b>.\nStep 1: check.\n" * repeats
    chunk = "Sure, checking.\n" + call_text("f", ("s", "Paris"), ("i", "2")) + "\n"
    return reasoning + "</think>\n" + chunk * repeats + "All done."


def _scanned_one_char_at_a_time(text: str) -> int:
    reasoning = Step3p5ReasoningStreamer()
    tools = Step3p5ToolCallParser(TOOLS).streamer()
    for char in text:
        _, content = reasoning.feed(char)
        if content:
            tools.feed(content)
    reasoning.finish()
    tools.finish()
    return reasoning.scanned + tools.scanned


def test_streaming_work_is_linear() -> None:
    small, large = _sample(200), _sample(400)
    scanned_small = _scanned_one_char_at_a_time(small)
    scanned_large = _scanned_one_char_at_a_time(large)
    # One character per delta: each is looked at with at most a marker's length held back,
    # and a block once more when it closes, so the count is a small multiple of the length.
    assert scanned_small <= 16 * len(small)
    assert scanned_large / scanned_small <= 1.1 * len(large) / len(small)
