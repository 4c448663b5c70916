"""Contract test kit for backend authors (`pip install memscreen-llm-core[testing]`).

    from memscreen_llm.testing import BackendContract

    class TestMyBackend(BackendContract):
        backend = "mine"

        @pytest.fixture
        def llm(self, my_server):
            return create_llm("mine", base_url=my_server.url, model="tiny")

Every check that needs a capability the backend does not declare is skipped, saying so.
"""

from ._compose import (
    ComposeUnavailable,
    check_compose_file,
    compose_binary,
    compose_binary_or_skip,
)
from ._contract import BackendContract
from ._ports import free_port

__all__ = [
    "BackendContract",
    "ComposeUnavailable",
    "check_compose_file",
    "compose_binary",
    "compose_binary_or_skip",
    "free_port",
]
