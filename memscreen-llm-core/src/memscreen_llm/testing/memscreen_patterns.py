"""MemScreen's real call patterns, as data, and helpers to replay them against a backend.

Both plugins' MemScreen compatibility suites (memscreen-llm-ollama, memscreen-llm-vllm)
replay the SAME patterns from here, so "every MemScreen call pattern passes on both
engines" is one list checked twice. Each pattern names the MemScreen file:line it copies
(MemScreen HEAD de16cf5, `smileformylove/MemScreen`).

    from memscreen_llm.testing.memscreen_patterns import PATTERNS, RecordingProxy, replay

    with RecordingProxy(server_url) as proxy:
        llm = LlmFactory.create("ollama", {"model": "tiny", "ollama_base_url": proxy.url})
        for pattern in PATTERNS:
            assert isinstance(replay(llm, pattern), str)
            body = proxy.last_chat_body()

`memscreen_config(env)` is MemScreen's `MemScreenConfig.get_*_config()` (memscreen/config/
__init__.py:547-658) over an environment, and `run_memory_pipeline(env)` the memory
pipeline's calls (G1, G2, G3, G5-G8 and the embedder's) built from it, as Memory does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._samples import WEATHER_TOOL

JSON_OBJECT = {"type": "json_object"}


@dataclass(frozen=True)
class CallPattern:
    """One `generate_response` call site of MemScreen."""

    name: str  # the inventory's id, G1..G14
    where: str  # MemScreen file:line it replays
    messages: tuple[Mapping[str, Any], ...]
    response_format: Mapping[str, Any] | None = None
    options: Mapping[str, Any] | None = None  # MemScreen's per-call options=, Ollama's names
    positional: bool = False  # generate_response(messages), no keywords (G14)
    parses_json: bool = False  # the caller json.loads the text (G1, G2, G5, G7, G9)
    memory_pipeline: bool = False  # Memory's own calls (G1, G2, G3, G5-G8)

    def call_options(self) -> dict[str, Any]:
        """`options=` in this project's per-call names (num_predict -> max_tokens)."""
        names = {"num_predict": "max_tokens"}
        return {names.get(k, k): v for k, v in (self.options or {}).items()}


_SYSTEM = {"role": "system", "content": "You are a Personal Information Organizer. Return "
                                         'format: {"facts": ["fact1", "fact2"]}'}
_USER_FACTS = {"role": "user", "content": "Input:\nuser: I moved to Lisbon last year.\n"
                                           "assistant: Nice, how do you like it?"}
_USER = {"role": "user", "content": "Say something about the sea."}
# A 1x1 PNG, base64: what utils.image_to_base64 gives get_image_description (G4).
PNG_1X1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAA"
           "AABJRU5ErkJggg==")


def _user(content: str, **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, **extra}


def _pattern(name: str, where: str, *messages: Mapping[str, Any], json: bool = False,
             options: Mapping[str, Any] | None = None, pipeline: bool = False,
             positional: bool = False) -> CallPattern:
    """One row of PATTERNS: `json=True` is response_format JSON_OBJECT, parsed by json.loads
    (MemScreen's JSON call sites all parse their text); `pipeline`: one of Memory's calls."""
    return CallPattern(name, where, messages, JSON_OBJECT if json else None, options,
                       positional=positional, parses_json=json, memory_pipeline=pipeline)


