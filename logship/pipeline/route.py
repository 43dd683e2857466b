"""Routing: which sinks an event goes to. Pure: compiled once, then a function of the event.

A route sends the events that pass all of its conditions to each of its sinks:

- `min_level`: the event's level is at least this;
- `sources`: the event came from one of these sources (empty: any source);
- `match`: for each key, the regex is found (`re.search`) in the event's value for that
  key. Keys name an event attribute (`message`, `logger`, `kind`, `level`, `source`,
  `path`, `exception`, `fingerprint`) or else one of the event's fields. A missing value
  never matches. `level` is the level's name (debug, info, warning, error, critical:
  a log's "WARN" or "Fatal" is warning or critical), matched in any case.

An event that matches several routes naming the same sink is sent to that sink once,
through the first of those routes (whose template then applies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from logship.config import RouteConfig, SourceConfig
from logship.event import Event, Level
from logship.noise.fingerprint import fingerprint
from logship.parse import can_carry_field
from logship.parse.kinds import KINDS

Target = tuple[RouteConfig, str]


def _fingerprint(event: Event) -> str:
    """The event's fingerprint, worked out now (and kept: noise control reads it too)."""
    event.fingerprint = fingerprint(event)
    return event.fingerprint

Getter = Callable[[Event], object]

_ATTRIBUTES: dict[str, Getter] = {
    "message": attrgetter("message"),
    "logger": attrgetter("logger"),
    "kind": attrgetter("kind"),
    "level": lambda e: e.level.name.lower(),
    "source": attrgetter("source"),
    "path": attrgetter("path"),
    "exception": attrgetter("exception"),
    "fingerprint": lambda e: e.fingerprint or _fingerprint(e),
}


def getter_for(key: str) -> Getter:
    """How to read the value a `match` key names: an event attribute, else a field."""
    attribute = _ATTRIBUTES.get(key)
    if attribute is not None:
        return attribute
    return lambda event: event.fields.get(key)


def event_value(event: Event, key: str) -> str | None:
    """The text a `match` key looks at: an attribute of the event, else one of its fields.

    >>> event_value(Event(ts=None, level=Level.ERROR, message="boom", fields={"guild": 7}),
    ...             "guild")
    '7'
    """
    value = getter_for(key)(event)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


Search = Callable[[str], object]
Seen = dict[str, bool]
"""Whether a pattern was found in a text, for texts seen before (see `_found`)."""

# One check: how to read the value, its pattern's search and the texts it has seen.
_Check = tuple[Getter, Search, Seen]
# One compiled route: (min level, sources or empty, [(key, check)], route).
_Rule = tuple[Level, frozenset[str], tuple[tuple[str, _Check], ...], RouteConfig]

# What `source`, `level` and `kind` alone decide, so a plan per such triple can hold it.
_PLANNED_KEYS = frozenset({"source", "level", "kind"})
_PLANS_MAX = 4096
_SEEN_MAX = 4096
_SEEN_CHARS = 256

# A plan for one (source, level, kind): either the targets, final (no check left), or the
# candidate routes in order, each with the checks left to run on the event's other values;
# and, when those checks read the message only, the targets of messages seen before.
_Plan = tuple[tuple[Target, ...] | None, tuple[tuple[RouteConfig, tuple[_Check, ...]], ...],
              dict[str, tuple[Target, ...]] | None]
_NOWHERE: tuple[Target, ...] = ()


def pattern_for(key: str, regex: str) -> re.Pattern[str]:
    """A `match` regex compiled as routing applies it: on `level`, in any case (the
    level's name is lowercase, whatever the log wrote)."""
    return re.compile(regex, re.IGNORECASE if key == "level" else 0)


def _compile(route: RouteConfig) -> _Rule:
    checks = tuple((key, (getter_for(key), pattern_for(key, regex).search, {}))
                   for key, regex in route.match.items())
    return route.min_level, frozenset(route.sources), checks, route


def _passes(check: _Check, event: Event) -> bool:
    get, search, seen = check
    value = get(event)
    if value is None:
        return False
    if value.__class__ is str:
        return _found(search, seen, value)  # type: ignore[arg-type]
    return search(str(value)) is not None


