"""`write_parser_plugin()`: a real (if tiny) parser plugin distribution, written at test time.

Backends apply the parsers named in their config (`reasoning_parser`, `tool_parser`) by
looking them up in core's registry, so tests install parsers the way any third party
would: a module plus a `.dist-info` whose entry_points.txt names it in the
`memscreen.llm_backends` group, in a folder put on sys.path or PYTHONPATH.

With the default prefix `test` it registers:

- `test-think`: the text before the first `</think>` is reasoning, the rest content; one
  newline each side of the marker is dropped. Without the marker all of the text is
  reasoning: the model never stopped thinking.
- `test-calls`: each `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` is a tool
  call; any other text (a block that is not such JSON, too) is content.

Both stream: markers split across chunks are held back until they are whole.
"""

from __future__ import annotations

import re
from pathlib import Path

_HOOKS = '''
from memscreen_llm import ParserSpec, hookimpl


@hookimpl
def supported_api():
    return ">=1.0,<2"


@hookimpl
def register_parsers(register):
    register(ParserSpec(name=__THINK__, reasoning=__IMPL__ + ":Think"))
    register(ParserSpec(name=__CALLS__, tool_calls=__IMPL__ + ":Calls"))
'''

_IMPL = r'''
import json

from memscreen_llm import ToolCall

END_THINK, OPEN, CLOSE = __MARKERS__


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


def write_parser_plugin(
    folder: Path,
    prefix: str = "test",
    *,
    think_end: str = "</think>",
    call_open: str = "<tool_call>",
    call_close: str = "</tool_call>",
) -> Path:
    """Write the distribution into `folder` and return `folder` (put it on sys.path yourself).

    The parsers are `{prefix}-think` and `{prefix}-calls`, in the distribution
    `memscreen-{prefix}-parsers` (modules `memscreen_{prefix}_parsers[_impl]`); a
    different prefix gives a second distribution that can sit next to the first.
    """
    if not re.fullmatch(r"[a-z][a-z0-9]*", prefix):
        raise ValueError(f"prefix must be lowercase letters and digits, not {prefix!r}")
    module = f"memscreen_{prefix}_parsers"
    hooks = (_HOOKS.replace("__THINK__", repr(f"{prefix}-think"))
             .replace("__CALLS__", repr(f"{prefix}-calls"))
             .replace("__IMPL__", repr(f"{module}_impl")))
    impl = _IMPL.replace("__MARKERS__", repr((think_end, call_open, call_close)))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(hooks, encoding="utf-8")
    (folder / f"{module}_impl.py").write_text(impl, encoding="utf-8")
    info = folder / f"{module}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: memscreen-{prefix}-parsers\nVersion: 1.0\n",
        encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[memscreen.llm_backends]\n{prefix}-parsers = {module}\n", encoding="utf-8")
    return folder
