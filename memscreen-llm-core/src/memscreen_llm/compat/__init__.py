"""Drop-in layers for the apps memscreen-llm replaces the LLM layer of.

`memscreen_llm.compat.memscreen`: MemScreen's `LlmFactory`, `EmbedderFactory` and config
shapes, with MemScreen's defaults.
"""
