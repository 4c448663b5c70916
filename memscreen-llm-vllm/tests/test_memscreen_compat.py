"""MemScreen's own call patterns through memscreen-llm, against the real vLLM server.

The patterns are core's kit data (`memscreen_llm.testing.memscreen_patterns`), replayed the
same way by memscreen-llm-ollama's suite; every test names the MemScreen file:line it
copies (MemScreen HEAD de16cf5). The tiny random model's text is not judged: what
reaches the wire (a recording proxy in front of the server) and the types MemScreen's
callers rely on are. Embeddings need a pooling server: one, for this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memscreen_llm import BackendError, EmbedderFactory, LlmFactory, VisionUnsupportedError
from memscreen_llm.testing import memscreen_patterns as kit
from memscreen_llm_vllm.testing import Engine, VllmServer, regex_for_text, serve

MODEL = "tiny"
EMBED_MODEL = "tiny-embed"
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def pooling(engine: Engine) -> Iterator[VllmServer]:
    """The one extra server of this module: the tiny model as an embedding model."""
    yield from serve(engine, "--runner", "pooling", "--convert", "embed",
                     served_model_name=EMBED_MODEL)


@pytest.fixture
def proxy(server: VllmServer) -> Iterator[kit.RecordingProxy]:
    with kit.RecordingProxy(server.host_url) as recording:
        yield recording


def _llm_dict(url: str, model: str | None = MODEL) -> dict[str, object]:
    # memscreen/config/__init__.py:547-578 get_llm_config() for "vllm": vllm_base_url
    # without /v1, and the offline-engine keys.
    return {"model": model, "vllm_base_url": url, "use_offline_mode": False,
            "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9}


def _sent_options(body: dict[str, object]) -> dict[str, object]:
    return {k: body[k] for k in ("max_tokens", "temperature", "top_p") if k in body}


def _json_object_and_call_options(body: Any, pattern: kit.CallPattern) -> None:
    assert body["response_format"] == {"type": "json_object"}
    assert _sent_options(body) == pattern.call_options()


# --- config and factory shapes ---

def test_get_llm_and_get_mllm_config_dicts(proxy: kit.RecordingProxy) -> None:
    """memory.py:172-173 `LlmFactory.create(provider, config_dict)` with the vLLM dicts of
    memscreen/config/__init__.py:547-613 (get_llm_config, get_mllm_config)."""
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url))
    mllm = LlmFactory.create("vllm", {**_llm_dict(proxy.url), "enable_vision": True})
    for backend in (llm, mllm):
        cfg = backend.config
        assert cfg.base_url == proxy.url + "/v1"  # type: ignore[attr-defined]
        assert cfg.mode == "server"  # type: ignore[attr-defined]
        assert (cfg.tensor_parallel_size, cfg.gpu_memory_utilization) == (  # type: ignore[attr-defined]
            1, 0.9)
        assert isinstance(kit.replay(backend, kit.BY_NAME["G10"]), str)
    body = proxy.last(CHAT)
    # MemScreen's VllmLLM defaults (vllm.py:30-50): temperature 0.1, top_p 0.1, max_tokens
    # 2000 (clamped to what the 1024-token context leaves).
    assert (body["model"], body["temperature"], body["top_p"]) == (MODEL, 0.1, 0.1)
    assert 0 < body["max_tokens"] <= 2000
    assert "top_k" not in body and "top_k" not in body.get("extra_body", {})


def test_no_model_uses_the_servers_only_model(proxy: kit.RecordingProxy) -> None:
    """get_llm_config("vllm") with an unset model (MemScreen falls back to
    Qwen/Qwen2.5-7B-Instruct, vllm.py:118-119): here, the server's only model."""
    for config in ({"vllm_base_url": proxy.url}, _llm_dict(proxy.url, model=None)):
        llm = LlmFactory.create("vllm", config)
        assert isinstance(kit.replay(llm, kit.BY_NAME["G13"]), str)
        assert proxy.last(CHAT)["model"] == MODEL


def test_dict_plus_kwargs_override(proxy: kit.RecordingProxy) -> None:
    """memscreen/llm/factory.py:62-166 `create(name, dict, **kwargs)`: kwargs win."""
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url), temperature=0.2, max_tokens=16)
    assert isinstance(kit.replay(llm, kit.BY_NAME["G13"]), str)
    assert _sent_options(proxy.last(CHAT))["temperature"] == 0.2
    assert proxy.last(CHAT)["max_tokens"] == 16


