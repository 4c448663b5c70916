"""Client-side output parsers named in the config, looked up in core's parser registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memscreen_llm import get_registry
from memscreen_llm.errors import ConfigError
from memscreen_llm.parsing import OutputParser
from memscreen_llm.specs import load_target

Tools = Sequence[Mapping[str, Any]]


class ClientParsers:
    """`reasoning_parser` and `tool_parser` from the config, checked when the backend is made.

    Used on raw model text: in offline mode always, in server mode only when the server
    did not split the output itself (no `reasoning` and no `tool_calls` in its answer).
    """

    def __init__(self, reasoning: str | None, tool_calls: str | None) -> None:
        self.reasoning_name = reasoning
        self.tool_calls_name = tool_calls
        self._reasoning_cls: Any = None
        self._tool_calls_cls: Any = None
        if reasoning is None and tool_calls is None:
            return
        registry = get_registry()
        installed = ", ".join(registry.parser_names()) or "(none)"
        for field, name, part in (("reasoning_parser", reasoning, "reasoning"),
                                  ("tool_parser", tool_calls, "tool_calls")):
            if name is None:
                continue
            found = registry.parsers.get(name)
            if found is None:
                raise ConfigError(
                    f"{field}: no parser named {name!r} is installed", field=field, value=name,
                    fix=f"installed parsers: {installed} (step3p5 comes with "
                    "memscreen-llm-step35)",
                )
            target = getattr(found.spec, part)
            if target is None:
                raise ConfigError(
                    f"{field}: parser {name!r} has no {part.replace('_', '-')} part",
                    field=field, value=name, fix=f"installed parsers: {installed}",
                )
            if part == "reasoning":
                self._reasoning_cls = load_target(target)
            else:
                self._tool_calls_cls = load_target(target)

    @property
    def has_tool_parser(self) -> bool:
        return self._tool_calls_cls is not None

    def __bool__(self) -> bool:
        return self._reasoning_cls is not None or self._tool_calls_cls is not None

    def for_request(self, tools: Tools | None, parse_tools: bool) -> OutputParser | None:
        """The parser for one request; tool calls are looked for only if tools may be called."""
        reasoning = self._reasoning_cls() if self._reasoning_cls is not None else None
        tool_calls = None
        if parse_tools and self._tool_calls_cls is not None:
            tool_calls = self._tool_calls_cls(list(tools) if tools else None)
        if reasoning is None and tool_calls is None:
            return None
        return OutputParser(reasoning=reasoning, tool_calls=tool_calls)
