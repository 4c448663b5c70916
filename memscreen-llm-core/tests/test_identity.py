"""A backend knows who it is while it is built: name, env names, the start command.

Plugins written for API 1.0 (a factory taking only the config, `__init__(self, config)`)
keep working: they learn their identity from the registry.
"""

from __future__ import annotations

from pathlib import Path

from plugin_dists import GOOD_PLUGIN, write_dist

from memscreen_llm import (
    API_VERSION,
    BackendIdentity,
    compose_up_command,
    create_llm,
    env_name,
    get_registry,
)

NEW_BACKEND = '''
from memscreen_llm import LLMBase, HealthReport

class EchoLLM(LLMBase):
    def __init__(self, config, identity=None):
        super().__init__(config, identity)
        self.seen_in_init = (self.backend_name, self.identity.env("model"),
                             self.identity.compose_hint)

    def _chat(self, request):
        raise NotImplementedError

    def _health(self):
        return HealthReport(self.backend_name, [])
'''

# The API 1.0 shape: a factory function taking the config, a one-argument __init__.
OLD_BACKEND = NEW_BACKEND.replace(
    "def __init__(self, config, identity=None):\n        super().__init__(config, identity)",
    "def __init__(self, config):\n        super().__init__(config)",
) + '''
def create(config):
    return EchoLLM(config)
'''


def _install(site: Path, module: str, backend_source: str, factory: str) -> None:
    plugin = GOOD_PLUGIN.format(name="echo", module=module).replace(
        f'"{module}_backend:EchoLLM"', f'"{module}_backend:{factory}"')
    write_dist(site, "plugin-echo", "echo", module, plugin, extra_files={
        f"{module}_backend.py": backend_source,
        f"{module}_assets/__init__.py": "",
        f"{module}_assets/compose.yml": "services:\n  echo:\n    image: echo:1\n",
    })


def test_the_factory_hands_the_backend_its_identity(site: Path, unique: str) -> None:
    _install(site, unique, NEW_BACKEND, "EchoLLM")
    llm = create_llm("echo-alias")
    assert llm.seen_in_init == ("echo", "MEMSCREEN_ECHO_MODEL",  # type: ignore[attr-defined]
                                compose_up_command("echo"))
    assert llm.identity == BackendIdentity(
        name="echo", aliases=("echo-alias",), distribution="plugin-echo",
        compose_hint=compose_up_command("echo"))
    assert "?" not in repr(llm.identity)


def test_an_api_1_0_plugin_still_works(site: Path, unique: str) -> None:
    _install(site, unique, OLD_BACKEND, "create")
    llm = create_llm("echo")
    # Inside __init__ the identity came from the registry (by config class) ...
    assert llm.seen_in_init[0] == "echo"  # type: ignore[attr-defined]
    # ... and the factory confirmed it once the backend was built.
    assert llm.identity == get_registry().find_backend("echo").identity
    assert llm.backend_name == "echo"
    assert API_VERSION == "1.1"  # 1.0 plugins declare ">=1.0,<2": still in range


def test_one_env_name_for_every_caller() -> None:
    assert env_name("vllm", "base_url") == "MEMSCREEN_VLLM_BASE_URL"
    assert env_name("step-3.5-flash", "model") == "MEMSCREEN_STEP_3_5_FLASH_MODEL"
    assert BackendIdentity(name="sglang").env("api_key") == "MEMSCREEN_SGLANG_API_KEY"
