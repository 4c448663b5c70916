"""A real (if tiny) plugin distribution that registers two output parsers, for the tests.

The vllm plugin applies parsers named in its config (`reasoning_parser`, `tool_parser`)
by looking them up in core's registry, so the tests install parsers the way any third
party would: a module plus a `.dist-info` whose entry_points.txt names it, on sys.path.

- `test-think`: everything before the first `</think>` is reasoning (one `\\n` around the
  marker dropped), the rest content; no marker means all reasoning.
- `test-calls`: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks are tool
  calls; other text is content.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

PLUGIN = '''
from memscreen_llm import ParserSpec, hookimpl


@hookimpl
def supported_api():
    return ">=1.0,<2"


@hookimpl
def register_parsers(register):
    register(ParserSpec(name="test-think", reasoning="memscreen_test_parsers_impl:ThinkParser"))
    register(ParserSpec(name="test-calls",
                        tool_calls="memscreen_test_parsers_impl:JsonCallParser"))
'''

IMPL = r'''
import json

from memscreen_llm import ToolCall

END = "</think>"
OPEN, CLOSE = "<tool_call>", "</tool_call>"


def _held(text, marker):
    """Length of the longest suffix of text that is a proper prefix of marker."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class ThinkParser:
    def parse(self, text):
        head, sep, tail = text.partition(END)
        if not sep:
            return (text or None), None
        head = head[:-1] if head.endswith("\n") else head
        tail = tail[1:] if tail.startswith("\n") else tail
        return (head or None), (tail or None)

    def streamer(self):
        return ThinkStreamer()


class ThinkStreamer:
    def __init__(self):
        self.buffer = ""
        self.done = False
        self.skip_newline = False

    def feed(self, text):
        if self.done:
            if self.skip_newline and text:
                self.skip_newline = False
                text = text[1:] if text.startswith("\n") else text
            return "", text
        self.buffer += text
        head, sep, tail = self.buffer.partition(END)
        if sep:
            self.done = True
            self.buffer = ""
            head = head[:-1] if head.endswith("\n") else head
            if tail:
                tail = tail[1:] if tail.startswith("\n") else tail
            else:
                self.skip_newline = True
            return head, tail
        keep = _held(self.buffer, END)
        if self.buffer[:len(self.buffer) - keep].endswith("\n"):
            keep += 1
        out, self.buffer = self.buffer[:len(self.buffer) - keep], self.buffer[len(self.buffer) - keep:]
        return out, ""

    def finish(self):
        out, self.buffer = self.buffer, ""
        return (out, "") if not self.done else ("", out)


class JsonCallParser:
    def __init__(self, tools=None):
        self.tools = tools

    def parse(self, text):
        streamer = self.streamer()
        content, calls = streamer.feed(text)
        tail, more = streamer.finish()
        content += tail
        return (content or None), calls + more

    def streamer(self):
        return JsonCallStreamer()


class JsonCallStreamer:
    def __init__(self):
        self.buffer = ""

    def feed(self, text):
        self.buffer += text
        out, calls = [], []
        while True:
            start = self.buffer.find(OPEN)
            if start < 0:
                keep = _held(self.buffer, OPEN)
                out.append(self.buffer[:len(self.buffer) - keep])
                self.buffer = self.buffer[len(self.buffer) - keep:]
                break
            end = self.buffer.find(CLOSE, start)
            if end < 0:
                out.append(self.buffer[:start])
                self.buffer = self.buffer[start:]
                break
            out.append(self.buffer[:start])
            body = self.buffer[start + len(OPEN):end]
            self.buffer = self.buffer[end + len(CLOSE):]
            try:
                data = json.loads(body)
                calls.append(ToolCall(name=data["name"], arguments=data.get("arguments", {})))
            except (ValueError, KeyError, TypeError):
                out.append(OPEN + body + CLOSE)
        return "".join(out), calls

    def finish(self):
        out, self.buffer = self.buffer, ""
        return out, []
'''


def write_parser_plugin(site: Path) -> Path:
    """Write the distribution into `site` (put it on sys.path / PYTHONPATH) and return it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "memscreen_test_parsers.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (site / "memscreen_test_parsers_impl.py").write_text(textwrap.dedent(IMPL), encoding="utf-8")
    info = site / "memscreen_test_parsers-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memscreen-test-parsers\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[memscreen.llm_backends]\ntest-parsers = memscreen_test_parsers\n", encoding="utf-8"
    )
    return site
