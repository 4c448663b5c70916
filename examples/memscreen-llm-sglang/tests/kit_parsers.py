"""A tiny parser plugin distribution, written at test time, that registers two parsers.

The sglang backend applies the parsers named in its config (`reasoning_parser`,
`tool_parser`) by looking them up in core's registry, so the tests install some the way
any third party would: a module and a `.dist-info` whose entry_points.txt names it in
the `memscreen.llm_backends` group, in a folder put on sys.path.

- `kit-think`: the text before `</think>` is reasoning (the tiny model's chat template
  opens `<think>` in the prompt), the rest content; one newline each side of the marker
  is dropped. Without the marker all of the text is reasoning: the model never stopped
  thinking.
- `kit-calls`: each `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` is a tool
  call; any other text is content.
"""

from __future__ import annotations

from pathlib import Path

HOOKS = '''
from memscreen_llm import ParserSpec, hookimpl


@hookimpl
def supported_api():
    return ">=1.0,<2"


@hookimpl
def register_parsers(register):
    register(ParserSpec(name="kit-think", reasoning="memscreen_kit_parsers_impl:Think"))
    register(ParserSpec(name="kit-calls", tool_calls="memscreen_kit_parsers_impl:Calls"))
'''

IMPL = r'''
import json

from memscreen_llm import ToolCall

END_THINK, OPEN, CLOSE = "</think>", "<tool_call>", "</tool_call>"


def partial_tail(text, marker):
    """How many characters at the end of `text` could be the start of `marker`."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0


class Think:
    def parse(self, text):
        streamer = self.streamer()
        reasoning, content = streamer.feed(text)
        more_reasoning, more_content = streamer.finish()
        return (reasoning + more_reasoning or None), (content + more_content or None)

    def streamer(self):
        return ThinkStreamer()


class ThinkStreamer:
    def __init__(self):
        self.pending = ""        # text not yet given out
        self.thinking = True
        self.strip_newline = False

    def feed(self, text):
        if not self.thinking:
            if self.strip_newline and text:
                self.strip_newline = False
                text = text[1:] if text.startswith("\n") else text
            return "", text
        self.pending += text
        head, found, tail = self.pending.partition(END_THINK)
        if found:
            self.thinking, self.pending = False, ""
            head = head[:-1] if head.endswith("\n") else head
            self.strip_newline = True
            return head, self.feed(tail)[1]
        keep = partial_tail(self.pending, END_THINK)
        if self.pending[:len(self.pending) - keep].endswith("\n"):
            keep += 1    # a newline right before the marker is dropped with it
        cut = len(self.pending) - keep
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, ""

    def finish(self):
        out, self.pending = self.pending, ""
        return (out, "") if self.thinking else ("", out)


class Calls:
    def __init__(self, tools=None):
        self.tools = tools

    def parse(self, text):
        streamer = self.streamer()
        content, calls = streamer.feed(text)
        tail, more = streamer.finish()
        return (content + tail or None), calls + more

    def streamer(self):
        return CallsStreamer()


class CallsStreamer:
    def __init__(self):
        self.pending = ""

    def feed(self, text):
        self.pending += text
        out, calls = [], []
        while True:
            start = self.pending.find(OPEN)
            if start < 0:
                cut = len(self.pending) - partial_tail(self.pending, OPEN)
                out.append(self.pending[:cut])
                self.pending = self.pending[cut:]
                return "".join(out), calls
            end = self.pending.find(CLOSE, start)
            out.append(self.pending[:start])
            if end < 0:      # an open call: hold it until it closes (or the stream ends)
                self.pending = self.pending[start:]
                return "".join(out), calls
            body = self.pending[start + len(OPEN):end]
            self.pending = self.pending[end + len(CLOSE):]
            try:
                data = json.loads(body)
                calls.append(ToolCall(name=data["name"], arguments=data.get("arguments", {})))
            except (ValueError, KeyError, TypeError):
                out.append(OPEN + body + CLOSE)   # not a call after all: keep it as text

    def finish(self):
        out, self.pending = self.pending, ""
        return out, []
'''


def write_kit_parsers(site: Path) -> Path:
    """Write the distribution into `site` (then put `site` on sys.path or PYTHONPATH)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "memscreen_kit_parsers.py").write_text(HOOKS, encoding="utf-8")
    (site / "memscreen_kit_parsers_impl.py").write_text(IMPL, encoding="utf-8")
    info = site / "memscreen_kit_parsers-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memscreen-kit-parsers\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[memscreen.llm_backends]\nkit-parsers = memscreen_kit_parsers\n", encoding="utf-8")
    return site
