"""Who may register a name: order-independent rules for names several plugins claim.

Every plugin's code has run before these rules apply, so which plugins are refused never
depends on the order entry points are found or sorted in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ._entrypoints import normalise
from ._registry import PluginInfo
from .errors import FIRST_PARTY_BACKENDS
from .specs import BackendSpec, ParserSpec


class Loaded:
    """A plugin whose code ran cleanly, and what it registered (not yet checked against
    the other plugins'); `position` is its place in the list of plugins. (A plain class:
    defining a dataclass costs every command part of a millisecond.)"""

    def __init__(self, info: PluginInfo, position: int, backends: tuple[BackendSpec, ...],
                 parsers: tuple[ParserSpec, ...]) -> None:
        self.info = info
        self.position = position
        self.backends = backends
        self.parsers = parsers


def claimed_names(
    backends: Iterable[BackendSpec], parsers: Iterable[ParserSpec]
) -> Iterator[tuple[str, str]]:
    """(kind, name) of every name registered: backends with their aliases, parsers."""
    for spec in backends:
        for name in (spec.name, *spec.aliases):
            yield "backend", name
    for parser in parsers:
        yield "parser", parser.name


_OWNER_PREFIX = "memscreen-llm-"


def _owns(item: Loaded, name: str) -> bool:
    """Whether `item`'s distribution owns `name` (backend or parser).

    `memscreen-llm-<name>` owns `<name>` and the aliases it gives that backend; the
    project's own names (errors.FIRST_PARTY_BACKENDS: memscreen-llm-step35 owns `step3p5`
    and `step-3.5-flash`) belong to their distribution alone.
    """
    dist = normalise(item.info.distribution or "")
    if name in FIRST_PARTY_BACKENDS:
        return dist == FIRST_PARTY_BACKENDS[name]
    if not dist.startswith(_OWNER_PREFIX):
        return False
    own = dist[len(_OWNER_PREFIX):]
    return normalise(name) == own or any(
        normalise(spec.name) == own and name in spec.aliases for spec in item.backends)


def refusals(loaded: list[Loaded], *, disable_var: str) -> dict[int, list[str]]:
    """Why each plugin that claims a contested name is refused, by its index in `loaded`.

    Decided over all plugins at once, so the outcome never depends on their order. A name
    only one plugin registers is its own. Of several claimants, the one whose
    distribution owns the name (`_owns`) keeps it and the others are refused; when none
    (or more than one) owns it, all of them are refused.
    """
    claims: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(loaded):
        for key in dict.fromkeys(claimed_names(item.backends, item.parsers)):
            claims.setdefault(key, []).append(index)
    # (kind, claimants, owner or None) -> the names contested between them
    contests: dict[tuple[str, tuple[int, ...], int | None], list[str]] = {}
    for (kind, name), indexes in sorted(claims.items()):
        if len(indexes) > 1:
            owners = [index for index in indexes if _owns(loaded[index], name)]
            owner = owners[0] if len(owners) == 1 else None
            contests.setdefault((kind, tuple(indexes), owner), []).append(name)
    reasons: dict[int, list[str]] = {}
    for (kind, claimants, owner), names in contests.items():
        one = len(names) == 1
        what = (f"{kind} name {names[0]!r}" if one
                else f"{kind} names {', '.join(map(repr, names))}")
        if owner is not None:
            for index in claimants:
                if index != owner:
                    other = loaded[index].info
                    reasons.setdefault(index, []).append(
                        f"{what} {'belongs' if one else 'belong'} to "
                        f"{_label(loaded[owner].info)}, so {_label(other)} may not register "
                        f"{'it' if one else 'them'} (to drop this plugin: "
                        f"{disable_var}={_dist(other)})")
            continue
        infos = sorted((loaded[index].info for index in claimants), key=_label)  # any order
        who = (f"both {_label(infos[0])} and {_label(infos[1])}, so neither is loaded"
               if len(infos) == 2 else
               f"each of {', '.join(map(_label, infos))}, so none is loaded")
        hint = " or ".join(f"{disable_var}={_dist(info)}" for info in infos)
        for index in claimants:
            reasons.setdefault(index, []).append(
                f"{what} {'is' if one else 'are'} registered by {who} (disable one: {hint})")
    return reasons


def _label(plugin: PluginInfo) -> str:
    return f"{_dist(plugin)} {plugin.version or '?'}"


def _dist(plugin: PluginInfo) -> str:
    return plugin.distribution or plugin.name
