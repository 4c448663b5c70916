"""`memscreen-llm doctor`: one ok/fail line per check, each failure with its fix."""

from __future__ import annotations

import argparse

from .._config_resolve import ResolvedConfig, resolve_config
from ..base import LLMBase
from ..errors import BackendUnavailableError, ConfigError, MemscreenLLMError, UsageError
from ..factory import build
from ..types import HealthCheck
from ._common import resolve_from_args
from ._main import EXIT_OK, EXIT_RUNTIME, EXIT_UNREACHABLE, EXIT_USAGE

# The check a backend names "server" is reachability; its failure gets its own exit code.
SERVER_CHECK = "server"


def _line(check: HealthCheck) -> None:
    print(f"{'ok' if check.ok else 'FAIL':<5} {check.name:<10} {check.detail}")
    if not check.ok and check.fix:
        print(f"{'':<16} fix: {check.fix}")


def run(args: argparse.Namespace) -> int:
    try:
        resolved = resolve_from_args(args)
    except ConfigError as exc:
        _line(HealthCheck("config", False, str(exc).splitlines()[0], exc.fix))
        return EXIT_USAGE
    codes = [_check(resolved, "backend", resolved.backend_source)]
    chain = resolved.chain
    if chain.fallbacks:  # each fallback checked too, from its own config section
        names = " -> ".join((resolved.backend.name, *chain.fallbacks))
        _line(HealthCheck("chain", True, f"{names} (fallbacks from {chain.source}; a "
                          f"failing backend is skipped for {chain.cooldown:g} s)"))
        for name in chain.fallbacks:
            try:
                member = resolve_config(name, config_file=args.config)
            except UsageError as exc:  # an unknown name, a bad value in its section
                first, *rest = str(exc).splitlines()
                _line(HealthCheck("fallback", False, f"{name}: {first}",
                                  " ".join(line.strip() for line in rest) or None))
                codes.append(EXIT_USAGE)
                continue
            codes.append(_check(member, "fallback", chain.source))
    return next((code for code in codes if code), EXIT_OK)


def _check(resolved: ResolvedConfig, role: str, chosen_by: str) -> int:
    """The lines of one backend (`role`: backend, or fallback), and its exit code."""
    plugin = resolved.backend.plugin
    _line(HealthCheck(
        role, True,
        f"{resolved.backend.name} from {plugin.distribution} {plugin.version} "
        f"(chosen by {chosen_by})",
    ))
    _line(HealthCheck("config", True, f"model={resolved.config.model!r}"))
    try:
        with build(resolved.backend, resolved.config) as llm:
            report = llm.health()
            sight = _sight(llm) if report.ok else None
    except BackendUnavailableError as exc:
        _line(HealthCheck(SERVER_CHECK, False, f"unreachable: {exc.url}", exc.hint))
        return EXIT_UNREACHABLE
    except MemscreenLLMError as exc:  # e.g. the engine's SDK is missing: still one FAIL line
        first, *rest = str(exc).splitlines()
        fix = " ".join(line.strip() for line in rest) or None
        _line(HealthCheck("create", False, first, fix))
        return exc.exit_code
    for check in report.checks:
        _line(check)
    if sight is not None:
        _line(sight)
    if report.ok:
        return EXIT_OK
    failed = {check.name for check in report.checks if not check.ok}
    return EXIT_UNREACHABLE if SERVER_CHECK in failed else EXIT_RUNTIME


def _sight(llm: LLMBase) -> HealthCheck:
    """Whether the configured model can see (information: a text model is no failure)."""
    model = llm.config.model
    try:
        can = llm.can_see()
    except MemscreenLLMError as exc:
        return HealthCheck("vision", False, f"cannot tell: {str(exc).splitlines()[0]}")
    if can is None:
        detail = (f"model {model!r}: the engine does not say whether it takes images; an "
                  "image sent to a text-only model is refused with VisionUnsupportedError")
    elif can:
        detail = f"model {model!r} takes images"
    else:
        detail = f"model {model!r} takes text only: images sent to it are refused"
    return HealthCheck("vision", True, detail)
