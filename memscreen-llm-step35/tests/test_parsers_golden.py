"""Golden cases (tests/data/cases.json): one-shot, and streamed under many splits.

The cases are the spec (docs/FORMAT.md, as data) and live in this distribution's tests,
so a plain checkout runs them. MEMSCREEN_STEP35_CASES may point at another cases file
(same shape) to run instead. A missing or empty file fails the run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memscreen_llm.parsing import OutputParser
from memscreen_llm.types import ChatResult, join_deltas
from memscreen_llm_step35.parsers import Step3p5ReasoningParser, Step3p5ToolCallParser

CASES_ENV = "MEMSCREEN_STEP35_CASES"
IN_REPO_CASES = Path(__file__).resolve().parent / "data" / "cases.json"
ID_PATTERN = re.compile(r"call_[0-9a-f]{24}")


def _find_cases() -> tuple[Path | None, str]:
    configured = os.environ.get(CASES_ENV)
    if configured:
        path = Path(configured)
        return (path, "") if path.is_file() else (None, f"{CASES_ENV}={configured} is no file")
    if IN_REPO_CASES.is_file():
        return IN_REPO_CASES, ""
    return None, f"{IN_REPO_CASES} is missing (or set {CASES_ENV} to a cases file)"


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return cases


CASES_PATH, CASES_PROBLEM = _find_cases()
CASES: list[dict[str, Any]] = load_cases(CASES_PATH) if CASES_PATH else []

# -- ways to split a text into stream deltas ------------------------------------------------

MARKERS = (
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "<parameter=",
    "</parameter>",
    "</function>",
)
TOKEN = re.compile("|".join(re.escape(marker) for marker in MARKERS) + r"|\n|[^\S\n]+|\w+|[^\w\s]")
# Multi-token prediction may hand over the end of one call and the start of the next at once.
GLUED = re.compile(r"</tool_call>\s*<tool_call>\s*<|</think>\s*<tool_call>\s*<")


def fixed_chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def whole_tokens(text: str) -> list[str]:
    tokens = TOKEN.findall(text)
    assert "".join(tokens) == text
    return tokens


def mtp_chunks(text: str, per_step: int, offset: int) -> list[str]:
    """Groups of `per_step` tokens (after `offset` single ones), never cutting a GLUED span."""
    cuts: list[int] = []
    pos = 0
    for token in whole_tokens(text):
        pos += len(token)
        cuts.append(pos)
    glued = [(m.start(), m.end()) for m in GLUED.finditer(text)]
    cuts = [cut for cut in cuts if not any(start < cut < end for start, end in glued)]
    kept = cuts[:offset] + cuts[offset + per_step - 1 :: per_step]
    if not kept or kept[-1] != len(text):
        kept.append(len(text))
    chunks, last = [], 0
    for cut in kept:
        if cut > last:
            chunks.append(text[last:cut])
            last = cut
    assert "".join(chunks) == text
    for start, end in glued:
        assert any(text[start:end] in chunk for chunk in chunks)
    return chunks


def _mtp(per_step: int, offset: int) -> Callable[[str], list[str]]:
    return lambda text: mtp_chunks(text, per_step, offset)


def _fixed(size: int) -> Callable[[str], list[str]]:
    return lambda text: fixed_chunks(text, size)


SPLITTERS: dict[str, Callable[[str], list[str]]] = {
    **{f"chunk{size}": _fixed(size) for size in range(1, 9)},
    "tokens": whole_tokens,
    "mtp2": _mtp(2, 0),
    "mtp2-shifted": _mtp(2, 1),
    "mtp3": _mtp(3, 0),
}

# -- helpers --------------------------------------------------------------------------------


def _parser(case: dict[str, Any]) -> OutputParser:
    return OutputParser(
        reasoning=Step3p5ReasoningParser(), tool_calls=Step3p5ToolCallParser(case.get("tools"))
    )


def _summary(result: ChatResult) -> tuple[Any, ...]:
    calls = [(call.name, json.loads(call.arguments)) for call in result.tool_calls]
    return result.reasoning, result.content, calls


def _expected(case: dict[str, Any]) -> tuple[Any, ...]:
    calls = [(call["name"], call["arguments"]) for call in case["tool_calls"]]
    return case["reasoning"], case["content"], calls


def _check_ids(result: ChatResult) -> None:
    ids = [call.id for call in result.tool_calls]
    assert len(set(ids)) == len(ids)
    assert all(ID_PATTERN.fullmatch(call_id) for call_id in ids), ids
    for call in result.tool_calls:
        assert isinstance(json.loads(call.arguments), dict)


def _streamed(parser: OutputParser, chunks: list[str]) -> ChatResult:
    streamer = parser.streamer()

    def deltas() -> Iterator[Any]:
        for chunk in chunks:
            yield streamer.feed(chunk)
        yield streamer.finish()

    return join_deltas(deltas())


def _case_id(case: dict[str, Any]) -> str:
    return str(case["id"])


# -- tests ----------------------------------------------------------------------------------


def test_cases_file_found() -> None:
    if CASES_PATH is None:
        pytest.fail(f"golden cases not found: {CASES_PROBLEM}")
    assert CASES, f"{CASES_PATH} holds no cases"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_one_shot(case: dict[str, Any]) -> None:
    result = _parser(case).parse(case["text"])
    assert _summary(result) == _expected(case)
    _check_ids(result)


@pytest.mark.parametrize("splitter", SPLITTERS.values(), ids=list(SPLITTERS))
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_streamed(case: dict[str, Any], splitter: Callable[[str], list[str]]) -> None:
    chunks = splitter(case["text"])
    result = _streamed(_parser(case), chunks)
    assert _summary(result) == _expected(case), chunks
    _check_ids(result)
