"""Turn a llama-architecture GGUF (SmolLM2-135M-Instruct) into a Hugging Face folder for vLLM.

Run with the vLLM venv's interpreter (it has transformers and torch), with `gguf` and
`accelerate` importable (the kit puts them on PYTHONPATH from a folder of their own, so
the vLLM venv is never changed):

    python convert_gguf.py MODEL.gguf OUT_DIR

transformers dequantizes the GGUF on load; the result is saved in float32. Fixes for the
transformers that vLLM 0.32 runs: no GGUF quantizer left on the model, `rope_theta` at the
top level of config.json, `PreTrainedTokenizerFast` as tokenizer class, and the GGUF's chat
template in tokenizer_config.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(gguf_path: str, out: str) -> int:
    import torch  # type: ignore[import-not-found]  # in the engine venv only
    from transformers import (  # type: ignore[import-not-found]
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    src = Path(gguf_path)
    out_dir = Path(out)
    tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(src.parent), gguf_file=src.name, dtype=torch.float32
    )
    model.hf_quantizer = None  # else save_pretrained writes a GGUF quantization_config
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))

    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if "rope_theta" not in config and isinstance(rope, dict) and "rope_theta" in rope:
        config["rope_theta"] = rope["rope_theta"]
    config_path.write_text(json.dumps(config, indent=2) + "\n")

    tok_path = out_dir / "tokenizer_config.json"
    tok = json.loads(tok_path.read_text())
    tok["tokenizer_class"] = "PreTrainedTokenizerFast"
    template = getattr(tokenizer, "chat_template", None)
    jinja = out_dir / "chat_template.jinja"
    if not template and jinja.is_file():
        template = jinja.read_text()
    if not template:
        raise SystemExit(f"{src} carries no chat template")
    tok["chat_template"] = template
    tok_path.write_text(json.dumps(tok, indent=2) + "\n")
    print(f"wrote {out_dir} (rope_theta={config.get('rope_theta')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
