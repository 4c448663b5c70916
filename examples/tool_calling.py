"""A whole tool-calling round trip: the model asks for a tool, the app runs it, the
result goes back into the history, and the model answers with it.

    MEMSCREEN_LLM_BACKEND=ollama python examples/tool_calling.py

Tool calls arrive whole, as `ToolCall(name, arguments, id)` on every backend;
`result.to_message()` is the assistant turn to put back into the history.

With MEMSCREEN_EXAMPLES_TINY_MODEL=1 (set by `nox -s examples`, which serves a tiny
random-weight model) the first answer is FORCED to be the tool call: a random model
cannot decide to call a tool, so a JSON schema makes it write exactly the call the chat
template announces, which Ollama then parses as a tool call. A real model (qwen3:1.7b
and up) needs no forcing: leave the variable unset.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from memscreen_llm import create_llm

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def get_weather(city: str) -> dict[str, Any]:
    """The tool itself: here a stand-in for a real weather lookup."""
    return {"city": city, "temperature_c": 18, "sky": "cloudy"}


RUN = {"get_weather": get_weather}


def forced_call(backend: str) -> dict[str, Any]:
    """Per-call options that make a tiny random test model call the tool (see docstring)."""
    if not os.environ.get("MEMSCREEN_EXAMPLES_TINY_MODEL"):
        return {}
    if backend != "ollama":
        raise SystemExit("the tiny-model forcing here is written for Ollama's JSON schemas")
    schema = {"type": "object", "required": ["name", "arguments"], "properties": {
        "name": {"const": "get_weather"},
        "arguments": {"type": "object", "required": ["city"],
                      "properties": {"city": {"const": "Paris"}}}}}
    return {"max_tokens": 64, "response_format": {
        "type": "json_schema", "json_schema": {"name": "call", "schema": schema}}}


def main() -> int:
    llm = create_llm(temperature=0.0)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Should I take an umbrella in Paris today?"}]

    # 1. The model asks for the tool.
    first = llm.chat(messages, tools=TOOLS, **forced_call(llm.backend_name))
    if not first.tool_calls:
        print(f"the model answered without calling a tool: {first.content!r}", file=sys.stderr)
        return 1
    messages.append(first.to_message())  # the assistant turn, tool calls included

    # 2. The app runs each call and puts the result into the history.
    for call in first.tool_calls:
        output = RUN[call.name](**call.parsed_arguments())
        print(f"tool call {call.id}: {call.name}({call.parsed_arguments()}) -> {output}")
        messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                         "content": json.dumps(output)})

    # 3. The model answers with the tool's result in view.
    final = llm.chat(messages, tools=TOOLS, max_tokens=48)
    print(f"final answer ({final.finish_reason}): {final.content!r}")
    print(f"history: {[m['role'] for m in messages]}")
    llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
