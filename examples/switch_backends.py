"""The migration path: the same MemScreen-style code on Ollama, then on vLLM, unchanged.

    MEMSCREEN_LLM_BACKEND=ollama python examples/switch_backends.py
    MEMSCREEN_LLM_BACKEND=vllm   python examples/switch_backends.py

Nothing below names an engine. MemScreen creates its LLM from a provider name and a
config dict through `LlmFactory`, and calls `generate_response()`; memscreen-llm keeps
both, so moving from Ollama to vLLM is a change of environment (or of
`[llm] backend` in memscreen-llm.toml): MEMSCREEN_LLM_BACKEND=vllm plus
MEMSCREEN_VLLM_URL (or MEMSCREEN_VLLM_BASE_URL) where MEMSCREEN_OLLAMA_URL was.
"""

from __future__ import annotations

import os
import sys

from memscreen_llm import LLMBase, LlmFactory

# --- MemScreen's side: unchanged whatever the engine ---

MEMSCREEN_LLM_CONFIG = {"temperature": 0.0, "max_tokens": 32}  # what MemScreen's config holds


def summarize(llm: LLMBase, activity: list[str]) -> str:
    messages = [
        {"role": "system", "content": "You summarize a user's screen activity in one line."},
        {"role": "user", "content": "\n".join(activity)},
    ]
    return str(llm.generate_response(messages))  # MemScreen's (and mem0's) call


def main() -> int:
    provider = os.environ.get("MEMSCREEN_LLM_BACKEND", "ollama")
    llm = LlmFactory.create(provider, MEMSCREEN_LLM_CONFIG)
    settings = llm.config.public_dict()  # secrets redacted: safe to print
    print(f"provider {provider!r} -> {type(llm).__name__} at {settings.get('base_url')}, "
          f"model {settings.get('model') or '(the one the server serves)'}")
    summary = summarize(llm, ["09:10 mail", "09:30 editor: noxfile.py", "10:05 meeting notes"])
    print(f"summary: {summary!r}")
    llm.close()
    return 0 if isinstance(summary, str) else 1


if __name__ == "__main__":
    sys.exit(main())
