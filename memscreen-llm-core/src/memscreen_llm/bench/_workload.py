"""What a benchmark sends: the prompts, the per-call options, how many and how hard."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# Common English words: nearly every one is a single token for the usual BPE tokenizers
# (with its leading space), so N of them make a prompt of about N tokens.
_TEXT = (
    "the screen shows a window with text and an editor next to two browser tabs one "
    "has mail the other a map of the city there is a terminal at the bottom where a "
    "build runs while music plays in the background and a chat app blinks with new "
    "messages from work about the meeting on friday at noon in the big room near the "
    "door someone shared a file with notes on the plan for next week and a list of "
    "tasks to finish before the end of the month"
)
_WORDS = tuple(_TEXT.split())

SYNTHETIC_PREFIX = "Continue this text:"


@dataclass(frozen=True)
class Workload:
    """The requests of a run, the same for every backend.

    `prompt` is sent as it is by every request; else each request gets its own synthetic
    prompt of about `prompt_tokens` words (seeded, so every backend gets the same ones
    and no two requests share a prefix an engine could cache). `requests` per level, or
    else `duration` seconds per level; `warmup` requests per backend before measuring.
    """

    concurrency: tuple[int, ...] = (1,)
    requests: int | None = 16
    duration: float | None = None
    prompt: str | None = None
    prompt_tokens: int = 64
    max_tokens: int = 64
    stream: bool = True
    warmup: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise ValueError("every concurrency must be at least 1")
        if (self.requests is None) == (self.duration is None):
            raise ValueError("give requests or duration, not both")
        if self.requests is not None and self.requests < 1:
            raise ValueError("requests must be at least 1")
        if self.duration is not None and not self.duration > 0:
            raise ValueError("duration must be more than 0 seconds")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("the prompt is empty")
        if self.prompt_tokens < 1 or self.max_tokens < 1 or self.warmup < 0:
            raise ValueError("prompt_tokens and max_tokens must be at least 1, warmup >= 0")

    def prompt_text(self, index: int) -> str:
        """The prompt of request number `index` (warm-ups use negative numbers)."""
        if self.prompt is not None:
            return self.prompt
        rng = random.Random(f"{self.seed or 0}:{index}")
        words = rng.choices(_WORDS, k=self.prompt_tokens)
        return f"{SYNTHETIC_PREFIX} {' '.join(words)}"

    def messages(self, index: int) -> list[dict[str, Any]]:
        return [{"role": "user", "content": self.prompt_text(index)}]

    def options(self) -> dict[str, Any]:
        """The per-call options of every request (the config supplies the rest)."""
        options: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.seed is not None:
            options["seed"] = self.seed
        return options

    def describe(self) -> dict[str, Any]:
        """The workload as the JSON report shows it (a given prompt by its length only)."""
        prompt: dict[str, Any] = (
            {"kind": "given", "chars": len(self.prompt)} if self.prompt is not None
            else {"kind": "synthetic", "words": self.prompt_tokens})
        return {
            "concurrency": list(self.concurrency), "requests": self.requests,
            "duration_s": self.duration, "prompt": prompt, "max_tokens": self.max_tokens,
            "stream": self.stream, "warmup": self.warmup, "seed": self.seed,
        }
