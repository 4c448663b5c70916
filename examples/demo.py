"""The main job, end to end: discover backends, check one, chat with it.

Until a first-party engine plugin is installed this lists the backends and says what
to install; with memscreen-llm-ollama present it drives a real local Ollama.
"""

from __future__ import annotations

import subprocess
import sys


def cli(*args: str) -> int:
    print(f"\n$ memscreen-llm {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "memscreen_llm.cli", *args]).returncode


def main() -> int:
    cli("backends")
    import memscreen_llm

    if not memscreen_llm.available_backends():
        print("\nNo engine backend is installed yet: pip install memscreen-llm-ollama")
    return 0


if __name__ == "__main__":
    sys.exit(main())
