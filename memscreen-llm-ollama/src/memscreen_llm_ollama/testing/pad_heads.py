"""Rewrite a llama GGUF with every attention head zero-padded (64 -> 72), as F16.

Why: the Ollama 0.9.3 CPU build this kit runs (PyPI's bigdl-core-cpp) aborts
(`ggml-cpu.c: fatal error`) on attention head sizes 64, 80, 96 and 128: it sends them
through an Intel-GPU-only fused attention. Head size 72 takes the plain CPU path. The
padded model computes the same function:

* Q, K, V: each head's 64 output rows get 8 zero rows (zero dims add nothing to q.k, and
  zero value dims give zero outputs);
* attn_output: the matching 8 zero input columns per head;
* Q scaled by sqrt(72/64): the engine divides scores by sqrt(72) instead of sqrt(64);
* rope.freq_base raised to base ** (72/64): rotary pair i keeps its frequency
  base ** (-2i/64) when the dimension count becomes 72 (the padded pairs are zero).

A standard Ollama needs none of this and takes the original file. Run with an interpreter
that has `gguf` and numpy (the Ollama engine venv):

    python pad_heads.py IN.gguf OUT.gguf
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np  # type: ignore[import-not-found]  # in the engine venv only
from gguf import GGUFReader, GGUFValueType, GGUFWriter, Keys  # type: ignore[import-not-found]
from gguf.quants import dequantize  # type: ignore[import-not-found]

OLD, NEW = 64, 72


def _pad_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """(heads*OLD, n) -> (heads*NEW, n), zero rows at the end of each head."""
    w = w.reshape(heads, OLD, -1)
    out = np.zeros((heads, NEW, w.shape[-1]), dtype=np.float32)
    out[:, :OLD] = w
    return out.reshape(heads * NEW, -1)


def _pad_cols(w: np.ndarray, heads: int) -> np.ndarray:
    """(n, heads*OLD) -> (n, heads*NEW), zero columns at the end of each head."""
    w = w.reshape(w.shape[0], heads, OLD)
    out = np.zeros((w.shape[0], heads, NEW), dtype=np.float32)
    out[:, :, :OLD] = w
    return out.reshape(w.shape[0], heads * NEW)


def main(src: str, dst: str) -> int:
    reader = GGUFReader(src)
    arch = str(reader.fields[Keys.General.ARCHITECTURE].contents())
    if arch != "llama":
        raise SystemExit(f"{src}: architecture {arch!r}, only llama is supported")

    def value(key: str) -> Any:
        return reader.fields[key.format(arch=arch)].contents()

    heads = int(value(Keys.Attention.HEAD_COUNT))
    kv_heads = int(value(Keys.Attention.HEAD_COUNT_KV))
    embd = int(value(Keys.LLM.EMBEDDING_LENGTH))
    if embd // heads != OLD:
        raise SystemExit(f"{src}: head size {embd // heads}, expected {OLD}")
    base = float(value(Keys.Rope.FREQ_BASE))
    new_kv = {
        Keys.Attention.KEY_LENGTH.format(arch=arch): (NEW, GGUFValueType.UINT32),
        Keys.Attention.VALUE_LENGTH.format(arch=arch): (NEW, GGUFValueType.UINT32),
        Keys.Rope.DIMENSION_COUNT.format(arch=arch): (NEW, GGUFValueType.UINT32),
        Keys.Rope.FREQ_BASE.format(arch=arch): (base ** (NEW / OLD), GGUFValueType.FLOAT32),
    }

    writer = GGUFWriter(dst, arch)
    for field in reader.fields.values():
        if field.name == Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name in new_kv or field.name == Keys.General.FILE_TYPE:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    for key, (val, vtype) in new_kv.items():
        writer.add_key_value(key, val, vtype)
    writer.add_file_type(1)  # mostly F16

    q_scale = np.float32(np.sqrt(NEW / OLD))
    for tensor in reader.tensors:
        w = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        w = w.reshape([int(n) for n in reversed(tensor.shape.tolist())])
        name = tensor.name
        if name.endswith("attn_q.weight"):
            w = _pad_rows(w, heads) * q_scale
        elif name.endswith(("attn_k.weight", "attn_v.weight")):
            w = _pad_rows(w, kv_heads)
        elif name.endswith("attn_output.weight"):
            w = _pad_cols(w, heads)
        writer.add_tensor(name, w.astype(np.float16) if w.ndim == 2 else w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {dst}: {heads} heads x {NEW}, rope base {base ** (NEW / OLD):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
