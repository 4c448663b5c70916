"""MemScreen's LLM layer, drop-in: `LlmFactory`, `EmbedderFactory` and its config shapes.

MemScreen builds its backends as `LlmFactory.create(provider, config_dict)` and its
embedder as `EmbedderFactory.create(provider, config_dict, vector_config)`, with the keys
of its own config classes (`ollama_base_url`, `vllm_base_url`, `use_offline_mode`,
`num_predict`, `repeat_penalty`, ...). Every such key is accepted here: mapped onto the
backend's field where it has a meaning there, otherwise accepted and reported once at
DEBUG with why. MemScreen's own defaults (its OllamaLLM: temperature 0.45, 384 tokens,
top_p 0.85, top_k 25) apply to backends made here, and only here; `create_llm()` keeps
the project's. See docs/MIGRATING_FROM_MEMSCREEN.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .._config_resolve import resolve_config
from .._discovery import get_registry
from .._registry import RegisteredBackend
from ..base import LLMBase
from ..config import BaseLlmConfig
from ..errors import BackendError, UsageError
from ..factory import available_backends, build, build_resolved, create_llm

log = logging.getLogger("memscreen_llm.compat")

# The defaults of MemScreen's own backend classes, by backend (what its wire carried).
MEMSCREEN_DEFAULTS: dict[str, dict[str, Any]] = {
    "ollama": {"model": "qwen2.5vl:7b", "temperature": 0.45, "max_tokens": 384, "top_p": 0.85,
               "top_k": 25},
    # MemScreen's VllmLLM sends temperature, max_tokens and top_p, never top_k.
    "vllm": {"temperature": 0.1, "max_tokens": 2000, "top_p": 0.1},
}
EMBEDDER_DEFAULT_MODEL = {"ollama": "nomic-embed-text"}

# MemScreen key -> this project's field, where the meaning is the same.
_RENAMES = {
    "ollama_base_url": "base_url", "vllm_base_url": "base_url", "openai_base_url": "base_url",
    "vllm_api_key": "api_key", "num_predict": "max_tokens", "vision_details": "image_detail",
}
# MemScreen keys that are Ollama options, for a backend whose config has `options`.
_OLLAMA_OPTIONS = ("repeat_penalty", "num_gpu", "num_thread")
# MemScreen keys with no meaning for a backend here, and why.
_NO_MEANING = {
    "enable_vision": "images are sent whenever a message carries them",
    "http_client_proxies": "proxies come from the environment (HTTPS_PROXY), as httpx reads it",
    "http_client": "the backend owns its HTTP client",
    "model_kwargs": "not an option of a local engine's embeddings",
    "lmstudio_base_url": "not this provider",
    "output_dimensionality": "set by the model",
    **dict.fromkeys(("output_format", "format_options"),
                    "MemScreen never used it; pass response_format per call"),
    **dict.fromkeys(("azure_kwargs", "vertex_credentials_json", "huggingface_base_url",
                     "aws_access_key_id", "aws_secret_access_key", "aws_region"),
                    "not a local engine"),
    **dict.fromkeys(("memory_add_embedding_type", "memory_update_embedding_type",
                     "memory_search_embedding_type"), "one embedding per text here"),
}
_reported: set[tuple[str, str]] = set()


def _report(backend: str, key: str, why: str) -> None:
    if (backend, key) not in _reported:  # once per process: MemScreen builds backends often
        _reported.add((backend, key))
        log.debug("MemScreen config key %r is accepted but has no effect on backend %r: %s",
                  key, backend, why)


def _as_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, BaseLlmConfig):  # the real values: public_dict() redacts secrets
        import attrs

        return attrs.asdict(config, recurse=False)
    return {k: v for k, v in vars(config).items() if not k.startswith("_")}


def memscreen_fields(backend: RegisteredBackend, config: Any) -> dict[str, Any]:
    """MemScreen's config (dict, object or None) as this backend's fields."""
    fields_of = set(_field_names(backend))
    renames = {**_RENAMES, f"{backend.name}_base_url": "base_url"}  # e.g. sglang_base_url
    fields: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in _as_dict(config).items():
        if value is None:  # MemScreen's "not set": env, file and defaults decide
            continue
        name = renames.get(key, key)
        if key == "use_offline_mode" and "mode" in fields_of:
            fields["mode"] = "offline" if value else "server"
        elif key == "repeat_penalty" and "repetition_penalty" in fields_of:
            fields["repetition_penalty"] = value
        elif key in _OLLAMA_OPTIONS and "options" in fields_of:
            options[key] = value
        elif name in fields_of:
            fields[name] = value
        elif key in _NO_MEANING:
            _report(backend.name, key, _NO_MEANING[key])
        elif key in _KNOWN_ELSEWHERE:
            _report(backend.name, key, f"no {key} setting on this backend")
        else:
            fields[name] = value  # not MemScreen's: the config layer says what it thinks
    if options:
        fields["options"] = {**options, **fields.get("options", {})}
    return fields


# Keys of MemScreen's config classes that only some backends have here.
_KNOWN_ELSEWHERE = frozenset({
    "num_ctx", "num_gpu", "num_thread", "repeat_penalty", "use_offline_mode",
    "tensor_parallel_size", "gpu_memory_utilization", "trust_remote_code", "max_model_len",
    "embedding_dims", "top_k", "api_key", "vllm_api_key",
})


def _field_names(backend: RegisteredBackend) -> list[str]:
    import attrs

    return [field.name for field in attrs.fields(backend.config_class)]


class LlmFactory:
    """Drop-in for MemScreen's `memscreen.llm.LlmFactory`."""

    @classmethod
    def create(cls, provider_name: str, config: Any = None, **kwargs: Any) -> LLMBase:
        """`provider_name`'s backend from MemScreen's config dict, config object or None;
        `kwargs` override the config's keys, as in MemScreen."""
        backend = get_registry().find_backend(provider_name)
        if isinstance(config, backend.config_class) and not kwargs:
            return build(backend, config)  # already this backend's own config
        fields = memscreen_fields(backend, {**_as_dict(config), **kwargs})
        # MemScreen's defaults stand in for the project's, never for a value the
        # environment (MEMSCREEN_LLM_MODEL, ...), the config file or a preset sets.
        resolved = resolve_config(
            backend.name, fields, defaults_source="MemScreen defaults",
            defaults=MEMSCREEN_DEFAULTS.get(backend.spec.extends or backend.name))
        return build_resolved(resolved)  # with the configured fallbacks, as create_llm

    @classmethod
    def get_supported_providers(cls) -> list[str]:
        return available_backends()


