#!/usr/bin/env python3
"""Benchmark: Step-3.5-Flash streaming parsers fed one character at a time.

Feeds 1 MB and 2 MB of Step-format output (reasoning, `</think>`, prose and tool calls)
through core's OutputParser streamer built from the step35 reasoning and tool-call parsers,
and reports the seconds for each and their ratio. Work per delta must not grow with the text
already seen, so 2 MB should take about twice as long as 1 MB (target: ratio <= 2.5).

Always exits 0; prints PASS or FAIL against the target.

    python benchmarks/bench_step35_stream.py [--sizes 1 2] [--repeat 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

MB = 1_000_000
TARGET_RATIO = 2.5

try:
    from memscreen_llm.parsing import OutputParser
    from memscreen_llm.types import ChatResult, StreamJoiner
    from memscreen_llm_step35.parsers import Step3p5ReasoningParser, Step3p5ToolCallParser
except ImportError:  # run from a plain checkout: use the source trees beside this script
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [
        str(_ROOT / pkg / "src") for pkg in ("memscreen-llm-step35", "memscreen-llm-core")
    ]
    from memscreen_llm.parsing import OutputParser
    from memscreen_llm.types import ChatResult, StreamJoiner
    from memscreen_llm_step35.parsers import Step3p5ReasoningParser, Step3p5ToolCallParser

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer"},
                    "opts": {"type": "object"},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "run_code",
            "parameters": {"type": "object", "properties": {"code": {"type": "string"}}},
        },
    },
]

REASONING_PARAGRAPH = (
    "The user wants the forecast for several cities. I should compare a < b and check "
    "whether the <b>units</b> matter.\nLet me list the steps:\n1. look up each city;\n"
    "2. convert the temperatures;\n3. summarise in a table.\n\n"
)
CONTENT_PARAGRAPH = (
    "Here is what I found so far. The numbers below come from the tool results, "
    "rounded to one decimal.\n\n| city | temp |\n|---|---|\n| Paris | 21.5 |\n\n"
)
WEATHER_CALL = (
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
    '<parameter=days>\n3\n</parameter>\n<parameter=opts>\n{"units": "metric", '
    '"hourly": true}\n</parameter>\n</function>\n</tool_call>\n'
)
CODE_CALL = (
    "<tool_call>\n<function=run_code>\n<parameter=code>\nfor i in range(3):\n"
    '    if i < 2:\n        print(f"<{i}>")\n</parameter>\n</function>\n</tool_call>'
)


def step_text(size: int) -> str:
    """About `size` characters of output: half reasoning, then prose with tool calls."""
    half = size // 2
    reasoning = REASONING_PARAGRAPH * (half // len(REASONING_PARAGRAPH) + 1)
    unit = CONTENT_PARAGRAPH + WEATHER_CALL + CODE_CALL + "\n"
    content = unit * ((size - half) // len(unit) + 1)
    return (reasoning[:half] + "\n</think>\n" + content)[:size]


def stream_one_char_at_a_time(parser: OutputParser, text: str) -> tuple[float, ChatResult]:
    """Seconds to stream `text` a character per delta, joining deltas as a client would."""
    streamer = parser.streamer()
    joiner = StreamJoiner()
    feed, add = streamer.feed, joiner.add
    start = time.perf_counter()
    for char in text:
        add(feed(char))
    add(streamer.finish())
    return time.perf_counter() - start, joiner.result()


def measure(size_mb: float, repeat: int) -> dict[str, Any]:
    text = step_text(int(size_mb * MB))
    parser = OutputParser(
        reasoning=Step3p5ReasoningParser(), tool_calls=Step3p5ToolCallParser(TOOLS)
    )
    best = float("inf")
    for _ in range(repeat):
        seconds, streamed = stream_one_char_at_a_time(parser, text)
        best = min(best, seconds)
    one_shot = parser.parse(text)
    agrees = (streamed.reasoning, streamed.content, [c.arguments for c in streamed.tool_calls]) == (
        one_shot.reasoning,
        one_shot.content,
        [c.arguments for c in one_shot.tool_calls],
    )
    return {
        "size_mb": size_mb,
        "chars": len(text),
        "seconds": round(best, 4),
        "us_per_char": round(best / len(text) * 1e6, 3),
        "tool_calls": len(streamed.tool_calls),
        "matches_one_shot": agrees,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=float,
        nargs=2,
        default=[1.0, 2.0],
        metavar=("SMALL", "LARGE"),
        help="the two sizes in MB (default: 1 2)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the best counts")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)

    runs = [measure(size, max(1, args.repeat)) for size in args.sizes]
    ratio = runs[1]["seconds"] / runs[0]["seconds"] if runs[0]["seconds"] else float("inf")
    expected = args.sizes[1] / args.sizes[0]
    # The target scales with the sizes: 2.5x for the default 1 MB -> 2 MB.
    target = TARGET_RATIO * expected / 2
    passed = ratio <= target and all(run["matches_one_shot"] for run in runs)

    print(f"{'size':>8} {'chars':>10} {'seconds':>9} {'us/char':>8} {'calls':>6} {'ok':>4}")
    for run in runs:
        print(
            f"{run['size_mb']:>6} MB {run['chars']:>10} {run['seconds']:>9.3f} "
            f"{run['us_per_char']:>8.3f} {run['tool_calls']:>6} "
            f"{'yes' if run['matches_one_shot'] else 'NO':>4}"
        )
    print(f"ratio {ratio:.2f}x (target <= {target:.2f}x): {'PASS' if passed else 'FAIL'}")
    if args.json:
        print(
            json.dumps(
                {
                    "runs": runs,
                    "ratio": round(ratio, 3),
                    "target": target,
                    "result": "PASS" if passed else "FAIL",
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
