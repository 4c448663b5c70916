"""Writes real (if tiny) plugin distributions into a folder that goes on sys.path.

importlib.metadata finds them exactly as it finds installed wheels: a module next to a
`.dist-info` folder whose entry_points.txt names it in the `memscreen.llm_backends` group.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# The API hook every test plugin module has (append it to the module's source).
API_HOOK = '''
@hookimpl
def supported_api():
    return ">=1.0,<2"
'''

GOOD_PLUGIN = '''
from memscreen_llm import BackendSpec, ParserSpec, hookimpl
from memscreen_llm.config import BaseLlmConfig, http_url, setting, string
import attrs

@attrs.frozen(kw_only=True)
class EchoConfig(BaseLlmConfig):
    base_url: str = setting("http://localhost:9999", validator=http_url(),
                            env=("MEMSCREEN_ECHO_URL",), help="server URL")
    token: str | None = setting(None, validator=string(optional=True), secret=True,
                                env=("ECHO_TOKEN",), help="auth token")
    options: dict | None = setting(None, help="extra options")
    stop: list[str] = setting(factory=list, help="stop strings")

@hookimpl
def supported_api():
    return ">=1.0,<2"

@hookimpl
def register_backends(register):
    register(BackendSpec(
        name="{name}", aliases=("{name}-alias",), config_class=EchoConfig,
        factory="{module}_backend:EchoLLM", description="echoes the last message",
        compose_files={{"default": "{module}_assets:compose.yml"}},
    ))
'''

ECHO_BACKEND = '''
import asyncio
import heavy_sdk_{module}  # stands in for an engine SDK: must load only on create
from memscreen_llm import LLMBase, Capability, ChatResult, ChatDelta, HealthReport, HealthCheck
from memscreen_llm import ToolCall

class EchoLLM(LLMBase):
    capabilities = frozenset({{Capability.STREAMING, Capability.ASYNC, Capability.TOOLS}})
    extra_call_options = frozenset({{"shout"}})

    def _answer(self, request):
        text = str(request.messages[-1].get("content", ""))
        if request.options.get("shout"):
            text = text.upper()
        calls = ()
        if request.tools:
            calls = (ToolCall(name=request.tools[0]["function"]["name"],
                              arguments={{"text": text}}),)
        return ChatResult(content=text, tool_calls=calls, finish_reason="stop",
                          model=self.config.model)

    def _chat(self, request):
        return self._answer(request)

    def _stream(self, request):
        result = self._answer(request)
        for word in result.content.split(" "):
            yield ChatDelta(content=word + " ")
        yield ChatDelta(tool_calls=result.tool_calls, finish_reason="stop")

    async def _astream(self, request):
        for delta in self._stream(request):
            await asyncio.sleep(0)
            yield delta

    def _health(self):
        return HealthReport(self.backend_name, [HealthCheck("server", True, self.config.base_url)])
'''


def write_dist(
    site: Path,
    dist: str,
    entry_name: str,
    module: str,
    source: str,
    version: str = "1.0",
    extra_files: dict[str, str] | None = None,
) -> None:
    """One distribution `dist` whose entry point `entry_name` is the module `module`."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    for name, text in (extra_files or {}).items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[memscreen.llm_backends]\n{entry_name} = {module}\n", encoding="utf-8"
    )


def write_echo(site: Path, name: str, module: str, dist: str | None = None,
               version: str = "1.0") -> None:
    """A working plugin: backend `name`, its backend module, fake SDK and compose asset."""
    write_dist(
        site, dist or f"plugin-{name}", name, module,
        GOOD_PLUGIN.format(name=name, module=module), version,
        extra_files={
            f"{module}_backend.py": ECHO_BACKEND.format(module=module),
            f"heavy_sdk_{module}.py": "LOADED = True\n",
            f"{module}_assets/__init__.py": "",
            f"{module}_assets/compose.yml": "services:\n  echo:\n    image: echo:1\n",
        },
    )
