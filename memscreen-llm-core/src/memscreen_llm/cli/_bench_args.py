"""`memscreen-llm bench`'s arguments (stdlib only: the parser is built on every run)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", "-b", action="append", metavar="NAME",
                   help="a backend to run (repeatable: side by side; default: from config)")
    p.add_argument("--concurrency", "-c", default="1", metavar="N[,N...]",
                   help="requests in flight, a sweep like 1,8,32 (default 1)")
    p.add_argument("--requests", "-n", metavar="N",
                   help="requests per backend and concurrency (default 16)")
    p.add_argument("--duration", metavar="S",
                   help="instead of --requests: seconds per backend and concurrency")
    p.add_argument("--prompt", metavar="TEXT|@FILE", help="the prompt every request sends")
    p.add_argument("--prompt-tokens", metavar="N",
                   help="instead of --prompt: synthetic prompts of about N tokens, one per "
                   "request (default 64)")
    p.add_argument("--max-tokens", metavar="N", default="64", help="per request (default 64)")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True,
                   help="stream the answers (default; needed for TTFT and ITL)")
    p.add_argument("--warmup", metavar="N", default="1",
                   help="unmeasured requests per backend first (default 1)")
    p.add_argument("--seed", metavar="N", help="seeds the synthetic prompts and the sampling")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="draw the results: FILE.png or FILE.html "
                   "(needs memscreen-llm-core[bench])")
    p.add_argument("--otel", action="store_true",
                   help="trace every request with OpenTelemetry (needs memscreen-llm-core[otel])")
    p.add_argument("--set", dest="settings", action="append", default=[],
                   metavar="[BACKEND.]FIELD=VALUE",
                   help="set a config field, of every backend or of one (repeatable)")
