"""CLI startup: `memscreen-llm backends --json` against bare `python -c pass`.

Target: the median is within 60 ms of bare Python start on a 2-core machine, and no
engine SDK (openai, ollama, httpx, vllm, torch) is imported by discovery.

Measured as installed packages run: with bytecode caches. The runs drop
PYTHONDONTWRITEBYTECODE (set on some machines), so the warm-up run writes the .pyc
files that `pip install` would have compiled; otherwise every run would re-compile
attrs, pluggy and importlib.metadata from source and measure the compiler instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TARGET_MS = 60.0
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
SDKS = ("openai", "ollama", "httpx", "vllm", "torch", "opentelemetry", "matplotlib")


def median_ms(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=True, env=ENV)  # .pyc + file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=ENV)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def imported_sdks() -> list[str]:
    probe = (
        "import sys; from memscreen_llm.cli import main; main(['backends', '--json']); "
        "roots = {m.split('.')[0] for m in sys.modules}; "
        f"print('SDKS:' + ','.join(sorted(roots & set({SDKS!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("SDKS:"))
    return [name for name in line.removeprefix("SDKS:").split(",") if name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check-imports", action="store_true",
                        help="no timing: exit 1 if discovery imports an engine SDK")
    args = parser.parse_args()
    if args.check_imports:
        sdks = imported_sdks()
        print(f"memscreen-llm backends --json imported engine SDKs: {', '.join(sdks) or 'none'}")
        return 1 if sdks else 0
    bare = median_ms([sys.executable, "-c", "pass"], args.runs)
    cli = median_ms([sys.executable, "-m", "memscreen_llm.cli", "backends", "--json"], args.runs)
    backends = json.loads(subprocess.run(
        [sys.executable, "-m", "memscreen_llm.cli", "backends", "--json"],
        capture_output=True, text=True, check=True).stdout)
    sdks = imported_sdks()
    result = {
        "python_c_pass_ms": round(bare, 1),
        "backends_json_ms": round(cli, 1),
        "overhead_ms": round(cli - bare, 1),
        "target_overhead_ms": TARGET_MS,
        "backends": [b["name"] for b in backends],
        "sdks_imported": sdks,
        "pass": cli - bare <= TARGET_MS and not sdks,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"python -c pass                 {bare:7.1f} ms (median of {args.runs})")
        print(f"memscreen-llm backends --json  {cli:7.1f} ms")
        print(f"overhead                       {cli - bare:7.1f} ms (target <= {TARGET_MS:.0f} ms)")
        print(f"backends discovered            {', '.join(result['backends']) or '(none)'}")
        print(f"engine SDKs imported           {', '.join(sdks) or 'none'}")
        print("PASS" if result["pass"] else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
