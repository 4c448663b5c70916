"""Run every usage example against local engines started here: what `nox -s examples` runs.

1. Provisions and starts, on 127.0.0.1, the same real engines the plugins' tests use
   (their test kits, memscreen_llm_ollama.testing and memscreen_llm_vllm.testing):
   Ollama 0.9.3 (CPU build) and a vLLM CPU server, each serving a tiny random-weight
   model built on the spot (cached), and tiny vision models for describe_screenshot.py.
2. Runs each script as a user would, with the environment a user would set
   (MEMSCREEN_LLM_BACKEND, MEMSCREEN_OLLAMA_URL, MEMSCREEN_VLLM_URL, ...), and stops
   at the first that fails.
3. Stops the vLLM server, then runs offline_batch_vllm.py with the vLLM engine's own
   Python (vLLM lives in a venv of its own), after installing core and the vLLM plugin
   from this checkout there (editable, no dependencies).
4. Stops every engine it started, whatever happened.

The tiny models' words are gibberish; every call is real.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from memscreen_llm.testing import png
from memscreen_llm_ollama import testing as ollama_kit
from memscreen_llm_vllm import testing as vllm_kit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OFFLINE_DISTS = (ROOT / "memscreen-llm-core", ROOT / "memscreen-llm-vllm")


def say(text: str) -> None:
    print(f"\n{'=' * 8} {text}", flush=True)


def log(line: str) -> None:
    print(f"  {line}", flush=True)


@contextlib.contextmanager
def ollama_server() -> Iterator[str]:
    engine = ollama_kit.provision(log=log)
    server = ollama_kit.OllamaServer(engine)
    server.start()
    try:
        server.create_model("tiny")
        ollama_kit.ensure_vision_model(server, log=log)
        log(f"Ollama {engine.version} serving 'tiny' and {ollama_kit.VISION_MODEL!r} at "
            f"{server.base_url} (pid {server.pid})")
        yield str(server.base_url)
    finally:
        server.stop()
        log("Ollama stopped")


@contextlib.contextmanager
def vllm_server(engine: vllm_kit.Engine, vision: bool = False) -> Iterator[str]:
    logs = tempfile.TemporaryDirectory(prefix="examples-vllm-")
    if vision:  # the tiny vision-language model, at most 2 images a prompt
        server = vllm_kit.VllmServer(engine, extra_args=vllm_kit.VLM_SERVER_ARGS,
                                    model_dir=vllm_kit.tiny_vlm(engine, log=log),
                                    served_model_name=vllm_kit.TINY_VLM_NAME,
                                    log_path=Path(logs.name) / "server.log")
    else:
        server = vllm_kit.VllmServer(engine, served_model_name="tiny",
                                    log_path=Path(logs.name) / "server.log")
    started = time.monotonic()
    try:
        server.start()  # on failure the error holds the end of the server's log
        log(f"vLLM {engine.vllm_version} serving {server.served_model_name!r} at {server.base_url} "
            f"(up in {time.monotonic() - started:.0f} s)")
        yield str(server.base_url)
    finally:
        server.stop()
        logs.cleanup()
        log("vLLM server stopped")


def run(script: str, env: Mapping[str, str], python: str = sys.executable,
        args: tuple[str, ...] = ()) -> None:
    backend = env.get("MEMSCREEN_LLM_BACKEND")
    prefix = f"MEMSCREEN_LLM_BACKEND={backend} " if backend else ""
    say(f"{prefix}python examples/{script} {' '.join(args)}".strip())
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSCREEN_")}
    full_env.update(env)
    with tempfile.TemporaryDirectory() as cwd:  # no stray memscreen-llm.toml is picked up
        done = subprocess.run([python, str(HERE / script), *args], env=full_env, cwd=cwd,
                              timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"examples/{script} failed with exit code {done.returncode}")


def install_into_engine_venv(python: str) -> None:
    probe = ("import memscreen_llm, memscreen_llm_vllm, pluggy; "
             "print(memscreen_llm.__file__); print(memscreen_llm_vllm.__file__)")
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    paths = out.stdout.split()
    if out.returncode == 0 and len(paths) == 2 and all(
            path.startswith(str(dist)) for path, dist in zip(paths, OFFLINE_DISTS, strict=True)):
        return  # already there (the vLLM plugin's offline tests install the same)
    command = [python, "-m", "pip", "install", "--quiet", "--no-input", "--no-deps"]
    for dist in OFFLINE_DISTS:
        command += ["-e", str(dist)]
    subprocess.run([*command, "pluggy>=1.5"], check=True)


def main() -> int:
    say("installed backends")
    subprocess.run([sys.executable, "-m", "memscreen_llm.cli", "backends"], check=True)
    say("provisioning the local engines (cached after the first run)")
    vllm = vllm_kit.provision(log=log)
    with ollama_server() as ollama_url:
        base = {"MEMSCREEN_OLLAMA_URL": ollama_url, "MEMSCREEN_LLM_MODEL": "tiny"}
        run("stream_reasoning.py", {**base, "MEMSCREEN_LLM_BACKEND": "ollama"})
        run("tool_calling.py", {**base, "MEMSCREEN_LLM_BACKEND": "ollama",
                                "MEMSCREEN_EXAMPLES_TINY_MODEL": "1"})
        with vllm_server(vllm) as vllm_url:
            base["MEMSCREEN_VLLM_URL"] = vllm_url
            run("select_by_config.py", base, args=("vllm",))
            for backend in ("ollama", "vllm"):  # the same code, two engines
                run("switch_backends.py", {**base, "MEMSCREEN_LLM_BACKEND": backend})
        with vllm_server(vllm, vision=True) as vlm_url, tempfile.TemporaryDirectory() as tmp:
            shot = Path(tmp) / "screen.png"
            shot.write_bytes(png(320, 200, (40, 90, 200)))
            seeing = {"MEMSCREEN_OLLAMA_URL": ollama_url, "MEMSCREEN_VLLM_URL": vlm_url,
                      "MEMSCREEN_OLLAMA_MODEL": ollama_kit.VISION_MODEL,
                      "MEMSCREEN_VLLM_MODEL": vllm_kit.TINY_VLM_NAME}
            for backend in ("ollama", "vllm"):  # the same screenshot code, two engines
                run("describe_screenshot.py", {**seeing, "MEMSCREEN_LLM_BACKEND": backend},
                    args=(str(shot),))
    say("installing core and the vLLM plugin into the vLLM engine's venv")
    install_into_engine_venv(str(vllm.python))
    offline = {**vllm.env, "MEMSCREEN_VLLM_MODEL": str(vllm.model_dir),
               "MEMSCREEN_VLLM_DTYPE": "float32", "MEMSCREEN_VLLM_ENFORCE_EAGER": "true",
               "MEMSCREEN_VLLM_MAX_MODEL_LEN": "1024", "VLLM_LOGGING_LEVEL": "WARNING"}
    run("offline_batch_vllm.py", offline, python=str(vllm.python))
    say("all examples ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
