"""Client-side parsers for Step-3.5-Flash raw output: reasoning split and tool calls.

Both follow the rules in this distribution's docs/FORMAT.md (memscreen-llm-step35/docs/)
and implement core's `ReasoningParser` and `ToolCallParser` protocols
(`memscreen_llm.parsing`), one-shot and streaming.
"""

from __future__ import annotations

from .reasoning import Step3p5ReasoningParser, Step3p5ReasoningStreamer
from .tool_calls import Step3p5ToolCallParser, Step3p5ToolCallStreamer

__all__ = [
    "Step3p5ReasoningParser",
    "Step3p5ReasoningStreamer",
    "Step3p5ToolCallParser",
    "Step3p5ToolCallStreamer",
]