def _found(search: Search, seen: Seen, text: str) -> bool:
    """Whether the pattern is in `text`, remembered for short texts: a log repeats its
    messages, and a dict lookup costs a third of a regex search."""
    found = seen.get(text)
    if found is None:
        found = search(text) is not None
        if len(text) <= _SEEN_CHARS:
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[text] = found
    return found


class Router:
    """Compiled routes. `match(event)` lists the (route, sink) pairs to deliver to;
    `split(events)` does so for a batch, and counts what goes nowhere.

    Routing runs for every line read, so the work is split: what an event's source,
    level and kind decide (`min_level`, `sources`, matches on those three keys) is
    worked out once per such triple and kept as a *plan*; per event only the matches on
    other values (message, fields...) run, and only for the routes still in question.
    When those read only the message, the plan remembers each message's targets (a log
    repeats its messages: a dict lookup instead of the regexes).

    >>> from logship.config import RouteConfig
    >>> router = Router([RouteConfig(name="errors", sinks=("alerts",), min_level=Level.ERROR)])
    >>> [sink for _, sink in router.match(Event(ts=None, level=Level.ERROR, message="x"))]
    ['alerts']
    >>> router.match(Event(ts=None, level=Level.INFO, message="x"))
    []
    """

    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self._rules = tuple(_compile(route) for route in routes)
        # Below the lowest min_level nothing can match: the common case costs one compare.
        self._floor = min((r.min_level for r in routes), default=Level.CRITICAL + 1)
        self._plans: dict[tuple[str, Level, str], _Plan] = {}

    def match(self, event: Event) -> list[Target]:
        level = event.level
        if level < self._floor:
            return []
        return list(self._targets(event, level))

    def split(self, events: Iterable[Event]) -> tuple[list[tuple[Event, tuple[Target, ...]]],
                                                     dict[str, int]]:
        """The events that go somewhere, each with its targets (as `match` gives them),
        and how many events of each kind go nowhere.

        >>> router = Router([RouteConfig(name="errors", sinks=("alerts",),
        ...                              min_level=Level.ERROR)])
        >>> error, info = (Event(ts=None, level=level, message="m", kind=kind)
        ...                for level, kind in ((Level.ERROR, "error"), (Level.INFO, "log")))
        >>> routed, nowhere = router.split([error, info, info])
        >>> [(event.message, [sink for _, sink in targets]) for event, targets in routed]
        [('m', ['alerts'])]
        >>> nowhere
        {'log': 2}
        """
        routed: list[tuple[Event, tuple[Target, ...]]] = []
        nowhere: dict[str, int] = {}
        floor = self._floor
        targets_of = self._targets
        for event in events:
            level = event.level
            if level >= floor and (targets := targets_of(event, level)):
                routed.append((event, targets))
            else:
                kind = event.kind
                nowhere[kind] = nowhere.get(kind, 0) + 1
        return routed, nowhere

    def _targets(self, event: Event, level: Level) -> tuple[Target, ...]:
        key = (event.source, level, event.kind)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key, event)
        final, candidates, by_message = plan
        if final is not None:
            return final
        if by_message is None:
            return _checked(candidates, event)
        message = event.message
        targets = by_message.get(message)
        if targets is None:
            targets = _checked(candidates, event)
            if len(message) <= _SEEN_CHARS:
                if len(by_message) >= _SEEN_MAX:
                    by_message.clear()
                by_message[message] = targets
        return targets

    def _plan(self, key: tuple[str, Level, str], event: Event) -> _Plan:
        """The routes an event with this (source, level, kind) may take (see the class doc)."""
        source, level, _ = key
        candidates: list[tuple[RouteConfig, tuple[_Check, ...]]] = []
        left: set[str] = set()  # the keys the checks still to run read
        for min_level, sources, checks, route in self._rules:
            if level < min_level or (sources and source not in sources):
                continue
            if not all(_passes(check, event) for name, check in checks
                       if name in _PLANNED_KEYS):
                continue
            candidates.append((route, tuple(check for name, check in checks
                                            if name not in _PLANNED_KEYS)))
            left.update(name for name, _ in checks if name not in _PLANNED_KEYS)
        final: tuple[Target, ...] | None = None
        if not left:
            targets: list[Target] = []
            for route, _ in candidates:
                _add(targets, route)
            final = tuple(targets)
        plan: _Plan = (final, tuple(candidates), {} if left == {"message"} else None)
        if len(self._plans) >= _PLANS_MAX:
            self._plans.clear()
        self._plans[key] = plan
        return plan


