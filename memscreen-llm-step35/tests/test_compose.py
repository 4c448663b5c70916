"""The shipped compose files carry the serving flags Step-3.5-Flash needs (docs/FORMAT.md
section 6), and pass the real Compose v2 binary's `config -q` (provisioned by core's kit).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import memscreen_llm_step35
from memscreen_llm.testing import check_compose_file, compose_binary_or_skip
from memscreen_llm.testing._compose import CHECK_ENV
from memscreen_llm_vllm.testing import TUNED_HEALTH_ARGS as TUNED

COMPOSE = Path(memscreen_llm_step35.__file__).parent / "compose"
FILES = sorted(path.name for path in COMPOSE.glob("*.yml"))
ALWAYS = ("--reasoning-parser=step3p5", "--tool-call-parser=step3p5", "--enable-auto-tool-choice",
          "--trust-remote-code", "--max-model-len=32768")


def commands(text: str) -> dict[str, list[str]]:
    """service -> its command list, read from the file's `- '...'` lines."""
    out: dict[str, list[str]] = {}
    service = None
    for line in text.splitlines():
        header = re.match(r"^  (step35[\w-]*):$", line)
        if header:
            service = header.group(1)
            out[service] = []
        elif service and (arg := re.match(r"^      - '(.*)'$", line)):
            out[service].append(arg.group(1))
    return out


def test_bf16_file() -> None:
    text = (COMPOSE / "docker-compose.step35flash.yml").read_text()
    services = commands(text)
    assert set(services) == {"step35", "step35-mtp"}
    main = services["step35"]
    assert "--model=stepfun-ai/Step-3.5-Flash" in main
    assert "--tensor-parallel-size=4" in main
    assert all(flag in main for flag in ALWAYS)
    assert not any(arg.startswith("--speculative-config") for arg in main)  # MTP is opt-in
    assert '--speculative-config={"method": "step3p5_mtp", "num_speculative_tokens": 1}' in services["step35-mtp"]
    assert '--hf-overrides={"num_nextn_predict_layers": 1}' in services["step35-mtp"]
    assert '"127.0.0.1:8001:8000"' in text and 'profiles: ["mtp"]' in text
    assert "hf-cache:/root/.cache/huggingface" in text and "start_period: 1800s" in text


def test_fp8_file_uses_data_and_expert_parallelism() -> None:
    text = (COMPOSE / "docker-compose.step35flash.fp8.yml").read_text()
    main = commands(text)["step35"]
    assert "--model=stepfun-ai/Step-3.5-Flash-FP8" in main
    assert {"--data-parallel-size=4", "--enable-expert-parallel"} <= set(main)
    assert not any(arg.startswith("--tensor-parallel-size") for arg in main)
    assert all(flag in main for flag in ALWAYS)
    assert 'VLLM_USE_FLASHINFER_MOE_FP8: "0"' in text


def test_image_is_pinned_newer_than_0_15_1() -> None:
    for path in COMPOSE.glob("*.yml"):
        text = path.read_text()
        tags = re.findall(r"image: vllm/vllm-openai:v(\d+)\.(\d+)\.(\d+)", text)
        router_only = "vllm-router" in text and "vllm/vllm-openai" not in text
        assert tags or router_only, f"{path.name}: vllm image must be pinned to a version tag"
        assert all(tuple(map(int, tag)) > (0, 15, 1) for tag in tags)
        for image in re.findall(r"image: (\S+)", text):
            assert ":" in image and not image.endswith(":latest"), f"{path.name}: {image}"


@pytest.mark.parametrize("name", FILES)
def test_compose_file_passes_compose_config(name: str) -> None:
    compose_binary_or_skip()
    done = check_compose_file(COMPOSE / name)
    assert done.returncode == 0, f"{name}: {done.stderr}"


def _resolved(name: str, **env: str) -> dict:  # type: ignore[type-arg]
    """The file as Compose resolves it (`config --format json`), CHECK_ENV's placeholders
    and `env` set."""
    binary = compose_binary_or_skip()
    done = subprocess.run([str(binary), "-f", str(COMPOSE / name), "config", "--format", "json"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **CHECK_ENV, **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _router_checks(router: dict, workers: list[str]) -> None:  # type: ignore[type-arg]
    command = router["command"]
    assert command[0] == "vllm-router"
    at = command.index("--worker-urls")
    assert command[at + 1: at + 1 + len(workers)] == workers
    assert command[command.index("--policy") + 1] == "consistent_hash"  # affinity, not cache_aware
    for flag, value in zip(TUNED[::2], TUNED[1::2], strict=True):
        assert command[command.index(flag) + 1] == value, flag
    assert command[-2:] == ["--api-key", CHECK_ENV["VLLM_API_KEY"]]  # the workers' key
    ports = {(p["host_ip"], p["published"], p["target"]) for p in router["ports"]}
    assert ("127.0.0.1", "8001", 8000) in ports  # the preset's base_url, loopback only
    assert all(host == "127.0.0.1" for host, _, _ in ports)
    assert "vllm-router==0.1.17" in router["build"]["dockerfile_inline"]


def test_two_replicas_on_one_box_behind_the_router() -> None:
    services = _resolved("docker-compose.step35flash.replicas.yml")["services"]
    assert set(services) == {"step35-0", "step35-1", "router"}
    gpus = []
    for name in ("step35-0", "step35-1"):
        replica = services[name]
        assert all(flag in replica["command"] for flag in ALWAYS)
        assert "--tensor-parallel-size=4" in replica["command"]
        assert "ports" not in replica  # reached through the router only
        gpus.append(replica["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"])
    assert gpus == [["0", "1", "2", "3"], ["4", "5", "6", "7"]]
    _router_checks(services["router"], ["http://step35-0:8000", "http://step35-1:8000"])


def test_the_multihost_router_takes_its_workers_from_env() -> None:
    urls = "http://10.1.0.5:8001 http://10.1.0.6:8001 http://10.1.0.7:8001"
    services = _resolved("docker-compose.step35flash.multihost.yml", WORKER_URLS=urls)["services"]
    assert set(services) == {"router"}
    _router_checks(services["router"], urls.split())
    binary = compose_binary_or_skip()
    unset = {k: v for k, v in {**os.environ, **CHECK_ENV}.items() if k != "WORKER_URLS"}
    done = subprocess.run([str(binary), "-f", str(COMPOSE / "docker-compose.step35flash.multihost.yml"),
                           "config", "-q"], capture_output=True, text=True, env=unset, check=False)
    assert done.returncode != 0 and "set WORKER_URLS" in done.stderr


def test_a_worker_host_publishes_its_replica_on_its_private_address_only() -> None:
    services = _resolved("docker-compose.step35flash.worker.yml", WORKER_BIND="10.1.0.5")["services"]
    worker = services["step35"]
    assert [(p["host_ip"], p["published"]) for p in worker["ports"]] == [("10.1.0.5", "8001")]
    assert all(flag in worker["command"] for flag in ALWAYS)
    assert worker["environment"]["VLLM_API_KEY"] == CHECK_ENV["VLLM_API_KEY"]
