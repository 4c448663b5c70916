"""Fallback chains: a call moves on to the next backend when the current one cannot answer.

    create_llm("vllm", fallbacks=["ollama"])      # or [llm] fallbacks = ["ollama"],
                                                  # or MEMSCREEN_LLM_FALLBACKS=ollama

A call moves on only when a backend is unavailable (`BackendUnavailableError`), timed out
(`RequestTimeoutError`) or overloaded (`BackendOverloadedError`: 429/503 after its own
retries); never for any other error, and never after output reached the caller (a stream
moves on only before its first delta). A backend whose call failed so is skipped for a
cooldown (a circuit breaker), then tried again: an answer closes the breaker. Each backend
keeps its own config section; results name the backend that answered (`ChatResult.backend`,
and `.backend` on the iterator `stream()` returns). Embeddings never move on: vectors of
two models cannot be compared, so `embed()` is the first backend's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .base import COMMON_CALL_OPTIONS, LLMBase
from .errors import (
    BackendOverloadedError,
    BackendUnavailableError,
    ConfigError,
    MemscreenLLMError,
    RequestTimeoutError,
    UnknownBackendError,
    UsageError,
)
from .types import Capability, ChatDelta, ChatResult, HealthCheck, HealthReport

if TYPE_CHECKING:
    from ._config_file import ConfigFile
    from ._config_resolve import ResolvedConfig

log = logging.getLogger("memscreen_llm.fallback")

ENV_FALLBACKS = "MEMSCREEN_LLM_FALLBACKS"
ENV_COOLDOWN = "MEMSCREEN_LLM_FALLBACK_COOLDOWN"
DEFAULT_COOLDOWN = 30.0
# The failures that move a call on: the backend could not answer at all.
MOVE_ON = (BackendUnavailableError, RequestTimeoutError, BackendOverloadedError)


# --- settings: which backends, and the cooldown ---


@attrs.frozen
class ChainSettings:
    """The fallbacks after the chosen backend, and the cooldown, with their sources."""

    fallbacks: tuple[str, ...] = ()
    source: str = "default"
    cooldown: float = DEFAULT_COOLDOWN
    cooldown_source: str = "default"


def parse_names(text: str) -> tuple[str, ...]:
    """Backend names from text: separated by commas or spaces ("ollama, step35")."""
    return tuple(name for name in text.replace(",", " ").split() if name)


def cooldown_value(value: Any, source: str) -> float:
    """A cooldown in seconds (a number >= 0), else a ConfigError naming `source`."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(
            f"fallback_cooldown: bad value {value!r}: expected seconds, a number >= 0",
            field="fallback_cooldown", source=source, value=value,
            fix="e.g. fallback_cooldown = 30 (how long a failing backend is skipped)")
    return float(value)


def chain_settings(env: Mapping[str, str], file: ConfigFile) -> ChainSettings:
    """The chain the environment and the config file set: env over file."""
    names: tuple[str, ...] = ()
    source = "default"
    if env.get(ENV_FALLBACKS, "").strip():
        names, source = parse_names(env[ENV_FALLBACKS]), f"env {ENV_FALLBACKS}"
    elif file.fallbacks:
        names, source = tuple(file.fallbacks), file.label()
    cooldown, cooldown_source = DEFAULT_COOLDOWN, "default"
    if env.get(ENV_COOLDOWN, "").strip():
        cooldown_source = f"env {ENV_COOLDOWN}"
        cooldown = cooldown_value(env[ENV_COOLDOWN].strip(), cooldown_source)
    elif file.fallback_cooldown is not None:
        cooldown, cooldown_source = file.fallback_cooldown, file.label()
    return ChainSettings(names, source, cooldown, cooldown_source)


