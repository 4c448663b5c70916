"""`generate_response` through memscreen-llm against the raw `ollama` client, one local server.

Both send the same request to the same loopback Ollama (the project's CPU build and tiny
model), interleaved, so engine time is shared; the ratio of medians is our overhead.
Target: at most 1.10x the raw call's median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from memscreen_llm_ollama.testing import EngineUnavailable, OllamaServer, provision

TARGET = 1.10
MESSAGES = [{"role": "user", "content": "Summarise my screen activity."}]
OPTIONS = {"temperature": 0.0, "seed": 1, "num_predict": 8}


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        engine = provision(log=lambda line: print(f"  {line}", file=sys.stderr))
    except EngineUnavailable as exc:
        print(f"SKIPPED: the local Ollama could not be provisioned: {exc}")
        return 0
    import ollama

    from memscreen_llm import create_llm

    with OllamaServer(engine) as server:
        server.create_model("tiny")
        raw = ollama.Client(host=server.base_url)
        ours = create_llm("ollama", base_url=server.base_url, model="tiny", temperature=0.0,
                          seed=1, max_tokens=8)

        def raw_call() -> object:
            return raw.chat(model="tiny", messages=MESSAGES, options=OPTIONS).message.content

        def our_call() -> object:
            return ours.generate_response(MESSAGES)

        assert raw_call() == our_call(), "both must send the same request"
        for _ in range(20):  # warm up both paths
            raw_call()
            our_call()
        raw_ms, our_ms = [], []
        for _ in range(args.runs):
            raw_ms.append(timed(raw_call))
            our_ms.append(timed(our_call))
    raw_median, our_median = statistics.median(raw_ms), statistics.median(our_ms)
    ratio = our_median / raw_median
    result = {"runs": args.runs, "raw_ollama_ms": round(raw_median, 3),
              "memscreen_llm_ms": round(our_median, 3), "ratio": round(ratio, 3),
              "target": TARGET, "pass": ratio <= TARGET, "ollama_version": engine.version}
    report = (f"Ollama {engine.version}, {args.runs} interleaved calls each, num_predict=8\n"
              f"raw ollama.Client.chat        median {raw_median:8.3f} ms\n"
              f"memscreen-llm generate_response median {our_median:8.3f} ms\n"
              f"ratio {ratio:.3f} (target <= {TARGET})  {'PASS' if ratio <= TARGET else 'FAIL'}")
    print(json.dumps(result, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