_MEM, _RESOLVER = "memscreen/memory/memory.py", "memscreen/memory/conflict_resolver.py"
PATTERNS: tuple[CallPattern, ...] = (
    _pattern("G1", f"{_MEM}:530-542", _SYSTEM, _USER_FACTS, json=True, pipeline=True,
             options={"num_predict": 256, "temperature": 0.3, "top_p": 0.8}),
    _pattern("G2", f"{_MEM}:681-704", _user(
        "Old memory: [{\"id\": \"0\", \"text\": \"Lives in Porto\"}]\nNew facts: "
        '[\"Lives in Lisbon\"]\nReturn {"memory": [{"id", "text", "event"}]}'),
             json=True, options={"num_predict": 512, "temperature": 0.3, "top_p": 0.8},
             pipeline=True),
    _pattern("G3", f"{_MEM}:1269",
             {"role": "system", "content": "You are a memory summarization system."},
             _user("Open the settings."), {"role": "assistant", "content": "Settings opened."},
             _user("Create procedural memory of the above conversation."), pipeline=True),
    _pattern("G4", "memscreen/utils.py:254 (get_image_description)", _user(
        "A user is providing an image. Provide a high level description of the image and do "
        "not include any additional text.", images=[PNG_1X1])),
    _pattern("G5", f"{_RESOLVER}:305-309",
             _user('Do these conflict? Answer {"type", "confidence", "reasoning", "suggestion"}.'),
             json=True, pipeline=True, options={"num_predict": 128, "temperature": 0.1}),
    _pattern("G6", f"{_RESOLVER}:361-365",
             _user("Merge: 'Lives in Lisbon' and 'Moved last year'."),
             options={"num_predict": 256, "temperature": 0.3}, pipeline=True),
    _pattern("G7", "memscreen/memory/input_classifier.py:312-316", _user(
        'Classify: "buy milk". Answer {"category", "confidence"}.'), json=True,
             pipeline=True, options={"num_predict": 100, "temperature": 0.3}),
    _pattern("G8", "memscreen/memory/tiered_memory_manager.py:464-467",
             _user("Summarize: the user moved to Lisbon."), options={"num_predict": 256},
             pipeline=True),
    _pattern("G9", "memscreen/graph/entity_extractor.py:58-61",
             _user('Extract {"entities": [], "relationships": []}.'), json=True),
    _pattern("G10", "memscreen/agent/intelligent_agent.py:473-475", _USER),
    _pattern("G11", "memscreen/agent/intelligent_agent.py:548-550",
             _user("User query: what did I do today?")),
    _pattern("G12", "memscreen/agent/planner.py:195-199",
             _user("Plan the steps as ```json {...}```.")),
    _pattern("G13", "memscreen/skills/analysis/summary_skill.py:139-143", _USER),
    # ChatMessage.to_dict() carries an extra "timestamp" key (possibly "").
    _pattern("G14", "memscreen/presenters/chat_presenter.py:5450",
             {"role": "system", "content": "You are MemScreen's assistant."},
             _user("hi", timestamp="2026-06-11T10:00:00"),
             {"role": "assistant", "content": "hello", "timestamp": ""},
             _user("What is the sea?"), positional=True),
)
BY_NAME = {pattern.name: pattern for pattern in PATTERNS}


def replay(llm: Any, pattern: CallPattern, **extra: Any) -> Any:
    """Call `llm.generate_response` exactly as MemScreen's call site does (`extra`: more
    keywords, e.g. tools=)."""
    messages = [dict(m) for m in pattern.messages]
    if pattern.positional and not extra:
        return llm.generate_response(messages)
    kwargs: dict[str, Any] = dict(extra)
    if pattern.response_format is not None:
        kwargs["response_format"] = dict(pattern.response_format)
    if pattern.options is not None:
        kwargs["options"] = dict(pattern.options)
    return llm.generate_response(messages=messages, **kwargs)


# --- MemScreen's config (memscreen/config/__init__.py) over an environment ---

MEMSCREEN_CONFIG_DEFAULTS = {  # the class constants, memscreen/config/__init__.py:45-59
    "backend": "ollama", "ollama_url": "http://127.0.0.1:11434",
    "ollama_llm_model": "qwen3.5:4b", "ollama_vision_model": "qwen3.5:4b",
    "ollama_embedding_model": "mxbai-embed-large", "vllm_url": "http://localhost:8000",
    "vllm_llm_model": "Qwen/Qwen2.5-7B-Instruct", "vllm_vision_model": "Qwen/Qwen2-VL-7B-Instruct",
    "vllm_embedding_model": "intfloat/e5-mistral-7b-instruct",
}
_ENV = {  # _apply_env_overrides, 233-283: only set, non-empty variables count
    "backend": "MEMSCREEN_LLM_BACKEND", "ollama_url": "MEMSCREEN_OLLAMA_URL",
    "ollama_llm_model": "MEMSCREEN_LLM_MODEL", "ollama_vision_model": "MEMSCREEN_VISION_MODEL",
    "ollama_embedding_model": "MEMSCREEN_EMBEDDING_MODEL", "vllm_url": "MEMSCREEN_VLLM_URL",
    "vllm_llm_model": "MEMSCREEN_VLLM_LLM_MODEL",
    "vllm_vision_model": "MEMSCREEN_VLLM_VISION_MODEL",
    "vllm_embedding_model": "MEMSCREEN_VLLM_EMBEDDING_MODEL",
}


