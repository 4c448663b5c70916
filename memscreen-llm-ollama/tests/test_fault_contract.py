"""The Ollama backend against the kit's loopback fault server: deadlines, retries (the same
policy as every backend), typed errors, partial text, sockets and secrets
(memscreen_llm.testing.FaultContract). The real engine frozen: test_server_stop.py."""

from __future__ import annotations

from memscreen_llm.testing import FaultContract


class TestOllamaFaults(FaultContract):
    backend = "ollama"
    protocol = "ollama"
