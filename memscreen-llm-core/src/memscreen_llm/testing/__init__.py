"""Contract test kit for backend authors (`pip install memscreen-llm-core[testing]`).

    from memscreen_llm.testing import BackendContract

    class TestMyBackend(BackendContract):
        backend = "mine"

        @pytest.fixture
        def llm(self, my_server):
            return create_llm("mine", base_url=my_server.url, model="tiny")

Every check that needs a capability the backend does not declare is skipped, saying so.
`FaultContract` (set `backend` and `protocol`) drives the backend through every fault of
the loopback `FaultServer` (`memscreen_llm.testing.faults`): deadlines, retries, typed
errors, partial streams, sockets and secrets.

Helpers for a plugin's own tests: `free_port()`, `loud_skip(reason)`, `clean_env(monkeypatch)`
(and the `memscreen_clean_env` fixture), `run_cli(*args)` (the CLI in a fresh interpreter,
MEMSCREEN_* and API-key variables removed), `sigint_as_from_a_terminal` (the `preexec_fn`
of a child a test Ctrl-Cs), `imported_by_discovery(*sdks)` (what `memscreen-llm backends`
imports of them), `async_rounds(llm, messages)` (achat/astream in
fresh event loops), `write_parser_plugin(folder)` (a parser plugin distribution with
`test-think` / `test-calls`) and, for images, `png(w, h)`, `data_url(bytes)` and
`image_server(bytes)` (a loopback server handing one out; stdlib only). `FaultServer` is
a loopback OpenAI/Ollama look-alike that fails on cue (no answer, drip, stall, cut,
malformed, error statuses, ...; see `memscreen_llm.testing.faults`), with
`open_sockets()` / `thread_count()` for leak checks. The plugins' real engines live in
their own kits: `memscreen_llm_vllm.testing`, `memscreen_llm_ollama.testing`.
"""

from ._async import async_rounds
from ._compose import (
    ComposeUnavailable,
    check_compose_file,
    compose_binary,
    compose_binary_or_skip,
)
from ._contract import BackendContract
from ._env import (
    ENV_PREFIXES,
    clean_env,
    imported_by_discovery,
    run_cli,
    sigint_as_from_a_terminal,
)
from ._fault_contract import FaultContract
from ._images import data_url, image_server, png
from ._parsers import write_parser_plugin
from ._ports import free_port
from ._real_model import RealModelContract
from ._samples import SEA_MESSAGES, WEATHER_TOOL
from ._skip import loud_skip
from .faults import (
    Fault,
    FaultServer,
    RecordedRequest,
    fault_server,
    open_sockets,
    thread_count,
)

__all__ = [
    "ENV_PREFIXES",
    "SEA_MESSAGES",
    "WEATHER_TOOL",
    "BackendContract",
    "ComposeUnavailable",
    "Fault",
    "FaultContract",
    "FaultServer",
    "RealModelContract",
    "RecordedRequest",
    "async_rounds",
    "check_compose_file",
    "clean_env",
    "compose_binary",
    "compose_binary_or_skip",
    "data_url",
    "fault_server",
    "free_port",
    "image_server",
    "imported_by_discovery",
    "loud_skip",
    "open_sockets",
    "png",
    "run_cli",
    "sigint_as_from_a_terminal",
    "thread_count",
    "write_parser_plugin",
]
