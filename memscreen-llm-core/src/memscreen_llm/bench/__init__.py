"""Benchmarking backends: what `memscreen-llm bench` runs, usable from Python too.

    from memscreen_llm import create_llm
    from memscreen_llm.bench import Workload, run_bench, table

    llms = [create_llm("ollama"), create_llm("vllm")]
    run = run_bench(llms, Workload(concurrency=(1, 4), requests=8))
    print(table(run))                  # or run.to_json()

Metrics (vLLM `bench serve`'s): TTFT, TPOT, ITL and end-to-end latency (mean, p50, p90,
p99), request and token throughput, usage totals, failures by error type. `--plot`
(`write_plot`) needs matplotlib: `pip install memscreen-llm-core[bench]`.
"""

from ._report import table
from ._runner import BenchRun, ProbeError, run_bench
from ._stats import Level, RequestRecord, level_stats, percentile, summary
from ._workload import Workload

__all__ = [
    "BenchRun",
    "Level",
    "ProbeError",
    "RequestRecord",
    "Workload",
    "level_stats",
    "percentile",
    "run_bench",
    "summary",
    "table",
]
