"""The Ollama `api_key` reaches the server as `Authorization: Bearer ...` (how Ollama's
cloud and auth proxies take it), from the argument or OLLAMA_API_KEY; it is shown nowhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memscreen_llm import create_llm
from memscreen_llm.testing import run_cli
from memscreen_llm.testing.memscreen_patterns import RecordingProxy
from memscreen_llm_ollama.testing import OllamaServer

KEY = "ollama-test-key-s3cret"
MESSAGES = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
def proxy(server: OllamaServer) -> Iterator[RecordingProxy]:
    with RecordingProxy(server.base_url) as recording:
        yield recording


def test_api_key_is_a_bearer_token_on_every_path(proxy: RecordingProxy) -> None:
    llm = create_llm("ollama", base_url=proxy.url, model="tiny", api_key=KEY, max_tokens=4)
    llm.chat(MESSAGES)
    list(llm.stream(MESSAGES))
    assert llm.health().ok
    paths = {recorded.path for recorded in proxy.requests}
    assert {"/api/chat", "/api/version", "/api/show"} <= paths
    for recorded in proxy.requests:
        assert recorded.headers.get("authorization") == f"Bearer {KEY}", recorded.path
    assert KEY not in repr(llm) and KEY not in str(llm.config.public_dict())


def test_ollama_api_key_env_is_honoured(
        proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    create_llm("ollama", base_url=proxy.url, model="tiny", max_tokens=4).chat(MESSAGES)
    assert proxy.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
    shown = run_cli("config", "show", "-b", "ollama", env={"OLLAMA_API_KEY": KEY})
    assert shown.returncode == 0 and "api_key" in shown.stdout and KEY not in shown.stdout