class EmbedderConfig:
    """What MemScreen's code reads from `embedder.config`: `model`, `embedding_dims`."""

    def __init__(self, model: str | None, embedding_dims: int | None) -> None:
        self.model = model
        self.embedding_dims = embedding_dims

    def __repr__(self) -> str:
        return f"EmbedderConfig(model={self.model!r}, embedding_dims={self.embedding_dims!r})"


class Embedder:
    """MemScreen's embedder interface (mem0's `EmbeddingBase`) over a backend's embeddings."""

    def __init__(self, llm: LLMBase, config: EmbedderConfig) -> None:
        self.llm = llm
        self.config = config

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        """One vector for `text`; `memory_action` ("add", "search", "update") changes
        nothing for the local engines' models."""
        if not isinstance(text, str):
            raise UsageError(f"embed() takes a string, got {type(text).__name__}")
        return self.embed_batch([text], memory_action)[0]

    def embed_batch(self, texts: Sequence[str], memory_action: str | None = None) -> list[
            list[float]]:
        """One vector per text, in order, from one request."""
        vectors = self.llm.embed(list(texts))
        dims = self.config.embedding_dims
        if dims is not None and vectors and len(vectors[0]) != dims:
            raise BackendError(
                f"embedding model {self.config.model!r} returns {len(vectors[0])} dimensions, "
                f"but embedding_dims is {dims}\n  fix: set embedding_dims to "
                f"{len(vectors[0])}, or pick a model of {dims} dimensions")
        return vectors

    def close(self) -> None:
        self.llm.close()


class EmbedderFactory:
    """Drop-in for MemScreen's `memscreen.embeddings.EmbedderFactory`."""

    @classmethod
    def create(cls, provider_name: str, config: Any = None,
               vector_config: Any = None) -> Embedder:
        """An embedder over `provider_name`'s backend; `vector_config` (MemScreen passes its
        vector store's config) is not needed here."""
        del vector_config
        backend = get_registry().find_backend(provider_name)
        raw = _as_dict(config)
        dims = raw.pop("embedding_dims", None)
        model = raw.get("model") or EMBEDDER_DEFAULT_MODEL.get(backend.name)
        if model:
            raw["model"] = model
            if "embedding_model" in _field_names(backend):
                raw["embedding_model"] = model
        llm = create_llm(backend.name, **memscreen_fields(backend, raw))
        return Embedder(llm, EmbedderConfig(model, dims))

    @classmethod
    def get_supported_providers(cls) -> list[str]:
        return available_backends()


__all__ = ["MEMSCREEN_DEFAULTS", "Embedder", "EmbedderConfig", "EmbedderFactory",
           "LlmFactory", "memscreen_fields"]
