"""SGLang backend for memscreen-llm: an example third-party plugin.

Importing this package imports neither openai nor httpx: discovery stays cheap.
"""

from .config import DEFAULT_BASE_URL, SglangConfig

__all__ = ["DEFAULT_BASE_URL", "SglangConfig"]
