"""MemScreen's own call patterns through memscreen-llm, against the real Ollama server.

The patterns are core's kit data (`memscreen_llm.testing.memscreen_patterns`), replayed the
same way by memscreen-llm-vllm's suite; every test names the MemScreen file:line it copies
(MemScreen HEAD de16cf5). The tiny model's text is not judged: what reaches the wire (a
recording proxy in front of the server) and the types MemScreen's callers rely on are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from memscreen_llm import EmbedderFactory, LlmFactory, VisionUnsupportedError
from memscreen_llm.testing import memscreen_patterns as kit
from memscreen_llm_ollama.testing import VISION_MODEL, OllamaServer

MODEL = "tiny"


@pytest.fixture
def proxy(server: OllamaServer) -> Iterator[kit.RecordingProxy]:
    with kit.RecordingProxy(server.base_url) as recording:
        yield recording


def _llm_dict(url: str) -> dict[str, object]:
    # memscreen/config/__init__.py:547-578 get_llm_config() for "ollama", the model the
    # test server has.
    return {"model": MODEL, "ollama_base_url": url}


def _json_and_options_as_given(body: Any, pattern: kit.CallPattern) -> None:
    assert body["format"] == "json"
    assert {k: body["options"][k] for k in pattern.options or {}} == dict(pattern.options or {})


# --- config and factory shapes ---

def test_get_llm_and_get_mllm_config_dicts(proxy: kit.RecordingProxy) -> None:
    """memory.py:172-173 `LlmFactory.create(provider, config_dict)` with the dicts of
    memscreen/config/__init__.py:547-613 (get_llm_config, get_mllm_config)."""
    llm = LlmFactory.create("ollama", _llm_dict(proxy.url))
    mllm = LlmFactory.create("ollama", {**_llm_dict(proxy.url), "enable_vision": True})
    for backend in (llm, mllm):
        assert backend.config.model == MODEL
        assert backend.config.base_url == proxy.url  # type: ignore[attr-defined]
        assert isinstance(kit.replay(backend, kit.BY_NAME["G10"]), str)
    body = proxy.last("/api/chat")
    # MemScreen's OllamaLLM defaults (ollama.py:21-43) reach the wire.
    assert body["model"] == MODEL
    assert {k: body["options"][k] for k in ("temperature", "num_predict", "top_p", "top_k")} \
        == {"temperature": 0.45, "num_predict": 384, "top_p": 0.85, "top_k": 25}


def test_none_and_empty_config_take_memscreen_defaults(
        proxy: kit.RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """models.py:55-70 default LlmConfig() -> `LlmFactory.create("ollama", {})` (and None),
    ollama.py:125-126's model fallback; tests/test_integration.py:50-61 passes no URL."""
    for config in (None, {}):
        llm = LlmFactory.create("ollama", config)
        assert llm.config.model == "qwen2.5vl:7b"
        # The ollama client's default host (MemScreen passed none: OLLAMA_HOST or this).
        assert llm.config.base_url in (  # type: ignore[attr-defined]
            "http://localhost:11434", "http://127.0.0.1:11434")
    # The environment beats MemScreen's fallbacks (only this layer's defaults).
    monkeypatch.setenv("MEMSCREEN_OLLAMA_URL", proxy.url)
    monkeypatch.setenv("MEMSCREEN_LLM_MODEL", MODEL)
    llm = LlmFactory.create("ollama", {})
    assert isinstance(kit.replay(llm, kit.BY_NAME["G13"]), str)
    assert proxy.last("/api/chat")["model"] == MODEL


def test_dict_plus_kwargs_override(proxy: kit.RecordingProxy) -> None:
    """memscreen/llm/factory.py:62-166 `create(name, dict, **kwargs)`: kwargs win."""
    llm = LlmFactory.create("ollama", _llm_dict(proxy.url), temperature=0.2, max_tokens=16)
    assert isinstance(kit.replay(llm, kit.BY_NAME["G13"]), str)
    options = proxy.last("/api/chat")["options"]
    assert (options["temperature"], options["num_predict"]) == (0.2, 16)


