"""The replicas-behind-the-router compose variant, as the real Compose v2 binary resolves
it: one GPU per replica, only the router published (on loopback), the health-check flags
the router kit uses, the pinned router wheel. (Every variant's `config -q`: the contract.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import memscreen_llm_vllm
from memscreen_llm.testing import compose_binary_or_skip
from memscreen_llm.testing._compose import CHECK_ENV
from memscreen_llm_vllm.testing import ROUTER_PIN, TUNED_HEALTH_ARGS

FILE = Path(memscreen_llm_vllm.__file__).parent / "compose" / "docker-compose.vllm.router.yml"


def _resolved(*args: str, **env: str) -> dict[str, Any]:
    binary = compose_binary_or_skip()
    done = subprocess.run([str(binary), "-f", str(FILE), *args, "config", "--format", "json"],
                          capture_output=True, text=True, check=False,
                          env={**_without_worker_urls(), **env})
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = json.loads(done.stdout)["services"]
    return services


def _without_worker_urls() -> dict[str, str]:
    """The check's environment, WORKER_URLS unset: the file's default worker list."""
    return {k: v for k, v in {**os.environ, **CHECK_ENV}.items() if k != "WORKER_URLS"}


def _value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_two_replicas_one_gpu_each_and_only_the_router_published() -> None:
    services = _resolved()
    assert set(services) == {"vllm-0", "vllm-1", "router"}
    for number in (0, 1):
        replica = services[f"vllm-{number}"]
        assert replica["image"].startswith("vllm/vllm-openai:v")
        assert replica["command"][:2] == ["--model", CHECK_ENV["MODEL"]]
        devices = replica["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"capabilities": ["gpu"], "driver": "nvidia",
                            "device_ids": [str(number)]}]
        assert "ports" not in replica
    router = services["router"]
    command = router["command"]
    assert _value(command, "--policy") == "consistent_hash"
    at = command.index("--worker-urls")
    assert command[at + 1:at + 3] == ["http://vllm-0:8000", "http://vllm-1:8000"]
    for flag, value in zip(TUNED_HEALTH_ARGS[::2], TUNED_HEALTH_ARGS[1::2], strict=True):
        assert _value(command, flag) == value, flag
    assert _value(command, "--api-key") == CHECK_ENV["VLLM_API_KEY"]  # sent to the workers
    assert {(p["host_ip"], p["published"]) for p in router["ports"]} == {
        ("127.0.0.1", "8000"), ("127.0.0.1", "29000")}
    assert ROUTER_PIN in router["build"]["dockerfile_inline"]


def test_the_4gpu_profile_and_the_worker_list_from_env() -> None:
    urls = " ".join(f"http://vllm-{n}:8000" for n in range(4))
    services = _resolved("--profile", "4gpu", WORKER_URLS=urls, ROUTER_POLICY="sticky_least_loaded",
                         VLLM_API_KEY="")
    assert {"vllm-2", "vllm-3"} <= set(services)
    command = services["router"]["command"]
    at = command.index("--worker-urls")
    assert command[at + 1:at + 5] == urls.split()
    assert _value(command, "--policy") == "sticky_least_loaded"
    assert "--api-key" not in command  # no key: no flag
