"""Write the tiny random-weight CLIP projector GGUF that makes the tiny model a vision model.

Run with the engine venv's python (it needs ``gguf`` and ``numpy``)::

    python build_projector.py OUT.gguf

Ollama 0.9.3 runs a llava-style pair: the kit's tiny llama GGUF (``build_gguf.py``) plus
this projector, a second GGUF with ``general.architecture=clip`` that Ollama stores as a
``projector`` layer (it has ``clip.vision.block_count`` and no ``clip.block_count``) and
feeds to llama.cpp's clip code (``tools/mtmd/clip.cpp``, projector type "mlp", the LLaVA
graph): a 56x56 image is cut into 4x4 patches of 14x14, encoded by a 2-block ViT of width
64 and projected by ``mm.0`` / GELU / ``mm.2`` to the text model's embedding size, giving
16 image embeddings per image in the prompt.

Weights come from a fixed seed and every key is written in a fixed order, so the file is
byte-identical on every run. The image embeddings are meaningless, but have the scale of
the text model's token embeddings, and never touch the residual dimensions that
``build_gguf.py`` reserves for its wired "<|think|>" chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, its own folder is on sys.path: the text model's sizes come from there.
import build_gguf  # type: ignore[import-not-found]
import gguf  # type: ignore[import-not-found]  # in the engine venv only
import numpy as np  # type: ignore[import-not-found]

TEXT_EMBD: int = build_gguf.N_EMBD
THINK_CHAIN: list[str] = build_gguf.THINK_CHAIN

SEED = 20260111
IMAGE_SIZE = 56
PATCH_SIZE = 14
N_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2  # 16 image embeddings per image
N_EMBD = 64
N_FF = 128
N_LAYER = 2  # llava uses the output of the second-to-last block: block 0 runs
N_HEAD = 2  # head size 32 (this CPU build aborts on 64, 80, 96, 128)
PROJ_DIM = 64
LN_EPS = 1e-5
# CLIP's (OpenAI) normalization, as real llava projectors carry it.
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]


def write_metadata(writer: gguf.GGUFWriter) -> None:
    writer.add_type("projector")  # general.type: Ollama's other way to spot a projector
    writer.add_name("memscreen-tiny-projector")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.has_text_encoder", False)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.has_llava_projector", True)
    writer.add_bool("clip.use_gelu", False)  # quick GELU in the ViT, as CLIP's
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", N_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", N_FF)
    writer.add_uint32("clip.vision.projection_dim", PROJ_DIM)
    writer.add_uint32("clip.vision.block_count", N_LAYER)
    writer.add_uint32("clip.vision.attention.head_count", N_HEAD)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", LN_EPS)
    writer.add_array("clip.vision.image_mean", IMAGE_MEAN)
    writer.add_array("clip.vision.image_std", IMAGE_STD)


def random_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)

    def rand(*shape: int, scale: float) -> np.ndarray:
        # numpy shape is ggml's reversed: (out, in) for a matrix.
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    ones = np.ones(N_EMBD, dtype=np.float32)
    zeros = np.zeros(N_EMBD, dtype=np.float32)
    tensors = {
        # conv2d kernel: ggml [patch, patch, 3, n_embd]
        "v.patch_embd.weight": rand(N_EMBD, 3, PATCH_SIZE, PATCH_SIZE, scale=0.05),
        "v.class_embd": rand(N_EMBD, scale=0.5),
        "v.position_embd.weight": rand(N_PATCHES + 1, N_EMBD, scale=0.5),
        "v.pre_ln.weight": ones,
        "v.pre_ln.bias": zeros,
    }
    for i in range(N_LAYER):
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            tensors[f"v.blk.{i}.{name}.weight"] = rand(N_EMBD, N_EMBD, scale=0.125)
            tensors[f"v.blk.{i}.{name}.bias"] = rand(N_EMBD, scale=0.02)
        tensors[f"v.blk.{i}.ln1.weight"] = ones
        tensors[f"v.blk.{i}.ln1.bias"] = zeros
        tensors[f"v.blk.{i}.ln2.weight"] = ones
        tensors[f"v.blk.{i}.ln2.bias"] = zeros
        tensors[f"v.blk.{i}.ffn_up.weight"] = rand(N_FF, N_EMBD, scale=0.125)
        tensors[f"v.blk.{i}.ffn_up.bias"] = rand(N_FF, scale=0.02)
        tensors[f"v.blk.{i}.ffn_down.weight"] = rand(N_EMBD, N_FF, scale=0.09)
        tensors[f"v.blk.{i}.ffn_down.bias"] = rand(N_EMBD, scale=0.02)
    # The projector: its output size is the text model's embedding size.
    mm2_w = rand(TEXT_EMBD, PROJ_DIM, scale=0.125)
    mm2_b = rand(TEXT_EMBD, scale=0.02)
    # build_gguf.py's think chain owns the last residual dimensions: images leave them 0.
    chain_dims = len(THINK_CHAIN) - 1
    mm2_w[TEXT_EMBD - chain_dims:] = 0.0
    mm2_b[TEXT_EMBD - chain_dims:] = 0.0
    tensors["mm.0.weight"] = rand(PROJ_DIM, N_EMBD, scale=0.125)
    tensors["mm.0.bias"] = rand(PROJ_DIM, scale=0.02)
    tensors["mm.2.weight"] = mm2_w
    tensors["mm.2.bias"] = mm2_b
    return tensors


def build(path: Path) -> None:
    writer = gguf.GGUFWriter(path, "clip")
    write_metadata(writer)
    for name, tensor in random_tensors().items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: build_projector.py OUT.gguf", file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