def test_chat_presenter_direct_config(proxy: kit.RecordingProxy) -> None:
    """chat_presenter.py:5408-5418's config (num_ctx, repeat_penalty), then G14
    (chat_presenter.py:5450): repeat_penalty is vLLM's repetition_penalty, top_k is sent,
    num_ctx has no meaning on a server (its context is the server's)."""
    llm = LlmFactory.create("vllm", {
        "model": MODEL, "temperature": 0.45, "max_tokens": 384, "top_p": 0.85, "top_k": 25,
        "num_ctx": 4096, "repeat_penalty": 1.15, "vllm_base_url": proxy.url})
    assert isinstance(kit.replay(llm, kit.BY_NAME["G14"]), str)
    body = proxy.last(CHAT)
    assert _sent_options(body) == {"max_tokens": 384, "temperature": 0.45, "top_p": 0.85}
    extra = {**body, **body.get("extra_body", {})}
    assert (extra["top_k"], extra["repetition_penalty"]) == (25, 1.15)
    assert "num_ctx" not in extra


# --- every generate_response call site ---

# G4 sends an image, which the text-only tiny model refuses: its own test below.
TEXT_PATTERNS = [p for p in kit.PATTERNS if p.name != "G4"]


@pytest.mark.parametrize("pattern", TEXT_PATTERNS, ids=[p.name for p in TEXT_PATTERNS])
def test_call_site_shape(pattern: kit.CallPattern, proxy: kit.RecordingProxy) -> None:
    """Each generate_response call site of MemScreen (the pattern's `where`), verbatim.
    MemScreen's own VllmLLM raised TypeError on options= (vllm.py:191-290)."""
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url))
    result = kit.replay(llm, pattern)
    assert isinstance(result, str)  # every caller .strip()s / json.loads a str
    body = proxy.last(CHAT)
    assert [m["role"] for m in body["messages"]] == [m["role"] for m in pattern.messages]
    if pattern.response_format is not None:
        assert body["response_format"] == {"type": "json_object"}
    else:
        assert "response_format" not in body
    for name, value in pattern.call_options().items():  # Ollama's names -> vLLM's
        assert body[name] == value, name


def test_g4_image_reaches_vllm_as_an_image_part(proxy: kit.RecordingProxy) -> None:
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url))
    # G4 (memscreen/utils.py:254) sends Ollama-style `images: [base64]`; the tiny model is
    # text-only, so vLLM refuses it (never a silent drop): the wire is what counts here.
    with pytest.raises(VisionUnsupportedError, match=f"model '{MODEL}' on backend 'vllm'"):
        kit.replay(llm, kit.BY_NAME["G4"])
    content = proxy.last(CHAT)["messages"][0]["content"]
    assert isinstance(content, list) and any(p.get("type") == "image_url" for p in content)
    sent = len(proxy.bodies(CHAT))
    # Now known to be blind: the next image call fails before anything is sent.
    with pytest.raises(VisionUnsupportedError):
        kit.replay(llm, kit.BY_NAME["G4"])
    assert len(proxy.bodies(CHAT)) == sent


def test_tools_return_memscreen_dict(proxy: kit.RecordingProxy, parser_site: Path) -> None:
    """ollama.py:156-180's tools shape {"content", "tool_calls"} (MemScreen's VllmLLM
    dropped tools). The shared server has no tool parser: without one, a clear error."""
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url))
    with pytest.raises(BackendError, match="--enable-auto-tool-choice"):
        kit.replay(llm, kit.BY_NAME["G10"], tools=kit.TOOLS)
    parsed = LlmFactory.create("vllm", {**_llm_dict(proxy.url), "tool_parser": "test-calls"},
                               temperature=0.0, max_tokens=200)
    call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    result = kit.replay(parsed, kit.BY_NAME["G10"], tools=kit.TOOLS,
                    structured_outputs={"regex": regex_for_text(call)})
    assert result == {"content": None, "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris"}}]}


def test_stream_and_async_take_the_same_options(proxy: kit.RecordingProxy) -> None:
    """G1's arguments (memory.py:530-542) on stream() and achat(): same wire as chat."""
    llm = LlmFactory.create("vllm", _llm_dict(proxy.url))
    kit.check_stream_and_async(llm, proxy, CHAT, _json_object_and_call_options)


def test_two_threads_on_one_instance(proxy: kit.RecordingProxy) -> None:
    """memory.py:408-415: G1/G2 and G9 run in a ThreadPoolExecutor on the same self.llm."""
    kit.check_two_threads(LlmFactory.create("vllm", _llm_dict(proxy.url)), ("G1", "G9"), 300)


# --- the embedder ---

