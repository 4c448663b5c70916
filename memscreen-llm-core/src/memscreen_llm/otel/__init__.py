"""OpenTelemetry for every backend: one span per call, the GenAI client metrics.

    from memscreen_llm import otel

    otel.instrument()        # or MEMSCREEN_LLM_OTEL=1 before the first create_llm()
    ...                      # spans go to the app's tracer provider (whatever it set)
    otel.uninstrument()

Needs `pip install memscreen-llm-core[otel]` (opentelemetry-api only; an SDK and an
exporter are the app's choice). `instrument()` wraps `LLMBase`'s public methods —
chat, stream, achat, astream, embed (generate_response goes through chat) — once, for
every backend, third-party ones included; `uninstrument()` puts the originals back.
Until then nothing of OpenTelemetry is imported. Span and metric names follow the GenAI
semantic conventions; docs/OBSERVABILITY.md lists every attribute. Prompts and answers
are recorded only when asked for: `instrument(capture_content=True)` or
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError
from ._attributes import CAPTURE_ENV, capture_from_env

ENV = "MEMSCREEN_LLM_OTEL"
EXTRA_FIX = "pip install 'memscreen-llm-core[otel]'"
METHODS = ("chat", "stream", "achat", "astream", "embed")
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"", "0", "false", "no", "off"})

_originals: dict[str, Any] = {}

__all__ = ["CAPTURE_ENV", "ENV", "instrument", "instrument_from_env", "is_instrumented",
           "uninstrument"]


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None,
               capture_content: bool | None = None) -> None:
    """Trace every backend's calls. Without providers, the global ones are used (those
    the app sets, even later). Called again, it re-instruments with the new arguments.
    `capture_content=None` reads OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT."""
    try:
        from . import _wrappers
    except ImportError as exc:
        raise ConfigError(f"OpenTelemetry is not installed ({exc})", fix=EXTRA_FIX) from None
    from ..base import LLMBase

    uninstrument()
    capture = capture_from_env() if capture_content is None else capture_content
    inst = _wrappers.Instruments(tracer_provider, meter_provider, capture)
    for method in METHODS:
        original = LLMBase.__dict__[method]
        _originals[method] = original
        setattr(LLMBase, method, _wrappers.wrap(method, original, inst))


def uninstrument() -> None:
    """Put LLMBase's own methods back (no-op if not instrumented)."""
    if not _originals:
        return
    from ..base import LLMBase

    for method, original in _originals.items():
        setattr(LLMBase, method, original)
    _originals.clear()


def is_instrumented() -> bool:
    return bool(_originals)


def instrument_from_env(env: Any = None) -> bool:
    """`instrument()` if MEMSCREEN_LLM_OTEL says so (1/true/yes/on) and it is not done
    yet; the factory calls it when the variable is set. Returns whether instrumented."""
    value = (os.environ if env is None else env).get(ENV, "").strip().lower()
    if value in _OFF:
        return is_instrumented()
    if value not in _ON:
        raise ConfigError(f"{ENV}: bad value {value!r}: expected 1 or 0", source=f"env {ENV}",
                          fix=f"set {ENV}=1 to trace calls, or unset it")
    if not is_instrumented():
        try:
            instrument()
        except ConfigError as exc:
            raise ConfigError(f"{ENV}=1 needs OpenTelemetry, which is not installed",
                              source=f"env {ENV}", fix=exc.fix) from None
    return True
