"""MemScreen's core job: describe a screenshot, with whichever backend is configured.

    MEMSCREEN_LLM_BACKEND=ollama MEMSCREEN_OLLAMA_MODEL=qwen2.5vl:3b \
        python examples/describe_screenshot.py screen.png
    MEMSCREEN_LLM_BACKEND=vllm MEMSCREEN_VLLM_MODEL=Qwen/Qwen2.5-VL-3B-Instruct \
        python examples/describe_screenshot.py screen.png

The message is MemScreen's own shape (`images` beside the prompt, as its memory pipeline
sends it); OpenAI `image_url` parts work the same. Nothing below names an engine. A model
that cannot see is refused before anything is sent (`VisionUnsupportedError`), and
`can_see()` asks first. With Pillow installed (`memscreen-llm-core[vision]`), a large
screenshot is scaled to 1280 px and sent as JPEG.
"""

from __future__ import annotations

import importlib.util
import sys

from memscreen_llm import MemscreenLLMError, create_llm

PROMPT = ("A user is providing an image. Provide a high level description of the image "
          "and do not include any additional text.")


def main(path: str) -> int:
    shrink = ({"image_max_side": 1280, "image_format": "jpeg"}
              if importlib.util.find_spec("PIL") else {})
    with create_llm(max_tokens=64, **shrink) as llm:  # backend and model: from the env
        print(f"{llm.backend_name} / model {llm.config.model!r}: can see: {llm.can_see()}")
        try:
            answer = llm.generate_response([{"role": "user", "content": PROMPT,
                                             "images": [path]}])
        except MemscreenLLMError as exc:  # a model that cannot see, a file that is no image
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"description: {answer!r}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: describe_screenshot.py IMAGE")
    raise SystemExit(main(sys.argv[1]))
