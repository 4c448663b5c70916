"""Discovery against real distributions on sys.path: isolation, lists, strict mode, API range."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from plugin_dists import write_dist, write_echo

from memscreen_llm import API_VERSION, PluginLoadError, UnknownBackendError, discover
from memscreen_llm._registry import PluginStatus

BROKEN_IMPORT = "raise ImportError('needs libfoo')\n"
RAISING_HOOK = """
from memscreen_llm import hookimpl
@hookimpl
def supported_api():
    return ">=1,<2"
@hookimpl
def register_backends(register):
    raise RuntimeError("hook exploded")
"""
INCOMPATIBLE = """
from memscreen_llm import hookimpl
@hookimpl
def supported_api():
    return ">=2.0,<3"
"""
NO_API = """
from memscreen_llm import hookimpl
@hookimpl
def register_backends(register):
    pass
"""
BAD_SIGNATURE = """
from memscreen_llm import hookimpl
@hookimpl
def register_backends(register, surprise):
    pass
"""


def statuses(env: dict[str, str] | None = None) -> dict[str, tuple[str, str | None]]:
    registry = discover(env or {})
    return {p.name: (p.status.value, p.error) for p in registry.plugins}


def test_good_plugin_registers_backend_without_importing_its_sdk(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    registry = discover({})
    backend = registry.find_backend("echo")
    assert backend.plugin.distribution == "plugin-echo"
    assert backend.plugin.version == "1.0"
    assert registry.find_backend("ECHO-alias") is backend
    assert f"{unique}_backend" not in sys.modules
    assert f"heavy_sdk_{unique}" not in sys.modules


@pytest.mark.parametrize(
    ("source", "status", "needle"),
    [
        (BROKEN_IMPORT, "error", "import failed: ImportError: needs libfoo"),
        (RAISING_HOOK, "error", "register_backends raised RuntimeError: hook exploded"),
        (INCOMPATIBLE, "incompatible",
         f"supports core API >=2.0,<3, but this core provides API {API_VERSION}"),
        (NO_API, "incompatible", "declares no supported API range"),
        (BAD_SIGNATURE, "error", "invalid hooks"),
    ],
    ids=["import", "hook-raises", "incompatible", "no-api", "bad-signature"],
)
def test_a_broken_plugin_is_reported_and_the_others_keep_working(
    site: Path, unique: str, source: str, status: str, needle: str
) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-broken", "broken", f"broken_{unique}", source, version="0.3")
    registry = discover({})
    broken = next(p for p in registry.plugins if p.name == "broken")
    assert broken.status.value == status
    assert broken.distribution == "plugin-broken" and broken.version == "0.3"
    assert broken.error is not None and needle in broken.error
    assert registry.backend_names() == ["echo"]
    entry = next(e for e in registry.entries() if e["name"] == "broken")
    assert entry["status"] == status and needle in entry["error"]
    with pytest.raises(UnknownBackendError, match="is " + status):
        registry.find_backend("broken")


def test_strict_mode_turns_a_broken_plugin_into_an_error(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-broken", "broken", f"broken_{unique}", BROKEN_IMPORT)
    with pytest.raises(PluginLoadError, match="plugin 'broken' .*plugin-broken 1.0.*needs libfoo"):
        discover({"MEMSCREEN_LLM_STRICT_PLUGINS": "1"})
    assert discover({"MEMSCREEN_LLM_STRICT_PLUGINS": "0"}).backend_names() == ["echo"]


def test_a_name_owned_by_another_distribution_is_refused(site: Path, unique: str) -> None:
    # memscreen-llm-echo owns `echo` (and its aliases); see test_plugin_isolation.py.
    write_echo(site, "echo", unique, dist="memscreen-llm-echo")
    # A second distribution whose entry point sorts later claims the same backend name.
    write_dist(site, "zz-impostor", "zz-echo", f"imp_{unique}",
               (Path(__file__).parent / "plugin_dists.py").read_text().split("GOOD_PLUGIN = '''")[1]
               .split("'''")[0].format(name="echo", module=unique))
    registry = discover({})
    assert registry.find_backend("echo").plugin.distribution == "memscreen-llm-echo"
    impostor = next(p for p in registry.plugins if p.name == "zz-echo")
    assert impostor.status is PluginStatus.ERROR
    assert impostor.error == (
        "backend names 'echo', 'echo-alias' belong to memscreen-llm-echo 1.0, so zz-impostor "
        "1.0 may not register them (to drop this plugin: MEMSCREEN_LLM_DISABLE_PLUGINS=zz-impostor)")


def test_allow_list_and_deny_list(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_echo(site, "other", f"{unique}o")
    assert discover({"MEMSCREEN_LLM_PLUGINS": "other"}).backend_names() == ["other"]
    assert discover({"MEMSCREEN_LLM_PLUGINS": ""}).backend_names() == []
    assert discover({"MEMSCREEN_LLM_PLUGINS": " echo , other "}).backend_names() == [
        "echo", "other"]
    # The distribution name works as well as the entry-point name.
    assert discover({"MEMSCREEN_LLM_DISABLE_PLUGINS": "plugin-echo"}).backend_names() == ["other"]
    denied = statuses({"MEMSCREEN_LLM_DISABLE_PLUGINS": "echo"})
    assert denied["echo"] == ("disabled", None)
    with pytest.raises(UnknownBackendError, match="is disabled"):
        discover({"MEMSCREEN_LLM_DISABLE_PLUGINS": "echo"}).find_backend("echo")


PRESET = """
from memscreen_llm import BackendSpec, hookimpl
@hookimpl
def supported_api():
    return ">=1.0"
@hookimpl
def register_backends(register):
    register(BackendSpec(name="fast", extends="{base}", aliases=("fast-echo",),
                         defaults={{"model": "fast-model", "temperature": 0.0}},
                         description="a preset"))
"""


def test_a_preset_extends_another_plugins_backend(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-fast", "fast", f"fast_{unique}", PRESET.format(base="echo"))
    registry = discover({})
    fast = registry.find_backend("fast-echo")
    echo = registry.find_backend("echo")
    assert fast.spec.config_class is echo.spec.config_class
    assert fast.spec.factory == echo.spec.factory
    assert fast.spec.compose_files == echo.spec.compose_files
    assert dict(fast.spec.defaults) == {"model": "fast-model", "temperature": 0.0}
    assert fast.plugin.distribution == "plugin-fast"


def test_a_preset_whose_base_is_missing_fails_alone(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-fast", "fast", f"fast_{unique}", PRESET.format(base="vllm"))
    registry = discover({})
    assert registry.backend_names() == ["echo"]
    fast = next(p for p in registry.plugins if p.name == "fast")
    assert fast.status is PluginStatus.ERROR
    assert fast.error is not None
    assert "extends 'vllm', which is not installed (pip install memscreen-llm-vllm)" in fast.error


def test_unknown_backend_lists_installed_and_suggests_first_party(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    registry = discover({})
    with pytest.raises(UnknownBackendError) as err:
        registry.find_backend("vllm")
    assert "installed backends: echo" in str(err.value)
    assert "pip install memscreen-llm-vllm" in str(err.value)
    with pytest.raises(UnknownBackendError) as err:
        registry.find_backend("nonesuch")
    assert "pip install" not in str(err.value)
