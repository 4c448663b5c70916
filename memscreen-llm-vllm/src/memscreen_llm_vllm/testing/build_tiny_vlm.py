"""Build a tiny random-weight vision-language model (Idefics3) for vLLM's CPU engine.

Runs INSIDE the engine venv, next to build_tiny_model.py (whose tokenizer and text model
shape it reuses):

    <venv>/bin/python build_tiny_vlm.py OUT_DIR

Idefics3 because its processor and vLLM's implementation need no torchvision (the engine
venv has none: Qwen2-VL, Qwen2.5-VL and LLaVA import it). The vision tower is a 2-layer
SigLIP-style encoder on 112 px tiles of 14 px patches; with scale_factor 2 a tile is 16
`<image>` tokens. An image is resized to at most 448 px on its longest edge and split
into 112 px tiles plus one global tile, so its prompt tokens grow with its aspect ratio.

Deterministic like the tiny model: fixed seed, fixed tokenizer corpus.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch  # type: ignore[import-not-found]  # in the engine venv only

# Run as a script: its own folder is sys.path[0], so the sibling script imports as a module.
from build_tiny_model import SEED, build_model, build_tokenizer  # type: ignore[import-not-found]
from transformers import (  # type: ignore[import-not-found]
    AddedToken,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
)

try:  # transformers 5: the PIL backend (the default class needs torchvision)
    from transformers import Idefics3ImageProcessorPil as ImageProcessor  # type: ignore[import-not-found]
except ImportError:  # transformers 4: the slow processor is PIL/numpy already
    from transformers import Idefics3ImageProcessor as ImageProcessor  # type: ignore[import-not-found]

IMAGE_SIZE = 112  # vision tile side, px
PATCH_SIZE = 14
SCALE_FACTOR = 2
IMAGE_SEQ_LEN = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2  # <image> tokens per tile
LONGEST_EDGE = 448  # an image is resized to fit this, then split into IMAGE_SIZE tiles

# Processor's own tokens: the tile markers, the per-tile position tags, the global tile.
IMAGE_TOKENS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
TAG_TOKENS = ["<global-img>"] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]

# ChatML like the tiny model's, without tools or reasoning: text parts as text, image
# parts (vLLM hands the template {"type": "image"}; raw OpenAI parts say image_url) as
# `<image>`, which the Idefics3 processor expands into the image's tiles.
CHAT_TEMPLATE = r"""
{%- for message in messages -%}
<|im_start|>{{ message.role }}
{% if message.content is string -%}{{ message.content }}
{%- elif message.content -%}
{%- for part in message.content -%}
{%- if part.type == 'text' -%}{{ part.text }}
{%- elif part.type == 'image' or part.type == 'image_url' -%}<image>
{%- endif -%}
{%- endfor -%}
{%- endif -%}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt -%}
<|im_start|>assistant
{% endif -%}
""".strip()


def build_vlm_tokenizer():  # -> PreTrainedTokenizerFast
    tok = build_tokenizer()
    tok.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>", *IMAGE_TOKENS]},
    )
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in TAG_TOKENS])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_vlm(vocab_size: int, eos_id: int, pad_id: int, image_token_id: int):
    # The tiny model's text shape, from build_tiny_model (its weights are not reused).
    text_config = build_model(vocab_size, eos_id, pad_id).config
    config = Idefics3Config(
        text_config=text_config.to_dict(),
        vision_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
        },
        scale_factor=SCALE_FACTOR,
        image_token_id=image_token_id,
        pad_token_id=pad_id,
        tie_word_embeddings=False,
    )
    config.eos_token_id = eos_id
    torch.manual_seed(SEED)
    model = Idefics3ForConditionalGeneration(config).to(torch.float32)
    model.eval()
    return model


def fix_configs(out: Path) -> None:
    """One chat template, inside tokenizer_config.json (as build_tiny_model does)."""
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg["model_max_length"] = 4096
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    for name in ("chat_template.jinja", "chat_template.json"):
        (out / name).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build_tiny_vlm.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    tok = build_vlm_tokenizer()
    for token in [*IMAGE_TOKENS, *TAG_TOKENS, "<|im_start|>", "<|im_end|>"]:
        ids = tok.encode(token, add_special_tokens=False)
        assert len(ids) == 1, f"{token!r} is not a single token: {ids}"
    eos_id = tok.convert_tokens_to_ids("<|im_end|>")
    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    image_token_id = tok.convert_tokens_to_ids("<image>")
    image_processor = ImageProcessor(
        size={"longest_edge": LONGEST_EDGE},
        max_image_size={"longest_edge": IMAGE_SIZE},
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_len=IMAGE_SEQ_LEN,
        chat_template=CHAT_TEMPLATE,
    )
    model = build_vlm(len(tok), eos_id, pad_id, image_token_id)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    model.generation_config.bos_token_id = None
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    fix_configs(out)
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; keep a shared cache readable
    print(json.dumps({
        "dir": str(out), "vocab_size": len(tok), "eos_token_id": eos_id,
        "image_token_id": image_token_id, "image_seq_len": IMAGE_SEQ_LEN,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
