"""Select a backend by a config file instead of in code.

    python examples/select_by_config.py [BACKEND]      # BACKEND defaults to vllm

The code that uses the LLM calls `create_llm()` with no backend name, as MemScreen's code
would. Which engine it gets, and with which settings, comes from `memscreen-llm.toml` in
the working folder (or the file named by MEMSCREEN_LLM_CONFIG / `config_file=`). Values
are layered, highest first: arguments in code > environment (MEMSCREEN_VLLM_URL, ...) >
the file > defaults; MEMSCREEN_LLM_BACKEND, if set, also beats the file's backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from memscreen_llm import create_llm

CONFIG = """\
[llm]
backend = "{backend}"   # the engine: switch it here, not in code

[llm.{backend}]
temperature = 0.0    # that backend's settings, checked when it is created
max_tokens = 24
"""


def main() -> int:
    backend = sys.argv[1] if len(sys.argv) > 1 else "vllm"
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # ./memscreen-llm.toml is where create_llm() looks by default
        Path("memscreen-llm.toml").write_text(CONFIG.format(backend=backend), encoding="utf-8")
        print(f"--- {Path(folder) / 'memscreen-llm.toml'}\n{CONFIG.format(backend=backend)}")

        # What the library will resolve, value by value, with the source of each.
        print("--- memscreen-llm config show")
        subprocess.run([sys.executable, "-m", "memscreen_llm.cli", "config", "show"], check=True)

        llm = create_llm()  # no backend name here: the file chose it
        result = llm.chat([{"role": "user", "content": "What did I work on this morning?"}])
        print(f"\n--- create_llm() -> backend {llm.backend_name!r}, model {result.model!r}")
        print(f"answer ({result.finish_reason}): {result.content!r}")
        llm.close()
        os.chdir(previous)  # leave the folder before it is removed
    return 0


if __name__ == "__main__":
    sys.exit(main())
