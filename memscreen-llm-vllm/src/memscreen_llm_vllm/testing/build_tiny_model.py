"""Build a tiny random-weight Llama model with a locally trained tokenizer.

Runs INSIDE the engine venv (it needs torch, transformers and tokenizers):

    <venv>/bin/python build_tiny_model.py OUT_DIR

The result is deterministic (fixed seed, fixed corpus), so rebuilding gives
byte-identical weights. The tokenizer holds the Step-3.5 marker tokens as
single non-special tokens so vLLM's ``step3p5`` parsers can find them and so
they survive ``skip_special_tokens`` in streamed content.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch  # type: ignore[import-not-found]  # in the engine venv only
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # type: ignore[import-not-found]
from transformers import (  # type: ignore[import-not-found]
    AddedToken,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

SEED = 1234
VOCAB_SIZE = 400

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Non-special on purpose: marked special, vLLM strips them from decoded text
# (or leaks them inconsistently into streamed content).
MARKER_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>"]

# Own ChatML-style template. Ends the generation prompt inside reasoning, as
# Step-3.5 does, renders tools as a system-prompt listing, and accepts tool
# call arguments both as a mapping and as a JSON string.
CHAT_TEMPLATE = r"""
{%- macro render_content(content) -%}
{%- if content is string -%}{{ content }}
{%- elif content is iterable and content is not mapping -%}
{%- for part in content -%}{%- if part.type == 'text' -%}{{ part.text }}{%- endif -%}{%- endfor -%}
{%- elif content -%}{{ content }}
{%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(system='', start=0, last_user=-1) -%}
{%- if messages and messages[0].role == 'system' -%}
{%- set ns.system = render_content(messages[0].content) -%}
{%- set ns.start = 1 -%}
{%- endif -%}
{%- for message in messages -%}
{%- if message.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- if tools -%}
<|im_start|>system
{% if ns.system %}{{ ns.system }}

{% endif %}# Tools

You can call these functions:
<tools>
{% for tool in tools %}{{ (tool.function if tool.function is defined else tool) | tojson }}
{% endfor %}</tools>

To call a function, reply with:
<tool_call>
<function=NAME>
<parameter=KEY>
VALUE
</parameter>
</function>
</tool_call><|im_end|>
{% elif ns.system -%}
<|im_start|>system
{{ ns.system }}<|im_end|>
{% endif -%}
{%- for message in messages[ns.start:] -%}
{%- set idx = loop.index0 + ns.start -%}
{%- if message.role == 'user' or message.role == 'system' -%}
<|im_start|>{{ message.role }}
{{ render_content(message.content) }}<|im_end|>
{% elif message.role == 'assistant' -%}
<|im_start|>assistant
{% set reasoning = message.reasoning or message.reasoning_content -%}
{%- if reasoning and idx > ns.last_user -%}
<think>
{{ reasoning }}
</think>
{% endif -%}
{%- set text = render_content(message.content) -%}
{{ text }}
{%- if message.tool_calls -%}
{%- for call in message.tool_calls -%}
{%- set fn = call.function if call.function is defined else call -%}
{%- if text or not loop.first %}{{ '\n' }}{% endif -%}
<tool_call>
<function={{ fn.name }}>
{% if fn.arguments is mapping -%}
{%- for key, value in fn.arguments.items() -%}
<parameter={{ key }}>
{{ value if value is string else value | tojson }}
</parameter>
{% endfor -%}
{%- elif fn.arguments -%}
{{ fn.arguments }}
{% endif -%}
</function>
</tool_call>
{%- endfor -%}
{%- endif -%}
<|im_end|>
{% elif message.role == 'tool' -%}
{%- if idx == 0 or messages[idx - 1].role != 'tool' -%}
<|im_start|>tool_response
{% endif -%}
<tool_response>
{{ render_content(message.content) }}
</tool_response>
{% if loop.last or messages[idx + 1].role != 'tool' -%}
<|im_end|>
{% endif -%}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
<|im_start|>assistant
<think>
{% endif -%}
""".strip()

# Small fixed corpus: enough for a few hundred merges covering chat words,
# JSON punctuation and the tool-call wire format.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, how are you today? I am fine, thank you.",
    "What is the weather in Paris? It is sunny and warm in Paris today.",
    "Need weather. Let me think about the question the user asks.",
    "get_weather city Paris London Berlin Tokyo temperature unit celsius",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{"type": "object", "properties": {"city": {"type": "string"}}}',
    "<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>",
    "system user assistant tool tool_response tools function parameter",
    "My name is Step. I am a helpful assistant running locally.",
    "0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14 true false null",
    "def main():\n    return 0\n\nprint('hello world')\n",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    tok.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]},
    )
    tok.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in MARKER_TOKENS],
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_model(vocab_size: int, eos_id: int, pad_id: int) -> LlamaForCausalLM:
    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,  # vLLM's CPU attention needs head_dim >= 32
        max_position_embeddings=4096,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.eval()
    return model


def fix_tokenizer_config(out: Path) -> None:
    """Keep the chat template inside tokenizer_config.json.

    Recent transformers write it to chat_template.jinja instead; one place
    is simpler for every consumer (vLLM, transformers, tests reading JSON).
    """
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg["model_max_length"] = 4096
    # The generic class name loads in transformers 4 and 5 alike.
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    (out / "chat_template.jinja").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build_tiny_model.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    for marker in [*MARKER_TOKENS, "<|im_start|>", "<|im_end|>"]:
        ids = tok.encode(marker, add_special_tokens=False)
        assert len(ids) == 1, f"{marker!r} is not a single token: {ids}"
    eos_id = tok.convert_tokens_to_ids("<|im_end|>")
    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    model = build_model(len(tok), eos_id, pad_id)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    model.generation_config.bos_token_id = None
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    fix_tokenizer_config(out)
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; keep a shared cache readable
    print(json.dumps({"dir": str(out), "vocab_size": len(tok), "eos_token_id": eos_id}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
