"""Write the tiny random-weight llama GGUF used by the real-Ollama tests.

Run with the engine venv's python (it needs ``gguf`` and ``numpy``)::

    python build_gguf.py OUT.gguf

The weights come from a fixed seed and every metadata key is written in a
fixed order, so the file is byte-identical on every run. The output is
gibberish, but deterministic at temperature 0 with a fixed seed.

One path is wired in rather than random: after the control token "<|think|>"
(which the Modelfile template puts at the end of the prompt when a request
sets think=true) the model always writes "<think>Let me think.</think>" and
then its random answer, so Ollama's thinking parser has real reasoning to
split off.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import gguf  # type: ignore[import-not-found]  # in the engine venv only
import numpy as np  # type: ignore[import-not-found]

SEED = 20260110
N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD
N_FF = 128
CONTEXT_LENGTH = 2048

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
# Chat markers. Control tokens are never shown in output; the user-defined ones
# are single tokens that still decode to their text.
THINK_TRIGGER = "<|think|>"
THINK_TEXT = "Let me think."
CONTROL_MARKERS = ["<|im_start|>", "<|im_end|>", THINK_TRIGGER]
TEXT_MARKERS = ["<think>", "</think>", "<tool_call>", "</tool_call>", THINK_TEXT]
# Each token of the chain is always followed by the next one.
THINK_CHAIN = [THINK_TRIGGER, "<think>", THINK_TEXT, "</think>"]
# Words the tokenizer keeps whole (each with all its prefixes).
WORD_TEXT = (
    "hello world the a an and or of to in is it you I we they this that yes no ok weather "
    "city Paris London today tomorrow sunny rain cold warm tool call answer think reason "
    "because so then memory screen note user assistant system json name value number true "
    "false null red green blue one two three four five"
)
WORDS = WORD_TEXT.split()
# Printable ASCII as single pieces, so any English text tokenizes without bytes.
CHARS = [chr(c) for c in range(33, 127)]
SPACE = "\u2581"  # SentencePiece's word-boundary marker


def build_vocab() -> tuple[list[str], list[float], list[int]]:
    """SentencePiece-style vocabulary: specials, 256 byte fallbacks, pieces."""
    tokens: list[str] = [UNK, BOS, EOS]
    types: list[int] = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    tokens += CONTROL_MARKERS
    types += [gguf.TokenType.CONTROL] * len(CONTROL_MARKERS)
    tokens += TEXT_MARKERS
    types += [gguf.TokenType.USER_DEFINED] * len(TEXT_MARKERS)

    pieces: list[str] = [SPACE, *CHARS]
    # The SPM tokenizer merges adjacent pieces only into pieces of the vocab,
    # so every prefix of "▁word" must exist for the word to become one token.
    for word in WORDS:
        for end in range(2, len(word) + 2):
            pieces.append((SPACE + word)[:end])
        for end in range(2, len(word) + 1):
            pieces.append(word[:end])
    seen = set(tokens)
    for piece in pieces:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(gguf.TokenType.NORMAL)
    # Longer pieces get higher scores: SPM merges the best-scoring pair first.
    scores = [
        0.0 if t != gguf.TokenType.NORMAL else float(len(tok))
        for tok, t in zip(tokens, types, strict=True)
    ]
    return tokens, scores, [int(t) for t in types]


CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_metadata(
    writer: gguf.GGUFWriter, vocab: tuple[list[str], list[float], list[int]]
) -> None:
    tokens, scores, types = vocab
    writer.add_name("memscreen-tiny")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def random_tensors(n_vocab: int, types: list[int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)

    def mat(rows: int, cols: int, scale: float) -> np.ndarray:
        # numpy shape is (out, in); gguf-py stores it in ggml's reversed order.
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    ones = np.ones(N_EMBD, dtype=np.float32)
    tensors = {"token_embd.weight": mat(n_vocab, N_EMBD, 1.0)}
    for i in range(N_LAYER):
        tensors[f"blk.{i}.attn_norm.weight"] = ones
        tensors[f"blk.{i}.attn_q.weight"] = mat(N_HEAD * HEAD_DIM, N_EMBD, 0.125)
        tensors[f"blk.{i}.attn_k.weight"] = mat(N_HEAD_KV * HEAD_DIM, N_EMBD, 0.125)
        tensors[f"blk.{i}.attn_v.weight"] = mat(N_HEAD_KV * HEAD_DIM, N_EMBD, 0.125)
        tensors[f"blk.{i}.attn_output.weight"] = mat(N_EMBD, N_HEAD * HEAD_DIM, 0.125)
        tensors[f"blk.{i}.ffn_norm.weight"] = ones
        tensors[f"blk.{i}.ffn_gate.weight"] = mat(N_FF, N_EMBD, 0.125)
        tensors[f"blk.{i}.ffn_up.weight"] = mat(N_FF, N_EMBD, 0.125)
        tensors[f"blk.{i}.ffn_down.weight"] = mat(N_EMBD, N_FF, 0.09)
    tensors["output_norm.weight"] = ones
    output = mat(n_vocab, N_EMBD, 1.0)
    # Zero logits for everything but normal pieces: with logits of std ~8 for
    # the pieces, sampling practically never picks unk/bos/eos, chat markers or
    # lone bytes (which could form invalid UTF-8), so output is plain text.
    output[np.array(types) != gguf.TokenType.NORMAL] = 0.0
    tensors["output.weight"] = output
    return tensors


def wire_think_chain(tensors: dict[str, np.ndarray], tokens: list[str]) -> None:
    """Make each THINK_CHAIN token be followed by the next, whatever came before.

    Each link owns one residual dimension that only the link's input token
    writes (a large embedding value; attention and FFN outputs never write
    there), and only the next token reads (its output row). At that position
    the dimension dominates the normalized state, so the next token's logit
    (~40) dwarfs the random ones (~5), at any temperature. Elsewhere the
    dimension is exactly zero, so the chain never fires on its own.
    """
    links = list(itertools.pairwise(THINK_CHAIN))
    dims = list(range(N_EMBD - len(links), N_EMBD))
    embd, output = tensors["token_embd.weight"], tensors["output.weight"]
    embd[:, dims] = 0.0
    output[:, dims] = 0.0
    for i in range(N_LAYER):
        tensors[f"blk.{i}.attn_output.weight"][dims, :] = 0.0
        tensors[f"blk.{i}.ffn_down.weight"][dims, :] = 0.0
    index = {token: i for i, token in enumerate(tokens)}
    for dim, (source, target) in zip(dims, links, strict=True):
        embd[index[source], dim] = 50.0
        output[index[target], dim] = 5.0


def build(path: Path) -> None:
    vocab = build_vocab()
    writer = gguf.GGUFWriter(path, "llama")
    write_metadata(writer, vocab)
    tensors = random_tensors(len(vocab[0]), vocab[2])
    wire_think_chain(tensors, vocab[0])
    for name, tensor in tensors.items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: build_gguf.py OUT.gguf", file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
