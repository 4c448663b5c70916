"""Ollama backend for memscreen-llm. Importing this package does not import the ollama SDK."""

from .config import DEFAULT_MODEL, OllamaConfig

__all__ = ["DEFAULT_MODEL", "OllamaConfig"]