def test_chat_presenter_direct_config(proxy: kit.RecordingProxy) -> None:
    """chat_presenter.py:5408-5418 `OllamaLLM(config={model, temperature, max_tokens,
    top_p, top_k, num_ctx, repeat_penalty})`, then G14 (chat_presenter.py:5450)."""
    llm = LlmFactory.create("ollama", {
        "model": MODEL, "temperature": 0.45, "max_tokens": 384, "top_p": 0.85, "top_k": 25,
        "num_ctx": 4096, "repeat_penalty": 1.15, "ollama_base_url": proxy.url})
    assert isinstance(kit.replay(llm, kit.BY_NAME["G14"]), str)
    options = proxy.last("/api/chat")["options"]
    assert {k: options[k] for k in ("temperature", "num_predict", "top_p", "top_k", "num_ctx",
                                    "repeat_penalty")} == {
        "temperature": 0.45, "num_predict": 384, "top_p": 0.85, "top_k": 25, "num_ctx": 4096,
        "repeat_penalty": 1.15}


def test_ollama_config_keys_num_predict_num_gpu_output_format(proxy: kit.RecordingProxy) -> None:
    """OllamaConfig's own keys (memscreen/llm/ollama.py:15-99): num_predict is max_tokens,
    num_gpu=0 is still sent, output_format/format_options are accepted and ignored."""
    llm = LlmFactory.create("ollama", {**_llm_dict(proxy.url), "num_predict": 12, "num_gpu": 0,
                                       "num_thread": 2, "output_format": "json",
                                       "format_options": "{}"})
    assert isinstance(kit.replay(llm, kit.BY_NAME["G10"]), str)
    body = proxy.last("/api/chat")
    assert (body["options"]["num_predict"], body["options"]["num_gpu"],
            body["options"]["num_thread"]) == (12, 0, 2)
    assert "format" not in body


# --- every generate_response call site ---

# G4 sends a screenshot: its own test below, on the vision model and the text-only one.
TEXT_PATTERNS = [p for p in kit.PATTERNS if p.name != "G4"]


@pytest.mark.parametrize("pattern", TEXT_PATTERNS, ids=[p.name for p in TEXT_PATTERNS])
def test_call_site_shape(pattern: kit.CallPattern, proxy: kit.RecordingProxy) -> None:
    """Each generate_response call site of MemScreen (the pattern's `where`), verbatim."""
    llm = LlmFactory.create("ollama", _llm_dict(proxy.url))
    result = kit.replay(llm, pattern)
    assert isinstance(result, str)  # every caller .strip()s / json.loads a str
    body = proxy.last("/api/chat")
    assert [m["role"] for m in body["messages"]] == [m["role"] for m in pattern.messages]
    assert all("timestamp" not in m for m in body["messages"])  # G14's extra key: dropped
    if pattern.response_format is not None:
        assert body["format"] == "json"  # MemScreen's OllamaLLM dropped it: honoured here
    else:
        assert "format" not in body
    for name, value in (pattern.options or {}).items():  # Ollama options: as given
        assert body["options"][name] == value


def test_g4_screenshot_reaches_a_vision_model_and_a_text_model_refuses_it(
        proxy: kit.RecordingProxy) -> None:
    """utils.py get_image_description: `images: [base64]` beside the prompt."""
    seeing = LlmFactory.create("ollama", {**_llm_dict(proxy.url), "model": VISION_MODEL})
    assert isinstance(kit.replay(seeing, kit.BY_NAME["G4"]), str)
    assert proxy.last("/api/chat")["messages"][0]["images"] == [kit.PNG_1X1]
    sent = len(proxy.bodies("/api/chat"))
    blind = LlmFactory.create("ollama", _llm_dict(proxy.url))  # the text-only tiny model
    with pytest.raises(VisionUnsupportedError, match="cannot see images"):
        kit.replay(blind, kit.BY_NAME["G4"])
    assert len(proxy.bodies("/api/chat")) == sent  # refused before sending: no "[img-0]"


def test_tools_return_memscreen_dict(proxy: kit.RecordingProxy) -> None:
    """ollama.py:156-180 `_parse_response`: with tools, {"content", "tool_calls"}."""
    llm = LlmFactory.create("ollama", _llm_dict(proxy.url))
    result = kit.replay(llm, kit.BY_NAME["G10"], tools=kit.TOOLS)
    assert isinstance(result, dict) and set(result) == {"content", "tool_calls"}
    assert isinstance(result["tool_calls"], list)
    assert proxy.last("/api/chat")["tools"][0]["function"]["name"] == "get_weather"


def test_stream_and_async_take_the_same_options(proxy: kit.RecordingProxy) -> None:
    """G1's arguments (memory.py:530-542) on stream() and achat(): same wire as chat."""
    llm = LlmFactory.create("ollama", _llm_dict(proxy.url))
    kit.check_stream_and_async(llm, proxy, "/api/chat", _json_and_options_as_given)


