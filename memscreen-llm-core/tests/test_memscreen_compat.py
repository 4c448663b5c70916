"""MemScreen's config keys and per-call options through the compat layer (echo backend).

The same call patterns run against the real engines in the Ollama and vLLM plugins'
tests; here, what core does with them, checked on the request a backend receives.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from plugin_dists import write_echo

import memscreen_llm
from memscreen_llm import EmbedderFactory, LlmFactory, UsageError, create_llm
from memscreen_llm.compat.memscreen import MEMSCREEN_DEFAULTS

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def ollama_named(site: Path, unique: str) -> None:
    """The echo backend registered under the name MemScreen asks for."""
    write_echo(site, "ollama", unique)
    memscreen_llm.get_registry(refresh=True)


def test_get_llm_config_dicts_are_accepted_with_memscreen_defaults(
        ollama_named: None, caplog: pytest.LogCaptureFixture) -> None:
    # memscreen/config get_mllm_config() for ollama, plus OllamaConfig's own keys.
    config = {"model": "qwen3.5:4b", "ollama_base_url": "http://127.0.0.1:11434",
              "enable_vision": True, "num_predict": 128, "repeat_penalty": 1.15,
              "num_gpu": 0, "vision_details": "low", "output_format": "json"}
    with caplog.at_level(logging.DEBUG, logger="memscreen_llm.compat"):
        llm = LlmFactory.create("ollama", config)
    cfg = llm.config
    assert (cfg.model, cfg.base_url, cfg.max_tokens) == (  # type: ignore[attr-defined]
        "qwen3.5:4b", "http://127.0.0.1:11434", 128)
    assert (cfg.temperature, cfg.top_p, cfg.top_k) == (0.45, 0.85, 25)
    assert cfg.options == {"repeat_penalty": 1.15, "num_gpu": 0}  # type: ignore[attr-defined]
    assert "'enable_vision' is accepted but has no effect" in caplog.text
    assert cfg.image_detail == "low"  # type: ignore[attr-defined]  # vision_details
    # Only this layer applies MemScreen's defaults.
    assert create_llm("ollama").config.temperature == 0.1
    # A bare MemScreen dict gets MemScreen's model fallback too.
    assert LlmFactory.create("ollama", {}).config.model == MEMSCREEN_DEFAULTS["ollama"]["model"]
    # kwargs override, as in MemScreen's factory.
    assert LlmFactory.create("ollama", config, temperature=0.2).config.temperature == 0.2


def test_memscreen_per_call_options_fold_into_the_request(ollama_named: None) -> None:
    llm = create_llm("ollama")
    request = llm.build_request(  # G1's options (memory.py), Ollama's names
        MESSAGES, options={"options": {"num_predict": 256, "temperature": 0.3, "top_p": 0.8}})
    assert dict(request.options) == {"max_tokens": 256, "temperature": 0.3, "top_p": 0.8}
    # An option given directly wins over the same one in options=.
    both = llm.build_request(MESSAGES, options={"temperature": 0.9,
                                                 "options": {"temperature": 0.3}})
    assert dict(both.options) == {"temperature": 0.9}
    # A name this backend cannot honour is an error, never dropped.
    with pytest.raises(UsageError, match="cannot honour options 'mirostat'"):
        llm.chat(MESSAGES, options={"mirostat": 1})
    assert llm.generate_response(MESSAGES, options={"num_predict": 5}) == "hi"


def test_embedder_factory_needs_an_embedding_backend(ollama_named: None) -> None:
    embedder = EmbedderFactory.create("ollama", {"model": "nomic-embed-text",
                                                 "ollama_base_url": "http://127.0.0.1:9"}, None)
    assert (embedder.config.model, embedder.config.embedding_dims) == ("nomic-embed-text", None)
    with pytest.raises(memscreen_llm.CapabilityError):  # the echo backend has no embeddings
        embedder.embed("text", "add")
