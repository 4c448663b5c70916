"""Streaming cost: `llm.stream(...)` against the raw SDK's own stream, on a canned server.

A canned loopback HTTP server (a child process, 127.0.0.1 only, so it does not share
the client's GIL) answers an OpenAI chat-completions stream (SSE: a role chunk, 200
content deltas, a finish chunk, a usage chunk, [DONE]) and an Ollama /api/chat stream
(NDJSON: 200 chunks, then the done chunk), every event its own HTTP chunk. With no
engine behind it, what is left is the client side: transport, the SDK's parsing and, for
ours, the backend's per-delta work.

Each round runs `--reps` streams of the raw SDK (fully consumed: the text joined) and as
many of our backend's `llm.stream(...)` (consumed the same way), alternating stream by
stream; the result is the median over rounds of the paired ratios ours/raw, in wall time
and in this process's CPU time, for the vLLM backend against raw `openai` and the Ollama
backend against raw `ollama`. Target: a CPU ratio of at most 1.05x; exits 1 if one is
over it. The CPU ratio is the gate because it is what the client spends: the wall ratio
(printed too) also holds whatever other processes take of a shared machine's cores, and
scatters by several percent when they are busy.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = 1.05
DELTAS = 200
MODEL = "canned"
MESSAGES = [{"role": "user", "content": "Summarise my screen activity."}]
WORDS = ("the", " screen", " shows", " a", " terminal", ",", " an", " editor", " and",
         " two", " browser", " tabs", ".")


def _word(index: int) -> str:
    return WORDS[index % len(WORDS)]


# --- the canned server (runs in a child process) ---


def _chunked(events: list[bytes]) -> bytes:
    """The events as an HTTP/1.1 chunked body, one chunk per event."""
    return b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"


def _openai_body() -> bytes:
    def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": "chatcmpl-bench", "object": "chat.completion.chunk",
                                 "created": 1700000000, "model": MODEL, "choices": choices}
        if usage is not None:
            chunk["usage"] = usage
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    events = [event([choice({"role": "assistant", "content": ""})])]
    events += [event([choice({"content": _word(i)})]) for i in range(DELTAS)]
    events.append(event([choice({"content": ""}, "stop")]))
    events.append(event([], {"prompt_tokens": 12, "completion_tokens": DELTAS,
                             "total_tokens": 12 + DELTAS}))
    events.append(b"data: [DONE]\n\n")
    return _chunked(events)


def _ollama_body() -> bytes:
    def event(content: str, **extra: Any) -> bytes:
        chunk = {"model": MODEL, "created_at": "2026-11-24T10:00:00.000000Z",
                 "message": {"role": "assistant", "content": content}, **extra}
        return json.dumps(chunk).encode() + b"\n"

    events = [event(_word(i), done=False) for i in range(DELTAS)]
    events.append(event("", done=True, done_reason="stop", total_duration=123456789,
                        load_duration=1234567, prompt_eval_count=12,
                        prompt_eval_duration=1234567, eval_count=DELTAS,
                        eval_duration=98765432))
    return _chunked(events)


MODELS = json.dumps({"object": "list", "data": [
    {"id": MODEL, "object": "model", "created": 0, "owned_by": "bench", "max_model_len": 32768},
]}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms ACK wait
    openai_body = _openai_body()
    ollama_body = _ollama_body()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, content_type: str, body: bytes, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/v1/models"):
            self._send("application/json", MODELS, chunked=False)
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/chat/completions"):
            self._send("text/event-stream", self.openai_body, chunked=True)
        elif self.path == "/api/chat":
            self._send("application/x-ndjson", self.ollama_body, chunked=True)
        else:
            self.send_error(404)


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --- the measurement ---


def _cost(call: Callable[[], str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one stream. CPU is this process's time only: the server's
    is not in it, nor a slice another process took of the core."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def paired(raw: Callable[[], str], ours: Callable[[], str], rounds: int,
           reps: int) -> dict[str, float]:
    """Medians over rounds of ours/raw; in a round the two alternate stream by stream
    (raw, ours, ours, raw, ...), so a change in the machine's load hits both alike."""
    expected = "".join(_word(i) for i in range(DELTAS))
    assert raw() == expected, "the raw stream must carry the canned text"
    assert ours() == expected, "our stream must carry the canned text"
    for _ in range(3 * reps):  # warm up both paths (connections, caches)
        raw()
        ours()
    wall_ratios, cpu_ratios, raw_ms, our_ms = [], [], [], []
    for _ in range(rounds):
        gc.collect()
        totals = {raw: [0.0, 0.0], ours: [0.0, 0.0]}
        for index in range(reps):
            for call in ((raw, ours) if index % 2 == 0 else (ours, raw)):
                wall, cpu = _cost(call)
                totals[call][0] += wall
                totals[call][1] += cpu
        (raw_wall, raw_cpu), (our_wall, our_cpu) = totals[raw], totals[ours]
        wall_ratios.append(our_wall / raw_wall)
        cpu_ratios.append(our_cpu / raw_cpu)
        raw_ms.append(raw_wall / reps * 1000)
        our_ms.append(our_wall / reps * 1000)
    return {"raw_ms": statistics.median(raw_ms), "ours_ms": statistics.median(our_ms),
            "wall_ratio": statistics.median(wall_ratios),
            "cpu_ratio": statistics.median(cpu_ratios)}


