"""Run INSIDE the engine venv (vllm installed) by test_offline.py: offline mode end to end.

    <engine python> offline_check.py MODEL_DIR  ->  a line "RESULT {json}" on stdout
"""

from __future__ import annotations

import json
import sys

from memscreen_llm import CapabilityError, ContextLengthError, VisionUnsupportedError, create_llm


def main(model_dir: str) -> None:
    request = json.loads(sys.stdin.read())
    messages, tools, forced = request["messages"], request["tools"], request["forced"]
    llm = create_llm("vllm", mode="offline", model=model_dir, dtype="float32",
                     enforce_eager=True, max_model_len=1024, temperature=0.0, max_tokens=24,
                     reasoning_parser="test-think", tool_parser="test-calls")
    plain = create_llm("vllm", mode="offline", model=model_dir, temperature=0.0, max_tokens=24)
    out: dict[str, object] = {"class": type(llm).__name__}
    # Share one engine: a second vllm.LLM would load the model again.
    plain._engine = llm.engine()  # type: ignore[attr-defined]
    result = plain.chat(messages)
    out["text"] = result.content
    out["finish_reason"] = result.finish_reason
    out["usage"] = [result.usage.prompt_tokens, result.usage.completion_tokens]  # type: ignore[union-attr]
    batch = plain.chat_batch([messages, messages[-1:]])  # type: ignore[attr-defined]
    out["batch"] = [r.content for r in batch]
    out["batch_alone"] = plain.chat(messages[-1:]).content
    call = llm.chat(messages, tools=tools, max_tokens=200,
                    structured_outputs={"regex": forced})
    out["call"] = {"reasoning": call.reasoning, "content": call.content,
                   "finish_reason": call.finish_reason,
                   "tool_calls": [[c.name, c.parsed_arguments()] for c in call.tool_calls]}
    history = [*messages, call.to_message(),
               {"role": "tool", "tool_call_id": call.tool_calls[0].id, "content": "sunny"}]
    out["after_tool"] = llm.chat(history, tools=tools).finish_reason
    out["json"] = plain.chat(messages, max_tokens=40, **request["json_options"], response_format={
        "type": "json_schema", "json_schema": {"name": "a", "schema": request["schema"]}}).content
    try:
        plain.stream(messages)
    except CapabilityError as exc:
        out["stream_error"] = str(exc)
    try:
        plain.chat([{"role": "user", "content": "hello " * 1200}])
    except ContextLengthError as exc:
        out["context"] = [exc.prompt_tokens, exc.max_context]
    clamped = plain.chat([{"role": "user", "content": "hello " * 250}], max_tokens=2000,
                         extra_body={"ignore_eos": True})
    out["clamped"] = [clamped.usage.prompt_tokens, clamped.usage.completion_tokens]  # type: ignore[union-attr]
    out["health"] = [[c.name, c.ok] for c in plain.health().checks]
    image = [{"role": "user", "content": "what is this?", "images": [request["png"]]}]
    try:  # the tiny text model: the loaded model config says it cannot see
        plain.chat(image)
    except VisionUnsupportedError as exc:
        out["blind"] = [str(exc), plain.can_see()]
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
