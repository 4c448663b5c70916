"""The vLLM server backend against the kit's loopback fault server: deadlines, retries,
typed errors, partial text, sockets and secrets (memscreen_llm.testing.FaultContract).
The real engine frozen and killed: test_server_stop.py, test_server_kill.py."""

from __future__ import annotations

from memscreen_llm.testing import FaultContract


class TestVllmFaults(FaultContract):
    backend = "vllm"
    protocol = "openai"
