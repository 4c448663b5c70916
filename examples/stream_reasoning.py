"""Stream an answer with the model's reasoning kept apart from it.

    MEMSCREEN_LLM_BACKEND=ollama python examples/stream_reasoning.py

Every backend streams `ChatDelta`s whose `reasoning` and `content` are separate fields:
the UI can show the thinking dimmed, or not at all, and never has to strip <think> tags.
How a model is asked to think differs by engine:
- Ollama: the per-call option `think=True` (a thinking model such as qwen3).
- vLLM / SGLang: the server splits it when started with a reasoning parser, e.g.
  `--reasoning-parser step3p5` for Step-3.5-Flash; or set the backend's
  `reasoning_parser` to split it client-side.
"""

from __future__ import annotations

import sys

from memscreen_llm import create_llm, join_deltas

DIM, RESET = ("\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "")


def main() -> int:
    llm = create_llm()  # backend from MEMSCREEN_LLM_BACKEND / memscreen-llm.toml (else ollama)
    options = {"think": True} if llm.backend_name == "ollama" else {}
    messages = [{"role": "user", "content": "Which app did I use most today, and why?"}]

    deltas = []
    section = None
    for delta in llm.stream(messages, temperature=0.0, max_tokens=48, **options):
        deltas.append(delta)
        for name, text in (("reasoning", delta.reasoning), ("answer", delta.content)):
            if not text:
                continue
            if section != name:  # a heading whenever the stream switches section
                section = name
                print(f"\n[{name}] ", end="")
            print(f"{DIM}{text}{RESET}" if name == "reasoning" else text, end="", flush=True)
    result = join_deltas(deltas)  # the same ChatResult chat() would have returned
    print(f"\n\nfinish_reason={result.finish_reason} usage={result.usage}")
    llm.close()
    if not result.reasoning:
        print("no reasoning arrived: use a thinking model, or start the server with a "
              "reasoning parser (see this file's docstring)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
