"""The main job, end to end, as a user would run it: MemScreen's LLM layer on a local engine.

1. Uses the Ollama server at MEMSCREEN_OLLAMA_URL if one answers there; otherwise
   provisions the project's local Ollama (a CPU build from PyPI) and a tiny model built
   on the spot, and starts it on 127.0.0.1.
2. Runs `memscreen-llm backends` and `memscreen-llm doctor`.
3. Chats, plain and streamed, through `create_llm()` with the backend chosen by
   MEMSCREEN_LLM_BACKEND=ollama, and prints what happened.
4. Stops every process it started.

The tiny model has random weights: its words are gibberish, but every step is real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from memscreen_llm_ollama.testing import EngineUnavailable, OllamaServer, provision


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def cli(*args: str) -> int:
    print(f"$ memscreen-llm {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args]).returncode
    print(f"(exit code {code})", flush=True)
    return code


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/version", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def chat_through_the_plugin_system() -> None:
    from memscreen_llm import create_llm

    llm = create_llm(temperature=0.0, seed=1, max_tokens=32)  # backend from MEMSCREEN_LLM_BACKEND
    print(f"create_llm() -> {llm!r}")
    messages = [{"role": "user", "content": "What did I look at on my screen today?"}]
    start = time.perf_counter()
    result = llm.chat(messages)
    print(f"chat: {(time.perf_counter() - start) * 1000:.0f} ms, finish={result.finish_reason}, "
          f"usage={result.usage}")
    print(f"  content: {result.content!r}")
    print("stream: ", end="", flush=True)
    pieces: list[str] = []
    for delta in llm.stream(messages):
        if delta.content:
            pieces.append(delta.content)
            print(delta.content, end="", flush=True)
    same = "".join(pieces) == result.content
    print(f"\n  ({len(pieces)} content deltas; joined stream "
          f"{'equals' if same else 'DIFFERS FROM'} the plain chat at temperature 0)")
    print(f"generate_response (MemScreen API): {llm.generate_response(messages)!r}")
    llm.close()


def main() -> int:
    url = os.environ.get("MEMSCREEN_OLLAMA_URL", "")
    server = None
    if url and answers(url):
        say(f"using the Ollama server already running at {url}")
    else:
        if url:
            say(f"nothing answers at MEMSCREEN_OLLAMA_URL={url}; starting a local one instead")
        say("provisioning the local Ollama CPU build and a tiny model (cached after the first run)")
        try:
            engine = provision(log=lambda line: print(f"  {line}", flush=True))
        except EngineUnavailable as exc:
            print(f"cannot provision the local Ollama: {exc}", file=sys.stderr)
            return 1
        server = OllamaServer(engine)
        server.start()
        server.create_model("tiny")
        url = server.base_url
        os.environ["MEMSCREEN_LLM_MODEL"] = "tiny"
        print(f"  Ollama {engine.version} serving model 'tiny' at {url} (pid {server.pid})")
    os.environ["MEMSCREEN_LLM_BACKEND"] = "ollama"
    os.environ["MEMSCREEN_OLLAMA_URL"] = url
    try:
        say("the installed backends")
        cli("backends")
        say("is the chosen backend healthy?")
        if cli("doctor") != 0:
            return 1
        say("chat through create_llm(), backend chosen by MEMSCREEN_LLM_BACKEND=ollama")
        chat_through_the_plugin_system()
        say("the same from the command line, streamed")
        cli("chat", "--stream", "--set", "max_tokens=16", "--set", "temperature=0", "Hello!")
    finally:
        if server is not None:
            say("stopping the Ollama server this demo started")
            server.stop()
            print(f"  stopped (pid {server.pid})")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
