"""SGLang backend for memscreen-llm: an example third-party plugin. It imports nothing:
discovery imports `memscreen_llm_sglang.plugin` through it, and must stay cheap."""