def test_embedder_factory_and_every_embed_shape(pooling: VllmServer) -> None:
    """memory.py:164-168 `EmbedderFactory.create(provider, get_embedder_config("vllm")
    ["config"], vector_store_config_object)` (MemScreen's own EmbedderFactory rejected
    "vllm"), then the embed shapes of memory.py:459, 608-612, 1088, 1219, 1321."""
    with kit.RecordingProxy(pooling.host_url) as proxy:
        embedder = EmbedderFactory.create(
            "vllm", {"model": EMBED_MODEL, "vllm_base_url": proxy.url}, kit.VECTOR_CONFIG)
        assert (embedder.config.model, embedder.config.embedding_dims) == (EMBED_MODEL, None)
        texts = ["the sea", "a mountain", "the sea again"]
        batch = kit.check_embed_shapes(embedder, texts)["batch"]  # a vector each, in order
        assert proxy.last("/v1/embeddings")["input"] == texts  # one request, in order
    assert batch[1] != pytest.approx(batch[0])


# --- MemScreen's environment variables ---

def test_env_vars_drive_memscreen_config(proxy: kit.RecordingProxy,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """memscreen/config/__init__.py:233-283 env overrides (tests/test_vllm.py:176-203) ->
    get_llm_config() -> the factory; create_llm() reads the same variables."""
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "vllm")
    monkeypatch.setenv("MEMSCREEN_VLLM_URL", proxy.url)
    monkeypatch.setenv("MEMSCREEN_VLLM_LLM_MODEL", MODEL)
    llm_cfg = kit.memscreen_config(os.environ)["llm"]
    assert llm_cfg["provider"] == "vllm"
    assert llm_cfg["config"]["vllm_base_url"] == proxy.url
    plain = kit.check_env_config(os.environ, llm_cfg, proxy, CHAT, "vllm", MODEL)
    assert plain.config.base_url == proxy.url + "/v1"


# --- errors, as MemScreen matches them (services/model_capability.py:80-102) ---

def test_missing_model_says_not_found(server: VllmServer) -> None:
    """A model the server does not serve: str(e) has "not found"; not a backend-down error."""
    kit.check_missing_model(LlmFactory.create("vllm", _llm_dict(server.host_url, model="nonesuch")))


def test_unreachable_server_matches_is_model_backend_error() -> None:
    """recording_presenter.py:1920-1926 consume_model_error: a down server must match
    (MemScreen's VllmLLM raised openai's "Connection error.")."""
    url = kit.closed_port_url()
    llm = LlmFactory.create("vllm", _llm_dict(url))
    embedder = EmbedderFactory.create("vllm", {"model": EMBED_MODEL, "vllm_base_url": url},
                                      kit.VECTOR_CONFIG)
    kit.check_unreachable(llm, embedder, ("connection error",))


def test_timeout_says_timed_out() -> None:
    """model_capability.py:222-228: `"timed out" in str(e).lower()`."""
    kit.check_timeout(lambda url: LlmFactory.create("vllm", _llm_dict(url), timeout=1.0))


# --- the acceptance: the memory pipeline, only MEMSCREEN_LLM_BACKEND (and URL) set ---

def test_memory_pipeline_with_backend_vllm(proxy: kit.RecordingProxy, pooling: VllmServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory's calls (G1, G2, G3, G5-G8 and its embeds) built from MemScreen's config
    under MEMSCREEN_LLM_BACKEND=vllm: the same function memscreen-llm-ollama runs with
    MEMSCREEN_LLM_BACKEND=ollama. One difference: a vLLM server serves one model, so the
    embedder's URL is the pooling server's."""
    monkeypatch.setenv("MEMSCREEN_LLM_BACKEND", "vllm")
    monkeypatch.setenv("MEMSCREEN_VLLM_URL", proxy.url)
    monkeypatch.setenv("MEMSCREEN_VLLM_LLM_MODEL", MODEL)
    monkeypatch.setenv("MEMSCREEN_VLLM_EMBEDDING_MODEL", EMBED_MODEL)
    # G3 sets no max_tokens: with MemScreen's default (2000) the random-weight tiny model
    # writes until its 1024-token context is full, and that text is then too long for the
    # embedding server's own 1024 tokens (ContextLengthError, as it should be). A trained
    # model stops; here the budget is set the way a user would, by env.
    monkeypatch.setenv("MEMSCREEN_VLLM_MAX_TOKENS", "128")
    run = kit.run_memory_pipeline(os.environ, embedder_url=pooling.host_url)
    kit.check_pipeline_run(run, "vllm", EMBED_MODEL)
    g1 = proxy.bodies(CHAT)[0]
    assert g1["response_format"] == {"type": "json_object"}
    assert _sent_options(g1) == {"max_tokens": 256, "temperature": 0.3, "top_p": 0.8}
