"""`BackendContract`: the interface contract every backend must keep, as pytest tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest

from .._config_resolve import resolve_config
from .._discovery import get_registry
from ..base import LLMBase
from ..errors import (
    BackendUnavailableError,
    CapabilityError,
    ConfigError,
    MemscreenLLMError,
    ModelNotFoundError,
    UsageError,
    VisionUnsupportedError,
)
from ..factory import build, create_llm
from ..specs import env_name
from ..types import Capability, ChatResult, ToolCall, join_deltas
from ._compose import check_compose_file, compose_binary_or_skip
from ._images import png
from ._ports import free_port
from ._samples import WEATHER_TOOL

SECRET = "sk-contract-kit-s3cret"


def _same_turn(a: ChatResult, b: ChatResult) -> None:
    assert (a.content, a.reasoning, a.finish_reason) == (b.content, b.reasoning, b.finish_reason)
    assert [(c.name, c.arguments) for c in a.tool_calls] == [
        (c.name, c.arguments) for c in b.tool_calls]


class BackendContract:
    """Subclass it (name it Test...), set `backend`, and provide the `llm` fixture.

    `llm` must be deterministic for the options in `deterministic` (e.g. temperature 0),
    so that streamed and async answers can be compared with the plain one.
    """

    backend: ClassVar[str] = ""
    messages: ClassVar[list[dict[str, Any]]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
    ]
    tools: ClassVar[list[dict[str, Any]]] = [WEATHER_TOOL]
    deterministic: ClassVar[dict[str, Any]] = {"temperature": 0.0, "max_tokens": 16}
    # Variables the shipped compose files require (`${VAR:?...}`) beyond the kit's own.
    compose_env: ClassVar[dict[str, str]] = {}

    # --- what an author provides or overrides ---

    @pytest.fixture
    def llm(self) -> LLMBase:
        pytest.fail(f"{type(self).__name__} must define an `llm` fixture that creates the "
                    "backend against a live server")

    @pytest.fixture
    def unreachable_llm(self, llm: LLMBase) -> LLMBase:
        """The same backend pointed at a loopback port nothing listens on."""
        return self._rebuilt(llm, base_url=f"http://127.0.0.1:{free_port()}")

    @pytest.fixture
    def unknown_model_llm(self, llm: LLMBase) -> LLMBase:
        return self._rebuilt(llm, model="no-such-model-contract-kit")

    def reasoning_request(self) -> Mapping[str, Any] | None:
        """Per-call options that make this backend's test model reason; None skips the check."""
        return None

    def tool_call_request(self) -> Mapping[str, Any] | None:
        """Per-call options that make the test model call `get_weather`; None checks less."""
        return None

    @pytest.fixture
    def reasoning_options(self) -> Mapping[str, Any] | None:
        """`reasoning_request()`; override this fixture instead when it needs other fixtures."""
        return self.reasoning_request()

    @pytest.fixture
    def tool_call_options(self) -> Mapping[str, Any] | None:
        """`tool_call_request()`; override this fixture instead when it needs other fixtures."""
        return self.tool_call_request()

    # --- helpers ---

    def _rebuilt(self, llm: LLMBase, **changes: Any) -> LLMBase:
        if any(not hasattr(llm.config, name) for name in changes):
            pytest.skip(f"the config has no {', '.join(changes)} field; override the fixture")
        return build(get_registry().find_backend(self.backend), llm.config.replace(**changes))

    def _require(self, llm: LLMBase, capability: Capability) -> None:
        if not llm.supports(capability):
            pytest.skip(f"backend {self.backend!r} does not declare {capability.value}")

    # --- the contract ---

    def test_contract_registered_and_discovered(self, llm: LLMBase) -> None:
        registered = get_registry().find_backend(self.backend)
        assert registered.plugin.status.value == "ok"
        assert registered.plugin.distribution, "backend must come from an installed distribution"
        assert isinstance(llm, LLMBase)
        assert llm.backend_name == registered.name == llm.identity.name
        assert llm.identity.env("model") == env_name(registered.name, "model")
        entry = next(e for e in get_registry().entries() if e["name"] == registered.name)
        assert entry["status"] == "ok"

    def test_contract_config_is_validated(self) -> None:
        with pytest.raises(ConfigError) as err:
            create_llm(self.backend, temperature="hot")
        assert err.value.field == "temperature" and err.value.source == "argument"
        with pytest.raises(ConfigError, match="did you mean 'temperature'"):
            create_llm(self.backend, temprature=0.5)
        with pytest.raises(ConfigError) as err:
            resolve_config(self.backend, env={env_name(self.backend, "max_tokens"): "lots"})
        assert err.value.field == "max_tokens" and "env " in (err.value.source or "")

    def test_contract_compose_files_pass_compose(self) -> None:
        """Every shipped compose variant is installed and passes the real Compose v2
        binary's `config -q`, and the start command in errors names the backend."""
        from ..compose import compose_path, variants

        registered = get_registry().find_backend(self.backend)
        if not registered.spec.compose_files:
            pytest.skip(f"backend {self.backend!r} ships no compose file")
        assert registered.identity.compose_hint and self.backend in registered.identity.compose_hint
        compose_binary_or_skip()
        for variant in variants(registered):
            done = check_compose_file(compose_path(registered, variant), self.compose_env)
            assert done.returncode == 0, f"compose variant {variant!r}: {done.stderr}"

    def test_contract_secrets_are_redacted(self, llm: LLMBase) -> None:
        config = llm.config.replace(api_key=SECRET)
        assert config.api_key == SECRET
        for shown in (repr(config), str(config), str(config.public_dict()),
                      repr(self._rebuilt(llm, api_key=SECRET))):
            assert SECRET not in shown

    def test_contract_url_password_is_redacted(self, llm: LLMBase) -> None:
        """A password in base_url shows in no repr, error or health report."""
        url = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
        down = self._rebuilt(llm, base_url=url)
        shown = [repr(down), repr(down.config), str(down.config.public_dict())]
        with pytest.raises(BackendUnavailableError) as err:
            down.chat(self.messages)
        shown += [str(err.value), err.value.url]
        try:
            shown.append(repr(down.health()))
        except MemscreenLLMError as exc:  # a health() that raises for a down server
            shown.append(str(exc))
        for text in shown:
            assert SECRET not in text, text

    def test_contract_chat(self, llm: LLMBase) -> None:
        result = llm.chat(self.messages, **self.deterministic)
        assert isinstance(result, ChatResult)
        assert result.content or result.tool_calls or result.reasoning
        assert result.finish_reason is not None
        text = llm.generate_response(self.messages, **self.deterministic)
        assert isinstance(text, str) and text == (result.content or "")

    def test_contract_none_means_config(self, llm: LLMBase) -> None:
        """A per-call option given as None is the config's value, never a null on the wire."""
        configured = self._rebuilt(llm, **self.deterministic)
        unset = dict.fromkeys(("temperature", "max_tokens", "top_p", "top_k", "seed", "stop"))
        _same_turn(configured.chat(self.messages, **unset), llm.chat(self.messages,
                                                                     **self.deterministic))

    def test_contract_memscreen_options(self, llm: LLMBase) -> None:
        """MemScreen's per-call `options={...}` (Ollama's names) means the same on every
        backend as the per-call options; an Ollama option the backend cannot honour is an
        error, never dropped."""
        ollama_named = {"temperature": self.deterministic["temperature"],
                        "num_predict": self.deterministic["max_tokens"]}
        _same_turn(llm.chat(self.messages, options=ollama_named),
                   llm.chat(self.messages, **self.deterministic))
        text = llm.generate_response(self.messages, options=ollama_named)
        assert isinstance(text, str)
        if "options" not in llm.extra_call_options:  # Ollama itself takes any of its options
            with pytest.raises(UsageError, match="cannot honour"):
                llm.chat(self.messages, options={"mirostat_tau_nonesuch": 1})

    def test_contract_stream_joins_to_chat(self, llm: LLMBase) -> None:
        self._require(llm, Capability.STREAMING)
        plain = llm.chat(self.messages, **self.deterministic)
        _same_turn(join_deltas(llm.stream(self.messages, **self.deterministic)), plain)

    def test_contract_async_matches_sync(self, llm: LLMBase) -> None:
        self._require(llm, Capability.ASYNC)
        plain = llm.chat(self.messages, **self.deterministic)

        async def both() -> tuple[ChatResult, ChatResult]:
            answer = await llm.achat(self.messages, **self.deterministic)
            deltas = [d async for d in llm.astream(self.messages, **self.deterministic)]
            return answer, join_deltas(deltas)

        answer, streamed = asyncio.run(both())
        _same_turn(answer, plain)
        if llm.supports(Capability.STREAMING):
            _same_turn(streamed, plain)

    def test_contract_tools(
        self, llm: LLMBase, tool_call_options: Mapping[str, Any] | None
    ) -> None:
        self._require(llm, Capability.TOOLS)
        accepted = llm.chat(self.messages, tools=self.tools, **self.deterministic)
        assert all(isinstance(call, ToolCall) for call in accepted.tool_calls)
        forced = tool_call_options
        if forced is None:
            pytest.skip("tools accepted; define tool_call_request() to check a real tool call")
        options = {**self.deterministic, **forced}
        result = llm.chat(self.messages, tools=self.tools, **options)
        assert result.tool_calls, "tool_call_request() produced no tool call"
        call = result.tool_calls[0]
        assert call.name == "get_weather" and call.id
        assert isinstance(json.loads(call.arguments), dict)
        shaped = llm.generate_response(self.messages, tools=self.tools, **options)
        assert isinstance(shaped, dict) and shaped["tool_calls"][0]["name"] == "get_weather"
        assert isinstance(shaped["tool_calls"][0]["arguments"], dict)

    def test_contract_reasoning_is_separate(
        self, llm: LLMBase, reasoning_options: Mapping[str, Any] | None
    ) -> None:
        self._require(llm, Capability.REASONING)
        options = reasoning_options
        if options is None:
            pytest.skip("define reasoning_request() to check reasoning separation")
        result = llm.chat(self.messages, **{**self.deterministic, **options})
        assert result.reasoning, "reasoning_request() produced no reasoning"
        assert result.reasoning not in (result.content or "")
        for marker in ("<think>", "</think>"):
            assert marker not in (result.content or "")

    def test_contract_unreachable_server(self, unreachable_llm: LLMBase) -> None:
        with pytest.raises(BackendUnavailableError) as err:
            unreachable_llm.chat(self.messages)
        assert "127.0.0.1" in err.value.url
        assert err.value.hint, "say how to start the server (e.g. the compose command)"

    def test_contract_unknown_model(self, unknown_model_llm: LLMBase) -> None:
        with pytest.raises(ModelNotFoundError) as err:
            unknown_model_llm.chat(self.messages)
        assert "no-such-model-contract-kit" in str(err.value)

    def test_contract_health(self, llm: LLMBase) -> None:
        report = llm.health()
        assert report.backend == llm.backend_name
        assert report.checks and report.ok, [c for c in report.checks if not c.ok]

    def test_contract_images_reach_the_model_or_are_refused(self, llm: LLMBase) -> None:
        """An image is never dropped: a model that sees counts its tokens, one that cannot
        raises VisionUnsupportedError (as can_see() said), a backend without VISION
        raises CapabilityError."""
        text = [{"role": "user", "content": "What is this?"}]
        image = [{**text[0], "images": [png(64, 64)]}]
        if not llm.supports(Capability.VISION):
            with pytest.raises(CapabilityError):
                llm.chat(image)
            return
        can_see = llm.can_see()
        try:
            seen = llm.chat(image, **self.deterministic)
        except VisionUnsupportedError as exc:
            assert can_see is not True, f"can_see() said True, then: {exc}"
            assert llm.config.model is None or repr(llm.config.model) in str(exc)
            return
        assert can_see is not False, "can_see() said False, yet the image was answered"
        plain = llm.chat(text, **self.deterministic)
        if seen.usage and plain.usage and seen.usage.prompt_tokens is not None:
            assert seen.usage.prompt_tokens > (plain.usage.prompt_tokens or 0), (
                "the image did not reach the model: no more prompt tokens than without it")

    def test_contract_undeclared_capabilities_raise(self, llm: LLMBase) -> None:
        calls: dict[Capability, Callable[[], object]] = {
            Capability.STREAMING: lambda: llm.stream(self.messages),
            Capability.ASYNC: lambda: asyncio.run(llm.achat(self.messages)),
            Capability.EMBEDDINGS: lambda: llm.embed(["x"]),
            Capability.TOOLS: lambda: llm.chat(self.messages, tools=self.tools),
            Capability.JSON_SCHEMA: lambda: llm.chat(
                self.messages, response_format={"type": "json_object"}),
        }
        missing = [cap for cap in calls if not llm.supports(cap)]
        if not missing:
            pytest.skip("the backend declares every capability this check covers")
        for capability in missing:
            with pytest.raises(CapabilityError):
                calls[capability]()