def with_fallbacks(
    primary: LLMBase, resolved: ResolvedConfig, *,
    fallbacks: Sequence[str | LLMBase] | None = None, cooldown: float | None = None,
    config_file: str | Path | None = None,
) -> LLMBase:
    """`primary`, or a FallbackLLM over it and its fallbacks: `fallbacks` if given (names,
    or backends already made), else the config's. Each named fallback is resolved from
    its own config section (env, file, preset, defaults). Closes what it made on error."""
    settings = resolved.chain
    source = "argument" if fallbacks is not None else settings.source
    wanted: Sequence[str | LLMBase] = settings.fallbacks if fallbacks is None else fallbacks
    if isinstance(wanted, str):
        raise UsageError(f"fallbacks= takes a list of backend names, got the string "
                         f"{wanted!r}; write fallbacks=[{wanted!r}]")
    if not wanted:
        return primary
    seconds = settings.cooldown if cooldown is None else cooldown_value(cooldown, "argument")
    members, made = [primary], []
    try:
        for entry in wanted:
            if isinstance(entry, LLMBase):
                members.append(entry)
                continue
            member = _member(entry, source, config_file, [m.backend_name for m in members],
                             configured=fallbacks is None)
            if member is not None:
                made.append(member)
                members.append(member)
    except BaseException:
        for member in made:
            member.close()
        raise
    return FallbackLLM(members, cooldown=seconds) if len(members) > 1 else primary


def _member(name: Any, source: str, config_file: str | Path | None, taken: list[str], *,
            configured: bool) -> LLMBase | None:
    """The fallback `name`, built from its own section; None for the chosen backend itself
    in a configured chain (env or file name the chain for whichever backend is chosen)."""
    from ._config_resolve import resolve_config
    from .factory import build

    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"fallbacks: {name!r} is not a backend name", field="fallbacks",
                          source=source, value=name, fix='e.g. fallbacks = ["ollama"]')
    try:
        member = resolve_config(name.strip(), config_file=config_file)
    except UnknownBackendError as exc:
        raise ConfigError(f"fallbacks: {exc}".replace("\n", "; "), field="fallbacks",
                          source=source, value=name,
                          fix="install its plugin, or take it out of the fallbacks") from None
    if configured and member.backend.name == taken[0]:
        return None
    if member.backend.name in taken:
        raise ConfigError(
            f"fallbacks: backend {member.backend.name!r} is already in the chain "
            f"({' -> '.join(taken)})", field="fallbacks", source=source, value=name,
            fix="name each backend once; the chosen backend is the chain's first")
    return build(member.backend, member.config)


# --- the circuit breaker ---


class _Breaker:
    """One member's: open after `threshold` failures in a row, for `cooldown` seconds."""

    def __init__(self, cooldown: float, threshold: int) -> None:
        self.cooldown = cooldown
        self.threshold = threshold
        self.failures = 0
        self.open_until: float | None = None
        self.why = ""

    def remaining(self, now: float) -> float | None:
        """Seconds the member is still skipped for, or None: it is tried."""
        if self.open_until is None or now >= self.open_until:
            return None
        return self.open_until - now

    def failed(self, exc: BaseException, now: float) -> bool:
        """Count a failure; True when it opens (or re-opens) the breaker."""
        self.failures += 1
        self.why = _first_line(exc)
        if self.failures >= self.threshold or self.open_until is not None:
            self.open_until = now + self.cooldown
            return True
        return False

    def succeeded(self) -> bool:
        """An answer; True when the breaker had been open."""
        was_open = self.open_until is not None
        self.failures, self.open_until = 0, None
        return was_open


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# --- the chain ---

Call = Callable[[LLMBase, dict[str, Any]], Any]