def memscreen_config(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """What MemScreen's `get_llm_config()`, `get_mllm_config()`, `get_embedder_config()`
    and `get_vector_store_config()` return under `env` (memscreen/config/__init__.py:
    547-658): {"llm"|"mllm"|"embedder"|"vector_store": {"provider", "config"}}."""
    value = {key: env.get(var) or MEMSCREEN_CONFIG_DEFAULTS[key] for key, var in _ENV.items()}
    vector_store = {"provider": "chroma",
                    "config": {"collection_name": "memscreen_collection", "path": "/tmp/db"}}
    if value["backend"] == "vllm":
        engine = {"vllm_base_url": value["vllm_url"], "use_offline_mode": False,
                  "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9}
        return {
            "llm": {"provider": "vllm", "config": {"model": value["vllm_llm_model"],
                                                   **engine}},
            "mllm": {"provider": "vllm", "config": {"model": value["vllm_vision_model"],
                                                    "enable_vision": True, **engine}},
            "embedder": {"provider": "vllm", "config": {
                "model": value["vllm_embedding_model"], "vllm_base_url": value["vllm_url"]}},
            "vector_store": vector_store,
        }
    url = value["ollama_url"]
    return {
        "llm": {"provider": "ollama", "config": {"model": value["ollama_llm_model"],
                                                 "ollama_base_url": url}},
        "mllm": {"provider": "ollama", "config": {"model": value["ollama_vision_model"],
                                                  "ollama_base_url": url,
                                                  "enable_vision": True}},
        "embedder": {"provider": "ollama", "config": {"model": value["ollama_embedding_model"],
                                                      "ollama_base_url": url}},
        "vector_store": vector_store,
    }


class ChromaDbConfigStandIn:
    """The vector-store config OBJECT Memory passes as EmbedderFactory's third argument
    (memory.py:164-168); only inspected by MemScreen for upstash_vector."""

    def __init__(self, collection_name: str, path: str) -> None:
        self.collection_name = collection_name
        self.path = path
        self.enable_embeddings = False


# The vector-store config object of memscreen_config()'s vector_store, for EmbedderFactory.
VECTOR_CONFIG = ChromaDbConfigStandIn("memscreen_collection", "/tmp/db")
# A tool definition in the OpenAI shape MemScreen's callers pass as tools= (with G10).
TOOLS: list[dict[str, Any]] = [WEATHER_TOOL]


# --- MemScreen's post-processing of G1/G2 (memory.py:544-590, 691-704), tolerant as it is ---

def _remove_code_blocks(text: str) -> str:  # memscreen/utils.py:49-60
    match = re.match(r"^```[a-zA-Z0-9]*\n([\s\S]*?)\n```$", text.strip())
    return match.group(1).strip() if match else text.strip()


def parse_like_memory(response: Any) -> Any:
    """G1/G2's cleaning of the text, then json.loads; None where MemScreen falls back to
    its empty result. A non-str response raises AttributeError, as it does in MemScreen."""
    if "\n\n" in response:
        response = response.split("\n\n")[-1]
    cleaned = _remove_code_blocks(response).strip().replace("\n", "").replace("\t", "")
    if cleaned.endswith('"'):
        try:
            json.loads(cleaned[:-1])
            cleaned = cleaned[:-1]
        except ValueError:
            pass
    try:
        return json.loads(cleaned)
    except ValueError:
        return None


@dataclass
class PipelineRun:
    """What the memory pipeline's calls returned: types, vector sizes, the backends used."""

    backend: str
    texts: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, list[list[float]]] = field(default_factory=dict)
    llm_class: str = ""
    embedder_model: str | None = None


def run_memory_pipeline(env: Mapping[str, str],
                        embedder_url: str | None = None) -> PipelineRun:
    """MemScreen's memory pipeline (Memory.__init__ memory.py:164-173, Memory.add/search/
    _create_procedural_memory, conflict_resolver, input_classifier, tiered_memory_manager)
    built from `memscreen_config(env)` through memscreen-llm's LlmFactory/EmbedderFactory.
    Nothing here knows the backend: only `env` does. `embedder_url` replaces the embedder
    config's URL (a vLLM server serves one model: embeddings need a pooling server)."""
    from memscreen_llm import EmbedderFactory, LlmFactory

    config = memscreen_config(env)
    llm_cfg, emb_cfg, vs_cfg = config["llm"], config["embedder"], config["vector_store"]
    emb_config = dict(emb_cfg["config"])
    if embedder_url is not None:
        key = next(k for k in emb_config if k.endswith("_base_url"))
        emb_config[key] = embedder_url
    llm = LlmFactory.create(llm_cfg["provider"], dict(llm_cfg["config"]))  # memory.py:172
    embedder = EmbedderFactory.create(  # memory.py:164-168
        emb_cfg["provider"], emb_config, ChromaDbConfigStandIn(**vs_cfg["config"]))
    run = PipelineRun(backend=llm.backend_name, llm_class=type(llm).__name__,
                      embedder_model=embedder.config.model)
    try:
        run.vectors["add"] = [embedder.embed(_USER_FACTS["content"], "add")]  # memory.py:459
        for pattern in PATTERNS:
            if pattern.memory_pipeline:
                run.texts[pattern.name] = replay(llm, pattern)
        facts = parse_like_memory(run.texts["G1"])
        facts = facts.get("facts") if isinstance(facts, dict) else None
        valid = [f for f in facts or [] if isinstance(f, str) and f] or ["Lives in Lisbon",
                                                                           "Likes the sea"]
        run.vectors["batch"] = embedder.embed_batch(valid, "add")  # memory.py:608-612
        run.vectors["procedural"] = [  # memory.py:1278, keyword form
            embedder.embed(run.texts["G3"], memory_action="add")]
        run.vectors["summary"] = [embedder.embed(run.texts["G8"], "add")]  # tiered:470
        run.vectors["search"] = [embedder.embed("where do I live?", "search")]  # :1088
        run.vectors["update"] = [embedder.embed("Lives in Lisbon", "update")]  # :1321
    finally:
        llm.close()
        embedder.close()
    return run


# RecordingModelCapabilityService.is_model_backend_error (memscreen/services/
# model_capability.py:80-102): the only place MemScreen classifies a backend error.
BACKEND_ERROR_INDICATORS = (
    "failed to connect to ollama", "connection refused", "max retries exceeded",
    "newconnectionerror", "timed out", "name or service not known",
    "temporary failure in name resolution", "failed to establish a new connection",
    "connection error",
)


def is_model_backend_error(error: BaseException) -> bool:
    """MemScreen's check, verbatim: does `str(error)` say the backend is unreachable?"""
    message = str(error).lower()
    return any(key in message for key in BACKEND_ERROR_INDICATORS)


def embedder_calls(embedder: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Every embed/embed_batch shape MemScreen uses (memory.py:459, 1088, 1219, 1321,
    608-612; tiered_memory_manager.py:470), by the form of the call."""
    first = texts[0]
    return {
        "positional_add": embedder.embed(first, "add"),
        "positional_search": embedder.embed(first, "search"),
        "positional_update": embedder.embed(first, "update"),
        "keyword_add": embedder.embed(first, memory_action="add"),
        "keyword_search": embedder.embed(first, memory_action="search"),
        "bare": embedder.embed(first),
        "batch": embedder.embed_batch(list(texts), "add"),
    }


# The proxy and the checks live in modules of their own (size); one import for a suite.
from ._memscreen_checks import (  # noqa: E402
    check_embed_shapes,
    check_env_config,
    check_missing_model,
    check_pipeline_run,
    check_stream_and_async,
    check_timeout,
    check_two_threads,
    check_unreachable,
    is_vector,
)
from ._recording import Recorded, RecordingProxy, closed_port_url  # noqa: E402

__all__ = [
    "BACKEND_ERROR_INDICATORS",
    "BY_NAME",
    "JSON_OBJECT",
    "MEMSCREEN_CONFIG_DEFAULTS",
    "PATTERNS",
    "PNG_1X1",
    "TOOLS",
    "VECTOR_CONFIG",
    "CallPattern",
    "ChromaDbConfigStandIn",
    "PipelineRun",
    "Recorded",
    "RecordingProxy",
    "check_embed_shapes",
    "check_env_config",
    "check_missing_model",
    "check_pipeline_run",
    "check_stream_and_async",
    "check_timeout",
    "check_two_threads",
    "check_unreachable",
    "closed_port_url",
    "embedder_calls",
    "is_model_backend_error",
    "is_vector",
    "memscreen_config",
    "parse_like_memory",
    "replay",
    "run_memory_pipeline",
]
