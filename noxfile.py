"""Per-distribution test sessions, lint, types, compose checks, the demo and the benchmarks.

Every test session gets a virtualenv holding one package and what it depends on, which
proves each distribution installs and works on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")  # use the machine's Python, never fetch one

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "lint", "typecheck", "tests", "integration", "compose", "wheels", "examples", "demo",
]
nox.options.error_on_missing_interpreters = True

# package id -> the local distributions its test venv needs, itself last.
STACKS = {
    "core": ["memscreen-llm-core"],
    "ollama": ["memscreen-llm-core", "memscreen-llm-ollama"],
    "vllm": ["memscreen-llm-core", "memscreen-llm-vllm"],
    "step35": ["memscreen-llm-core", "memscreen-llm-vllm", "memscreen-llm-step35"],
    # The example third-party plugin: tested like the others, but not a first-party dist.
    # vllm: its test kit (memscreen_llm_vllm.testing) runs the real vLLM stand-in server.
    "sglang": ["memscreen-llm-core", "memscreen-llm-vllm", "examples/memscreen-llm-sglang"],
}
PACKAGES = [
    name for name, stack in STACKS.items() if (ROOT / stack[-1] / "pyproject.toml").is_file()
]
# The first-party distributions (folders); the example plugins live under examples/.
ALL_DISTS = [STACKS[name][-1] for name in PACKAGES if not STACKS[name][-1].startswith("examples/")]
EXAMPLE_DISTS = [STACKS[name][-1] for name in PACKAGES if STACKS[name][-1].startswith("examples/")]


def _install_editable(session: nox.Session, dists: list[str], extra: str | None = None) -> None:
    args: list[str] = []
    for index, dist in enumerate(dists):
        with_extra = extra and index == len(dists) - 1
        args += ["-e", f"{dist}[{extra}]" if with_extra else dist]
    session.install(*args)


@nox.session
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Run one distribution's tests in a venv with only it and its dependencies."""
    stack = STACKS[package]
    _install_editable(session, stack, extra="test")
    session.chdir(ROOT / stack[-1])
    session.run("pytest", "tests", "-q", "-rs", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Tests across backends (memscreen-llm-core/tests_integration: core's fallback chains,
    on engines from two plugins' kits): a fallback chain vLLM -> Ollama on both
    real engines. They need both plugins in one venv, which no `tests(...)` venv may hold
    (each holds one distribution and its dependencies), so they get a session of their own."""
    session.install("-e", "memscreen-llm-core[testing]", "-e", "memscreen-llm-vllm[testing]",
                    "-e", "memscreen-llm-ollama[testing]", "pytest>=8")
    session.chdir(ROOT / "memscreen-llm-core")
    session.run("pytest", "tests_integration", "-q", "-rs", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every distribution, the examples and the benchmarks."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy: strict on core, the plugins against it."""
    _install_editable(session, [*ALL_DISTS, *EXAMPLE_DISTS])
    session.install("mypy", "pytest", "opentelemetry-api>=1.27", "matplotlib>=3.7",
                    "Pillow>=10")  # core's extras
    session.run("mypy", "--strict", "memscreen-llm-core/src")
    for name in PACKAGES[1:]:
        session.run("mypy", f"{STACKS[name][-1]}/src")


@nox.session
def compose(session: nox.Session) -> None:
    """Check every shipped compose file with the real Compose v2 binary."""
    # The checker is a script over core's kit helper, which provisions the binary itself.
    session.install(f"{ROOT / 'memscreen-llm-core'}[testing]")
    session.run("python", str(ROOT / ".ci" / "compose_check.py"))


@nox.session
def wheels(session: nox.Session) -> None:
    """Build sdists and wheels of every distribution, check them, test the installed wheels."""
    session.install("twine", "uv==0.13.9")  # the build and install front end is uv's
    session.run("python", str(ROOT / ".ci" / "check_wheels.py"), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: CLI startup against bare Python, and the backends against raw clients."""
    _install_editable(session, ALL_DISTS)
    session.install("pytest>=8")  # the engine kits (memscreen_llm_*.testing) need core's kit
    session.install("opentelemetry-sdk>=1.27")  # bench_otel.py: the SDK and in-memory exporter
    session.install("Pillow>=10")  # bench_images.py: core's [vision] extra
    session.run("python", "benchmarks/bench_startup.py", *session.posargs)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        if script.name != "bench_startup.py":
            session.run("python", str(script))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the plugin system end to end against a local engine."""
    _install_editable(session, ALL_DISTS)
    session.install("pytest>=8")  # the engine kit (memscreen_llm_ollama.testing) needs core's kit
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """The usage examples in examples/, run against local Ollama and vLLM engines it starts."""
    _install_editable(session, [*ALL_DISTS, *EXAMPLE_DISTS])
    session.install("pytest>=8")  # the engine kits (memscreen_llm_*.testing) need core's kit
    # With every plugin installed, discovery must still import no engine SDK.
    session.run("python", "benchmarks/bench_startup.py", "--check-imports")
    session.run("python", "examples/run_examples.py", *session.posargs)
