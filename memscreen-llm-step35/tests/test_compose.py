"""The shipped compose files carry the serving flags Step-3.5-Flash needs (docs/FORMAT.md
section 6), and pass the real Compose v2 binary's `config -q` (provisioned by core's kit).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memscreen_llm_step35
from memscreen_llm.testing import check_compose_file, compose_binary_or_skip

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
        tags = re.findall(r"image: vllm/vllm-openai:v(\d+)\.(\d+)\.(\d+)", path.read_text())
        assert tags, f"{path.name}: vllm image must be pinned to a version tag"
        assert all(tuple(map(int, tag)) > (0, 15, 1) for tag in tags)


@pytest.mark.parametrize("name", FILES)
def test_compose_file_passes_compose_config(name: str) -> None:
    compose_binary_or_skip()
    done = check_compose_file(COMPOSE / name)
    assert done.returncode == 0, f"{name}: {done.stderr}"
