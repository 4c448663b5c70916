"""Entry point of the `step35` preset: a backend extending `vllm`, and the `step3p5` parsers."""

from __future__ import annotations

from collections.abc import Callable

from memscreen_llm import BackendSpec, ParserSpec, hookimpl

from .preset import PRESET


@hookimpl
def supported_api() -> str:
    return ">=1.0,<2"


@hookimpl
def register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        name="step35",
        aliases=("step-3.5-flash", "step3p5"),
        extends="vllm",  # factory inherited: the vLLM backend does the work
        config_class="memscreen_llm_step35.config:Step35Config",
        defaults=PRESET,
        description="Step-3.5-Flash on vLLM: step3p5 reasoning/tool parsers, 32k context",
        compose_files={
            "default": "memscreen_llm_step35:compose/docker-compose.step35flash.yml",
            "fp8": "memscreen_llm_step35:compose/docker-compose.step35flash.fp8.yml",
            # scaling out behind vllm-router (docs/SCALING.md): two replicas on one 8-GPU
            # box; or the router alone (multihost) and one replica per 4-GPU host (worker)
            "replicas": "memscreen_llm_step35:compose/docker-compose.step35flash.replicas.yml",
            "multihost": "memscreen_llm_step35:compose/docker-compose.step35flash.multihost.yml",
            "worker": "memscreen_llm_step35:compose/docker-compose.step35flash.worker.yml",
        },
    ))


@hookimpl
def register_parsers(register: Callable[[ParserSpec], None]) -> None:
    register(ParserSpec(
        name="step3p5",
        reasoning="memscreen_llm_step35.parsers.reasoning:Step3p5ReasoningParser",
        tool_calls="memscreen_llm_step35.parsers.tool_calls:Step3p5ToolCallParser",
        description="Step-3.5-Flash: reasoning before </think>, <tool_call> XML-style calls",
    ))
