"""Build every distribution's sdist and wheel, check them, and test what users install.

1. `uv build` (a standard PEP 517 front end) makes an sdist and a wheel of each
   distribution, the example plugins included; `twine check --strict` checks their
   metadata; each sdist is unpacked and must build a wheel on its own, with the same files
   as the wheel built from the tree.
2. The wheels (not the source tree, not editable) are installed with one command into a
   fresh virtualenv, and from a folder outside the repository:
   - every package imports from that venv's site-packages and ships `py.typed`;
   - `memscreen-llm --version` and `memscreen-llm backends --json` list every plugin, ok;
   - `memscreen-llm compose NAME [--variant V] --path` gives a file inside site-packages
     for every shipped compose file, and each passes the real Compose v2 binary's
     `config -q` (the binary and the values of required variables come from the installed
     core's kit, memscreen_llm.testing._compose, as the compose tests use them);
   - `memscreen-llm parse step3p5` on golden cases gives the expected result.

    python .ci/check_wheels.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# folder -> import package; the example plugin is built and installed like the others.
DISTS = {
    "memscreen-llm-core": "memscreen_llm",
    "memscreen-llm-ollama": "memscreen_llm_ollama",
    "memscreen-llm-vllm": "memscreen_llm_vllm",
    "memscreen-llm-step35": "memscreen_llm_step35",
    "examples/memscreen-llm-sglang": "memscreen_llm_sglang",
}
PLUGINS = {"ollama", "vllm", "step35", "sglang"}
CASES = ROOT / "memscreen-llm-step35" / "tests" / "data" / "cases.json"
PARSE_CASES = ("single-call", "parallel-calls", "typed-values", "plain-reasoning-content")

failures: list[str] = []


def log(message: str) -> None:
    print(message, flush=True)


def check(ok: bool, what: str, detail: str = "") -> bool:
    log(f"{'ok' if ok else 'FAIL':<5} {what}")
    if not ok:
        failures.append(what)
        if detail:
            log("      " + detail.strip().replace("\n", "\n      "))
    return ok


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    return done


def must(args: list[str | Path], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = run(args, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"FAIL  {what}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def uv() -> list[str]:
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("FAIL  no uv: install it (pip install uv) to build and install")
    return [found]


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if ".dist-info/" not in name}


def build_all(out: Path) -> list[Path]:
    """sdists and wheels of every distribution; each sdist builds the same wheel alone."""
    log("== build: sdist and wheel of every distribution (uv build), metadata (twine check)")
    wheels: list[Path] = []
    for folder in DISTS:
        target = out / Path(folder).name
        must([*uv(), "build", "--quiet", "--sdist", "--wheel", "--out-dir", target, ROOT / folder],
             f"uv build {folder}")
        sdists = sorted(target.glob("*.tar.gz"))
        built = sorted(target.glob("*.whl"))
        if not check(len(sdists) == 1 and len(built) == 1, f"{folder}: one sdist, one wheel",
                     f"got {[p.name for p in [*sdists, *built]]}"):
            continue
        sdist, wheel = sdists[0], built[0]
        wheels.append(wheel)
        unpacked = out / "unpacked" / Path(folder).name
        unpacked.mkdir(parents=True)
        with tarfile.open(sdist) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(unpacked, filter="data")
            else:  # Python before 3.10.12 / 3.11.4: our own archive, built a moment ago
                archive.extractall(unpacked)
        (source,) = unpacked.iterdir()
        again = out / "from-sdist" / Path(folder).name
        done = run([*uv(), "build", "--quiet", "--wheel", "--out-dir", again, source])
        rebuilt = sorted(again.glob("*.whl"))
        if check(done.returncode == 0 and len(rebuilt) == 1,
                 f"{folder}: the unpacked sdist {sdist.name} builds a wheel on its own",
                 done.stderr):
            check(rebuilt[0].name == wheel.name
                  and wheel_files(rebuilt[0]) == wheel_files(wheel),
                  f"{folder}: that wheel holds the same files as the one built from the tree",
                  f"{sorted(wheel_files(rebuilt[0]) ^ wheel_files(wheel))}")
        twine = run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel])
        check(twine.returncode == 0, f"{folder}: twine check --strict {sdist.name} {wheel.name}",
              twine.stdout + twine.stderr)
    return wheels


def site_packages(python: Path) -> Path:
    done = must([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                "site-packages of the fresh venv")
    return Path(done.stdout.strip()).resolve()


def load_kit_compose(site: Path) -> ModuleType:
    """The installed core's compose helper (stdlib only), loaded by path into this process."""
    path = site / "memscreen_llm" / "testing" / "_compose.py"
    spec = importlib.util.spec_from_file_location("installed_kit_compose", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_installed(venv: Path, work: Path) -> None:
    python = venv / "bin" / "python"
    cli = venv / "bin" / "memscreen-llm"
    site = site_packages(python)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MEMSCREEN_", "PYTHONPATH", "VIRTUAL_ENV"))}
    cwd = work / "elsewhere"  # nothing of the repository on the path
    cwd.mkdir()

    def in_venv(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(list(args), cwd=cwd, env=env, input=stdin, timeout=120)

    log(f"== installed wheels ({site})")
    packages = list(DISTS.values())
    done = in_venv(python, "-c", f"import {', '.join(packages)}, json; print(json.dumps("
                   f"{{m.__name__: m.__file__ for m in ({', '.join(packages)})}}))")
    if check(done.returncode == 0, f"python -c 'import {', '.join(packages)}'", done.stderr):
        files = json.loads(done.stdout)
        for package in packages:
            where = Path(files[package]).resolve()
            check(where.is_relative_to(site), f"{package} imports from site-packages", str(where))
            check((site / package / "py.typed").is_file(), f"{package}/py.typed is installed")

    done = in_venv(cli, "--version")
    check(done.returncode == 0 and all(f"memscreen-llm-{p} " in done.stdout
                                       for p in ("core", *sorted(PLUGINS))),
          "memscreen-llm --version names core and every plugin", done.stdout + done.stderr)
    if done.returncode == 0:
        log("      " + done.stdout.strip().replace("\n", "\n      "))

    done = in_venv(cli, "backends", "--json")
    entries = json.loads(done.stdout) if done.returncode == 0 else []
    states = {entry["name"]: entry["status"] for entry in entries}
    check(done.returncode == 0 and set(states) >= PLUGINS
          and all(state == "ok" for state in states.values()),
          f"memscreen-llm backends --json: every backend ok {states}", done.stderr)

    check_compose(in_venv, python, cli, site)
    check_parse(in_venv, cli, work)


def check_compose(in_venv: Any, python: Path, cli: Path, site: Path) -> None:
    log("== compose files from the installed packages, checked with the real Compose v2")
    kit = load_kit_compose(site)
    try:
        binary = kit.compose_binary()
    except kit.ComposeUnavailable as exc:
        check(False, "Compose v2 binary provisioned by the installed kit", exc.reason)
        return
    log(f"      Compose binary {binary}, variables {dict(kit.CHECK_ENV)}")
    done = in_venv(python, "-c", "import json; from memscreen_llm import get_registry; "
                   "print(json.dumps({b.name: sorted(b.spec.compose_files) "
                   "for b in get_registry().backends.values()}))")
    if not check(done.returncode == 0, "read every backend's compose variants", done.stderr):
        return
    variants: dict[str, list[str]] = json.loads(done.stdout)
    seen: set[Path] = set()
    for name, names in sorted(variants.items()):
        for variant in names:
            flags = [] if variant == "default" else ["--variant", variant]
            shown = f"memscreen-llm compose {name} {' '.join(flags)} --path".replace("  ", " ")
            done = in_venv(cli, "compose", name, *flags, "--path")
            path = Path(done.stdout.strip()).resolve() if done.returncode == 0 else None
            if not check(path is not None and path.is_file() and path.is_relative_to(site),
                         f"{shown} -> {path}", done.stderr):
                continue
            assert path is not None
            seen.add(path)
            result = kit.check_compose_file(path)
            check(result.returncode == 0, f"  docker-compose -f {path.name} config -q",
                  result.stderr)
    shipped = {p.resolve() for package in DISTS.values()
               for p in (site / package / "compose").glob("*.yml")}
    check(shipped <= seen, f"every installed compose file ({len(shipped)}) is reachable "
          "through `memscreen-llm compose`", f"unreachable: {sorted(map(str, shipped - seen))}")


def check_parse(in_venv: Any, cli: Path, work: Path) -> None:
    log("== memscreen-llm parse step3p5 on golden cases")
    cases = {case["id"]: case for case in json.loads(CASES.read_text("utf-8"))["cases"]}
    for case_id in PARSE_CASES:
        case = cases[case_id]
        tools = work / f"tools-{case_id}.json"
        tools.write_text(json.dumps(case.get("tools") or []), encoding="utf-8")
        for extra in ([], ["--chunk-size", "3"]):
            done = in_venv(cli, "parse", "step3p5", "--tools", tools, *extra,
                           stdin=case["text"])
            got: Any = None
            if done.returncode == 0:
                out = json.loads(done.stdout)
                got = (out["reasoning"], out["content"],
                       [(c["name"], json.loads(c["arguments"])) for c in out["tool_calls"]])
            want = (case["reasoning"], case["content"],
                    [(c["name"], c["arguments"]) for c in case["tool_calls"]])
            check(got == want, f"parse step3p5 {' '.join(extra)} < {case_id}".replace("  ", " "),
                  f"got {got}\nwant {want}\n{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build and install in DIR, and keep it")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="memscreen-wheels-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        if args.keep:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        wheels = build_all(work / "dist")
        if len(wheels) != len(DISTS):
            log("FAIL  not every distribution built a wheel; not installing")
            return 1
        venv = work / "venv"
        log(f"== fresh venv {venv}: the wheels only, in one command")
        must([*uv(), "venv", "--quiet", "--python", sys.executable, venv], "uv venv")
        must([*uv(), "pip", "install", "--quiet", "--python", venv / "bin" / "python",
              "--find-links", work / "dist" / "memscreen-llm-core", *wheels],
             "install the wheels")
        check_installed(venv, work)
    seconds = time.monotonic() - started
    if failures:
        log(f"\n{len(failures)} check(s) FAILED in {seconds:.0f} s:")
        for failure in failures:
            log(f"  - {failure}")
        return 1
    log(f"\nwheels: every check passed in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
