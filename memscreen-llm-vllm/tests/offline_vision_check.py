"""Run INSIDE the engine venv by test_offline.py: offline mode with images, on the tiny VLM.

    <engine python> offline_vision_check.py VLM_DIR  ->  a line "RESULT {json}" on stdout
"""

from __future__ import annotations

import base64
import json
import sys

from memscreen_llm import create_llm


def main(vlm_dir: str) -> None:
    request = json.loads(sys.stdin.read())
    png = base64.b64decode(request["png"])
    llm = create_llm("vllm", mode="offline", model=vlm_dir, dtype="float32",
                     enforce_eager=True, max_model_len=2048, temperature=0.0, max_tokens=2)
    out: dict[str, object] = {"can_see_before_load": llm.can_see()}
    text = llm.chat([{"role": "user", "content": request["question"]}])
    out["text_tokens"] = text.usage.prompt_tokens  # type: ignore[union-attr]
    counts = []
    for shape in (png, request["png"], "data:image/png;base64," + request["png"]):
        result = llm.chat([{"role": "user", "content": request["question"], "images": [shape]}])
        counts.append(result.usage.prompt_tokens)  # type: ignore[union-attr]
    part = llm.chat([{"role": "user", "content": [
        {"type": "text", "text": request["question"]},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + request["png"]}}]}])
    counts.append(part.usage.prompt_tokens)  # type: ignore[union-attr]
    out["image_tokens"] = counts
    out["can_see"] = llm.can_see()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
