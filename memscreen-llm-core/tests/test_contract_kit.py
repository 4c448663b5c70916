"""The contract kit itself, run by pytester against a small backend double on loopback.

The double keeps the contract; a second one breaks it (its stream loses a word), and the
kit must catch that. First-party plugins run the kit against their real engines.
"""

from __future__ import annotations

import textwrap

import pytest
from plugin_dists import API_HOOK, write_dist

pytest_plugins = ["pytester"]

DOUBLE = '''
import socket, urllib.parse
import attrs
from memscreen_llm import (BackendSpec, BackendUnavailableError, Capability, ChatDelta,
                           ChatResult, HealthCheck, HealthReport, LLMBase, ModelNotFoundError,
                           hookimpl)
from memscreen_llm.config import BaseLlmConfig, http_url, setting

@attrs.frozen(kw_only=True)
class KitConfig(BaseLlmConfig):
    base_url: str = setting("http://127.0.0.1:1", validator=http_url())

class KitLLM(LLMBase):
    capabilities = frozenset({{Capability.STREAMING, Capability.ASYNC}})

    def _connect(self):
        url = urllib.parse.urlsplit(self.config.base_url)
        try:
            socket.create_connection((url.hostname, url.port), timeout=2).close()
        except OSError:
            raise BackendUnavailableError(self.config.base_url, hint="start the kit server")
        if self.config.model != "tiny":
            raise ModelNotFoundError(str(self.config.model), available=["tiny"])

    def _chat(self, request):
        self._connect()
        return ChatResult(content="red green blue", finish_reason="stop")

    def _stream(self, request):
        self._connect()
        words = ["red ", "green ", "blue"]
        for word in words[:{keep}]:
            yield ChatDelta(content=word)
        yield ChatDelta(finish_reason="stop")

    async def _astream(self, request):
        for delta in self._stream(request):
            yield delta

    def _health(self):
        self._connect()
        return HealthReport(self.backend_name, [HealthCheck("server", True, "up")])

@hookimpl
def register_backends(register):
    register(BackendSpec(name="{name}", config_class=KitConfig, factory=KitLLM))
''' + API_HOOK

TESTS = '''
import socket
import pytest
from memscreen_llm import create_llm
from memscreen_llm.testing import BackendContract

@pytest.fixture(scope="module")
def listening():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]

class TestKit(BackendContract):
    backend = "{name}"

    @pytest.fixture
    def llm(self, listening):
        return create_llm("{name}", base_url=f"http://127.0.0.1:{{listening}}", model="tiny")
'''


def _run(pytester: pytest.Pytester, name: str, keep: int) -> pytest.RunResult:
    site = pytester.path / "site"
    write_dist(site, f"kit-{name}", name, f"kit_{name}_{keep}", DOUBLE.format(name=name, keep=keep))
    pytester.makepyfile(**{f"test_{name}": textwrap.dedent(TESTS.format(name=name))})
    # The kit's pytest plugin loads through its pytest11 entry point.
    pytester.chdir()
    return pytester.runpytest_subprocess("-rs", f"--rootdir={pytester.path}")


def test_a_backend_that_keeps_the_contract_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "site"))
    result = _run(pytester, "kitgood", keep=3)
    result.assert_outcomes(passed=14, skipped=3)  # images: no VISION, so CapabilityError
    result.stdout.fnmatch_lines([
        "*ships no compose file*", "*does not declare tools*", "*does not declare reasoning*",
    ])


def test_a_stream_that_loses_a_word_fails_the_contract(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "site"))
    result = _run(pytester, "kitbad", keep=2)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2  # stream parity and async parity
    result.stdout.fnmatch_lines(["*test_contract_stream_joins_to_chat*", "*test_contract_async_matches_sync*"])
