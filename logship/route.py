"""Routing: which sinks an event goes to. Pure: compiled once, then a function of the event.

A route sends the events that pass all of its conditions to each of its sinks:

- `min_level`: the event's level is at least this;
- `sources`: the event came from one of these sources (empty: any source);
- `match`: for each key, the regex is found (`re.search`) in the event's value for that
  key. Keys name an event attribute (`message`, `logger`, `kind`, `level`, `source`,
  `path`, `exception`) or else one of the event's fields. A missing value never matches.

An event that matches several routes naming the same sink is sent to that sink once,
through the first of those routes (whose template then applies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import attrgetter

from logship.config import RouteConfig
from logship.event import Event, Level

Target = tuple[RouteConfig, str]

Getter = Callable[[Event], object]

_ATTRIBUTES: dict[str, Getter] = {
    "message": attrgetter("message"),
    "logger": attrgetter("logger"),
    "kind": attrgetter("kind"),
    "level": lambda e: e.level.name.lower(),
    "source": attrgetter("source"),
    "path": attrgetter("path"),
    "exception": attrgetter("exception"),
    "fingerprint": attrgetter("fingerprint"),
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


# One compiled route: (min level, sources or empty, [(getter, regex search)], route).
# Plain tuples, unpacked in one loop: routing runs for every line read.
_Rule = tuple[Level, frozenset[str], tuple[tuple[Getter, Callable[[str], object]], ...],
              RouteConfig]


def _compile(route: RouteConfig) -> _Rule:
    patterns = tuple((getter_for(key), re.compile(regex).search)
                     for key, regex in route.match.items())
    return route.min_level, frozenset(route.sources), patterns, route


class Router:
    """Compiled routes. `match(event)` lists the (route, sink) pairs to deliver to.

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

    def match(self, event: Event) -> list[Target]:
        level = event.level
        if level < self._floor:
            return []
        targets: list[Target] = []
        for min_level, sources, patterns, route in self._rules:
            if level < min_level or (sources and event.source not in sources):
                continue
            for get, search in patterns:
                value = get(event)
                if value is None:
                    break
                if search(value if value.__class__ is str else str(value)) is None:
                    break
            else:
                for sink in route.sinks:
                    if all(sink != taken for _, taken in targets):
                        targets.append((route, sink))
        return targets


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