class FallbackLLM(LLMBase):
    """Backends tried in order, as the module docstring says. Its config and identity are
    the first backend's; `members` holds them all, `labels` their names."""

    def __init__(self, members: Sequence[LLMBase], *, cooldown: float = DEFAULT_COOLDOWN,
                 failure_threshold: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not members:
            raise UsageError("a fallback chain needs at least one backend")
        if failure_threshold < 1:
            raise UsageError("failure_threshold must be at least 1")
        super().__init__(members[0].config, members[0].identity)
        self.members = tuple(members)
        self.labels = _labels(self.members)
        self.cooldown = cooldown
        self._clock = clock
        self._breakers = [_Breaker(cooldown, failure_threshold) for _ in self.members]
        self._lock = threading.Lock()
        self._accepted = [COMMON_CALL_OPTIONS | type(m).extra_call_options | {"options"}
                          for m in self.members]
        self._known = frozenset().union(*self._accepted)

    @property  # LLMBase declares a ClassVar; a chain's capabilities are its members'
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """What any member can do; embeddings: the first's (they never move on)."""
        caps = frozenset().union(*(m.capabilities for m in self.members))
        if Capability.EMBEDDINGS not in self.members[0].capabilities:
            caps -= {Capability.EMBEDDINGS}
        return caps

    def __repr__(self) -> str:
        return f"FallbackLLM({' -> '.join(self.labels)}, cooldown={self.cooldown:g})"

    # --- the public API, each over the members' own ---

    def chat(self, messages: Any, *, tools: Any = None, tool_choice: Any = "auto",
             response_format: Any = None, **options: Any) -> ChatResult:
        def call(member: LLMBase, opts: dict[str, Any]) -> ChatResult:
            return member.chat(messages, tools=tools, tool_choice=tool_choice,
                               response_format=response_format, **opts)

        return self._answer(call, options)  # type: ignore[no-any-return]

    async def achat(self, messages: Any, *, tools: Any = None, tool_choice: Any = "auto",
                    response_format: Any = None, **options: Any) -> ChatResult:
        failures: list[MemscreenLLMError] = []
        for index, member in self._candidates():
            try:
                result = await member.achat(messages, tools=tools, tool_choice=tool_choice,
                                            response_format=response_format,
                                            **self._options_for(index, options))
            except (*MOVE_ON, UsageError) as exc:
                self._move_on(index, exc, failures)
                continue
            self._answered_by(index)
            named: ChatResult = self._named(index, result)
            return named
        raise self._exhausted(failures)

    def stream(self, messages: Any, *, tools: Any = None, tool_choice: Any = "auto",
               response_format: Any = None, **options: Any) -> ChainStream:
        """Deltas from the first member that starts answering; `.backend` names it."""
        def call(member: LLMBase, opts: dict[str, Any]) -> Iterator[ChatDelta]:
            return member.stream(messages, tools=tools, tool_choice=tool_choice,
                                 response_format=response_format, **opts)

        return ChainStream(self, call, options)

    def astream(self, messages: Any, *, tools: Any = None, tool_choice: Any = "auto",
                response_format: Any = None, **options: Any) -> AsyncChainStream:
        def call(member: LLMBase, opts: dict[str, Any]) -> AsyncIterator[ChatDelta]:
            return member.astream(messages, tools=tools, tool_choice=tool_choice,
                                  response_format=response_format, **opts)

        return AsyncChainStream(self, call, options)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The first backend's embeddings: another model's vectors would not compare."""
        return self.members[0].embed(texts)

    def supports(self, capability: Capability | str) -> bool:
        return Capability(capability) in self.capabilities

    def can_see(self, model: str | None = None) -> bool | None:
        """The first backend's answer: calls go to it while it can take them."""
        return self.members[0].can_see(model)

    def close(self) -> None:
        for member in self.members:
            member.close()

    def _chat(self, request: Any) -> ChatResult:  # the public methods above do the work
        raise NotImplementedError

    def _health(self) -> HealthReport:
        """Every member's checks, named `<backend>: <check>`, after one line on the chain."""
        checks = [HealthCheck("chain", True, " -> ".join(self.labels)
                              + f" (cooldown {self.cooldown:g} s)")]
        for label, member in zip(self.labels, self.members, strict=True):
            try:
                report = member.health()
            except MemscreenLLMError as exc:
                checks.append(HealthCheck(f"{label}: server", False, _first_line(exc)))
                continue
            checks += [attrs.evolve(check, name=f"{label}: {check.name}")
                       for check in report.checks]
        return HealthReport(self.backend_name, checks)

    # --- moving along the chain ---

    def skipped(self) -> dict[str, float]:
        """The members skipped now, and for how many seconds more."""
        now = self._clock()
        with self._lock:
            return {label: left for label, breaker in zip(self.labels, self._breakers, strict=True)
                    if (left := breaker.remaining(now)) is not None}

    def _candidates(self) -> Iterator[tuple[int, LLMBase]]:
        """The members to try, in order: those not skipped; if every one is, all of them
        (a call never fails without trying)."""
        now = self._clock()
        with self._lock:
            open_for = [breaker.remaining(now) for breaker in self._breakers]
        order = [i for i, left in enumerate(open_for) if left is None] or list(
            range(len(self.members)))
        for position, index in enumerate(order):
            if position == 0 and index != 0:
                skipped = [f"{self.labels[i]} ({open_for[i]:.1f} s more, after "
                           f"{self._breakers[i].why})" for i in range(index)
                           if open_for[i] is not None]
                if skipped:
                    log.info("skipping %s: the call goes to %s", ", ".join(skipped),
                             self.labels[index])
            yield index, self.members[index]

    def _options_for(self, index: int, options: Mapping[str, Any]) -> dict[str, Any]:
        """The call's options this member takes. One that only other members take (e.g.
        vLLM's session_id on Ollama) stays out of its call; one no member takes is kept,
        so the member's own check names it (with "did you mean")."""
        accepted = self._accepted[index]
        kept = {k: v for k, v in options.items() if k in accepted or k not in self._known}
        if len(kept) != len(options):
            log.debug("%s does not take %s: left out of its call", self.labels[index],
                      ", ".join(sorted(set(options) - set(kept))))
        return kept

    def _move_on(self, index: int, exc: MemscreenLLMError,
                 failures: list[MemscreenLLMError]) -> None:
        """After `exc` from member `index`: re-raise it if it ends the call, else note it.
        A usage error ends the call when the member was the call's first try (the
        request's own fault); from a fallback it means this one cannot take the request."""
        if isinstance(exc, UsageError):
            if not failures:
                raise exc
            log.warning("%s cannot take this request (%s); trying the next backend",
                        self.labels[index], _first_line(exc))
            return
        now = self._clock()
        with self._lock:
            opened = self._breakers[index].failed(exc, now)
        failures.append(exc)
        following = self._next_label(index)
        log.warning("%s failed (%s)%s; %s", self.labels[index], _first_line(exc),
                    f": skipped for the next {self.cooldown:g} s" if opened else "",
                    f"the call moves to {following}" if following else
                    "no backend is left to try")

    def _next_label(self, index: int) -> str | None:
        now = self._clock()
        with self._lock:
            later = [i for i in range(index + 1, len(self.members))
                     if self._breakers[i].remaining(now) is None]
        return self.labels[later[0]] if later else None

    def _answered_by(self, index: int) -> None:
        with self._lock:
            recovered = self._breakers[index].succeeded()
        if recovered:
            log.info("%s answered again: it is back in the chain", self.labels[index])

    def _failed_under_way(self, index: int, exc: MemscreenLLMError) -> None:
        """A stream that failed after its first delta: no moving on, but it counts."""
        with self._lock:
            self._breakers[index].failed(exc, self._clock())
        log.warning("%s failed after its stream began (%s); a started stream does not "
                    "move on", self.labels[index], _first_line(exc))

    def _exhausted(self, failures: list[MemscreenLLMError]) -> MemscreenLLMError:
        if len(failures) > 1:
            log.warning("no backend of the chain answered: %s",
                        "; ".join(_first_line(exc) for exc in failures))
        return failures[-1]

    def _answer(self, call: Call, options: Mapping[str, Any]) -> Any:
        failures: list[MemscreenLLMError] = []
        for index, member in self._candidates():
            try:
                result = call(member, self._options_for(index, options))
            except (*MOVE_ON, UsageError) as exc:
                self._move_on(index, exc, failures)
                continue
            self._answered_by(index)
            return self._named(index, result)
        raise self._exhausted(failures)

    def _named(self, index: int, result: Any) -> Any:
        """A result naming the member by its label (vllm#2 for a second vLLM server)."""
        label = self.labels[index]
        if isinstance(result, ChatResult) and result.backend != label:
            return attrs.evolve(result, backend=label)
        return result


def _labels(members: Sequence[LLMBase]) -> tuple[str, ...]:
    """Each member's backend name; a name met again gets #2, #3 (two vLLM servers)."""
    seen: dict[str, int] = {}
    labels = []
    for member in members:
        name = member.backend_name
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return tuple(labels)


class ChainStream(Iterator[ChatDelta]):
    """A chain's stream: `backend` names the member answering, once its first delta is
    out (None before). Fails over only before that delta."""

    def __init__(self, chain: FallbackLLM, call: Call, options: Mapping[str, Any]) -> None:
        self.backend: str | None = None
        self._deltas = self._run(chain, call, options)

    def __next__(self) -> ChatDelta:
        return next(self._deltas)

    def close(self) -> None:
        self._deltas.close()

    def _run(self, chain: FallbackLLM, call: Call,
             options: Mapping[str, Any]) -> Generator[ChatDelta, None, None]:
        failures: list[MemscreenLLMError] = []
        for index, member in chain._candidates():
            deltas: Iterator[ChatDelta] | None = None
            try:
                deltas = call(member, chain._options_for(index, options))
                first = next(deltas, None)
            except (*MOVE_ON, UsageError) as exc:
                if deltas is not None:
                    _close(deltas)
                chain._move_on(index, exc, failures)
                continue
            chain._answered_by(index)
            self.backend = chain.labels[index]
            if first is None:
                return
            try:
                yield first  # output reached the caller: from here on, no moving on
                yield from deltas
            except MOVE_ON as exc:
                chain._failed_under_way(index, exc)
                raise
            finally:
                _close(deltas)
            return
        raise chain._exhausted(failures)


class AsyncChainStream(AsyncIterator[ChatDelta]):
    """`ChainStream` for asyncio."""

    def __init__(self, chain: FallbackLLM, call: Call, options: Mapping[str, Any]) -> None:
        self.backend: str | None = None
        self._deltas = self._run(chain, call, options)

    async def __anext__(self) -> ChatDelta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        await self._deltas.aclose()

    async def _run(self, chain: FallbackLLM, call: Call,
                   options: Mapping[str, Any]) -> AsyncGenerator[ChatDelta, None]:
        failures: list[MemscreenLLMError] = []
        for index, member in chain._candidates():
            deltas: AsyncIterator[ChatDelta] | None = None
            try:
                deltas = call(member, chain._options_for(index, options))
                first = await anext(deltas, None)
            except (*MOVE_ON, UsageError) as exc:
                if deltas is not None:
                    await _aclose(deltas)
                chain._move_on(index, exc, failures)
                continue
            chain._answered_by(index)
            self.backend = chain.labels[index]
            if first is None:
                return
            try:
                yield first
                async for delta in deltas:
                    yield delta
            except MOVE_ON as exc:
                chain._failed_under_way(index, exc)
                raise
            finally:
                await _aclose(deltas)
            return
        raise chain._exhausted(failures)


def _close(deltas: Any) -> None:
    close = getattr(deltas, "close", None)
    if close is not None:
        close()


async def _aclose(deltas: Any) -> None:
    close = getattr(deltas, "aclose", None)
    if close is not None:
        await close()