def _checked(candidates: tuple[tuple[RouteConfig, tuple[_Check, ...]], ...],
             event: Event) -> tuple[Target, ...]:
    """The targets of the candidate routes whose checks `event` passes."""
    targets: list[Target] = []
    for route, checks in candidates:
        for check in checks:
            if not _passes(check, event):
                break
        else:
            _add(targets, route)
    return tuple(targets) if targets else _NOWHERE


def _add(targets: list[Target], route: RouteConfig) -> None:
    """The route's sinks not taken yet by an earlier route (one send per sink)."""
    for sink in route.sinks:
        if not targets or all(sink != taken for _, taken in targets):
            targets.append((route, sink))


def describe(routes: Sequence[RouteConfig]) -> list[str]:
    """One readable line per route, for `logship check`.

    >>> describe([RouteConfig(name="errors", sinks=("alerts",), min_level=Level.ERROR,
    ...                       match={"kind": "^error$"})])
    ['errors: level >= error, kind ~ /^error$/ → alerts']
    """
    lines = []
    for route in routes:
        conditions = [f"level >= {route.min_level.name.lower()}"]
        if route.sources:
            conditions.append(f"source in {', '.join(route.sources)}")
        conditions += [f"{key} ~ /{pattern}/" for key, pattern in route.match.items()]
        template = f" (template {route.template})" if route.template else ""
        lines.append(f"{route.name}: {', '.join(conditions)} → {', '.join(route.sinks)}"
                     f"{template}")
    if not lines:
        lines.append("(no routes: nothing will be sent)")
    return lines


def never_matching(routes: Sequence[RouteConfig], sources: Sequence[SourceConfig]
                   ) -> list[tuple[str, str]]:
    """(route, why) for each `match` that no event of the route's sources could pass, for
    `logship check`. Only what is sure: a level or kind no event has, a source name
    the route does not read, a field no record of its sources' formats can carry (a JSON
    line may carry any field: only "text" sources rule names out).

    >>> never_matching([RouteConfig(name="r", sinks=("s",), match={"kind": "^crash$"})], [])
    [('r', 'match.kind /^crash$/ matches no kind (kinds: error, performance, member, status, log)')]
    """
    found = []
    for route in routes:
        covered = [s for s in sources if not route.sources or s.name in route.sources]
        for key, regex in route.match.items():
            why = _why_never(key, regex, route, covered)
            if why is not None:
                found.append((route.name, why))
    return found


def _why_never(key: str, regex: str, route: RouteConfig, sources: Sequence[SourceConfig]
               ) -> str | None:
    search = pattern_for(key, regex).search
    where = f"match.{key} /{regex}/"
    if key == "level":
        levels = [level for level in Level if search(level.name.lower())]
        if not levels:
            names = ", ".join(level.name.lower() for level in Level)
            return f"{where} matches no level (levels are matched by name: {names}; in any case)"
        if all(level < route.min_level for level in levels):
            named = ", ".join(level.name.lower() for level in levels)
            return (f"{where} matches only {named}, below its min_level "
                    f"{route.min_level.name.lower()}")
        return None
    if key == "kind":
        if any(search(kind) for kind in KINDS):
            return None
        return f"{where} matches no kind (kinds: {', '.join(KINDS)})"
    names = ", ".join(source.name for source in sources)
    if key == "source":
        if not sources or any(search(source.name) for source in sources):
            return None
        return f"{where} matches none of its sources ({names})"
    if key in _ATTRIBUTES or not sources:
        return None
    if any(can_carry_field(source.format, key) for source in sources):
        return None
    return (f"match.{key}: no event of {names} can carry a field {key!r} (format text: field "
            "names are letters, digits, '_' and '.')")