def test_two_threads_on_one_instance(proxy: kit.RecordingProxy) -> None:
    """memory.py:408-415: G1/G2 and G9 run in a ThreadPoolExecutor on the same self.llm."""
    kit.check_two_threads(LlmFactory.create("ollama", _llm_dict(proxy.url)), ("G1", "G9"), 120)


# --- the embedder ---

def test_embedder_factory_and_every_embed_shape(proxy: kit.RecordingProxy) -> None:
    """memory.py:164-168 `EmbedderFactory.create(provider, get_embedder_config()["config"],
    vector_store_config_object)`, then the embed shapes of memory.py:459, 608-612, 1088,
    1219 (keyword), 1321; telemetry.py:117 reads .config.model/.embedding_dims."""
    embedder = EmbedderFactory.create("ollama", {"model": MODEL, "ollama_base_url": proxy.url},
                                      kit.VECTOR_CONFIG)
    assert (embedder.config.model, embedder.config.embedding_dims) == (MODEL, None)
    assert hasattr(embedder, "embed_batch")
    texts = ["the sea", "a mountain", "the sea again"]
    kit.check_embed_shapes(embedder, texts)  # a vector each, the batch in order
    assert proxy.last("/api/embed")["input"] == texts  # one request, in order
    # EmbedderFactory.create("ollama", {}, cfg): OllamaEmbedding's default model.
    default = EmbedderFactory.create("ollama", {}, kit.VECTOR_CONFIG)
    assert default.config.model == "nomic-embed-text"


# --- MemScreen's environment variables ---

def test_env_vars_drive_memscreen_config(proxy: kit.RecordingProxy,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """memscreen/config/__init__.py:233-283 env overrides -> get_llm_config() -> the
    factory; and memscreen-llm's own create_llm() reads the same variables."""
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "ollama")
    monkeypatch.setenv("MEMSCREEN_OLLAMA_URL", proxy.url)
    monkeypatch.setenv("MEMSCREEN_LLM_MODEL", MODEL)
    llm_cfg = kit.memscreen_config(os.environ)["llm"]
    assert llm_cfg == {"provider": "ollama",
                       "config": {"model": MODEL, "ollama_base_url": proxy.url}}
    kit.check_env_config(os.environ, llm_cfg, proxy, "/api/chat", "ollama", MODEL)


# --- errors, as MemScreen matches them (services/model_capability.py:80-102) ---

def test_missing_model_says_not_found(server: OllamaServer) -> None:
    """A 404 from Ollama: MemScreen shows str(e) (chat_presenter.py:5564-5568); it is not a
    backend-down error for is_model_backend_error."""
    llm = LlmFactory.create("ollama", {"model": "nonesuch", "ollama_base_url": server.base_url})
    kit.check_missing_model(llm)


def test_unreachable_server_matches_is_model_backend_error() -> None:
    """recording_presenter.py:1920-1926 consume_model_error: a down server must match."""
    url = kit.closed_port_url()
    llm = LlmFactory.create("ollama", {"model": MODEL, "ollama_base_url": url})
    embedder = EmbedderFactory.create("ollama", {"model": MODEL, "ollama_base_url": url},
                                      kit.VECTOR_CONFIG)  # constructing never raises
    kit.check_unreachable(llm, embedder, ("connection refused", "connection error"))


def test_timeout_says_timed_out() -> None:
    """model_capability.py:222-228: `"timed out" in str(e).lower()`."""
    kit.check_timeout(lambda url: LlmFactory.create(
        "ollama", {"model": MODEL, "ollama_base_url": url}, timeout=1.0))


# --- the acceptance: the memory pipeline, only MEMSCREEN_LLM_BACKEND (and URL) set ---

def test_memory_pipeline_with_backend_ollama(proxy: kit.RecordingProxy,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory's calls (G1, G2, G3, G5-G8 and its embeds) built from MemScreen's config
    under MEMSCREEN_LLM_BACKEND=ollama. memscreen-llm-vllm runs the same function with
    MEMSCREEN_LLM_BACKEND=vllm."""
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "ollama")
    monkeypatch.setenv("MEMSCREEN_OLLAMA_URL", proxy.url)
    for var in ("MEMSCREEN_LLM_MODEL", "MEMSCREEN_EMBEDDING_MODEL"):
        monkeypatch.setenv(var, MODEL)  # the model the test server has
    kit.check_pipeline_run(kit.run_memory_pipeline(os.environ), "ollama", MODEL)
    g1 = proxy.bodies("/api/chat")[0]
    assert g1["format"] == "json" and {k: g1["options"][k] for k in
                                       ("num_predict", "temperature", "top_p")} == {
        "num_predict": 256, "temperature": 0.3, "top_p": 0.8}