def vllm_pair(url: str) -> tuple[Callable[[], str], Callable[[], str]]:
    import openai

    from memscreen_llm import create_llm

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="EMPTY")
    llm = create_llm("vllm", base_url=f"{url}/v1", model=MODEL)

    def raw() -> str:
        stream = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True})
        # Consumed as `ours` consumes ours: one join over the chunks that carry text.
        return "".join(chunk.choices[0].delta.content for chunk in stream
                       if chunk.choices and chunk.choices[0].delta.content)

    return raw, lambda: ours(llm)


def ours(llm: Any) -> str:
    """Our backend's stream, consumed the same way as the raw ones."""
    return "".join(delta.content for delta in llm.stream(MESSAGES) if delta.content)


def ollama_pair(url: str) -> tuple[Callable[[], str], Callable[[], str]]:
    import ollama

    from memscreen_llm import create_llm

    client = ollama.Client(host=url)
    llm = create_llm("ollama", base_url=url, model=MODEL)

    def raw() -> str:
        return "".join(chunk.message.content for chunk in client.chat(
            model=MODEL, messages=MESSAGES, stream=True) if chunk.message.content)

    return raw, lambda: ours(llm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--reps", type=int, default=8, help="streams a side per round")
    parser.add_argument("--only", choices=["vllm", "ollama"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        pairs = {"vllm": (vllm_pair, "raw openai"), "ollama": (ollama_pair, "raw ollama")}
        results = {}
        for name, (make, _) in pairs.items():
            if args.only in (None, name):
                results[name] = paired(*make(url), rounds=args.rounds, reps=args.reps)
    finally:
        server.terminate()
        server.wait()
    failed = [name for name, result in results.items() if result["cpu_ratio"] > TARGET]
    if args.json:
        print(json.dumps({"deltas": DELTAS, "rounds": args.rounds, "reps": args.reps,
                          "target": TARGET, "results": results, "pass": not failed}, indent=2))
    else:
        print(f"{DELTAS}-delta streams, canned loopback server, {args.rounds} interleaved "
              f"rounds of {args.reps} streams a side; median of paired ratios")
        print(f"{'backend':<8} {'against':<11} {'raw ms':>7} {'ours ms':>8} {'wall':>6} "
              f"{'CPU':>6}  target")
        for name, result in results.items():
            verdict = "FAIL" if name in failed else "PASS"
            print(f"{name:<8} {pairs[name][1]:<11} {result['raw_ms']:7.3f} "
                  f"{result['ours_ms']:8.3f} {result['wall_ratio']:6.3f} "
                  f"{result['cpu_ratio']:6.3f}  <= {TARGET}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
