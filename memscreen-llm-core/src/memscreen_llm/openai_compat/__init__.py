"""A kit for backends whose engine speaks OpenAI's chat-completions API (vLLM, SGLang,
llama.cpp's server, LM Studio, TGI, ...), over the official `openai` client.

    from memscreen_llm.openai_compat import OpenAICompatLLM

    class MyLLM(OpenAICompatLLM):
        engine = "My engine"

That is a whole backend: chat, streaming, asyncio, tools (fragments gathered into whole
calls), reasoning (from `reasoning` or `reasoning_content`), JSON output, embeddings,
usage, typed errors, and client-side parsers for the config's `reasoning_parser` /
`tool_parser`. The pieces are public for backends that need other shapes:
`chat_params` (request building), `read_completion` and `StreamReader` (reading),
`translate` (errors). Importing this module imports `openai`: a plugin imports it from
its backend module, never from its entry point (discovery must stay SDK-free).
Needs `pip install memscreen-llm-core[openai]`.
"""

from ._backend import Call, Create, ListModels, Op, OpenAICompatLLM, Path, Post, ServedModel
from ._errors import CLIENT_ERRORS, is_unknown_model, server_message, translate
from ._params import (
    CALL_OPTIONS,
    OPTION_ALIASES,
    chat_params,
    merged,
    setting,
    stop_list,
    tokenize_body,
    wire_messages,
)
from ._reading import (
    StreamReader,
    finish_reason,
    read_completion,
    reasoning_of,
    server_reasons,
    usage_of,
)

__all__ = [
    "CALL_OPTIONS",
    "CLIENT_ERRORS",
    "OPTION_ALIASES",
    "Call",
    "Create",
    "ListModels",
    "Op",
    "OpenAICompatLLM",
    "Path",
    "Post",
    "ServedModel",
    "StreamReader",
    "chat_params",
    "finish_reason",
    "is_unknown_model",
    "merged",
    "read_completion",
    "reasoning_of",
    "server_message",
    "server_reasons",
    "setting",
    "stop_list",
    "tokenize_body",
    "translate",
    "usage_of",
    "wire_messages",
]
