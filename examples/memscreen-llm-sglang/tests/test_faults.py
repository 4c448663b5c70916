"""The SGLang backend (core's OpenAI-compatible kit) against the loopback fault server: the
kit's deadlines, retries and typed errors hold for a third-party backend too."""

from __future__ import annotations

from memscreen_llm.testing import FaultContract


class TestSglangFaults(FaultContract):
    backend = "sglang"
    protocol = "openai"
