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
from dataclasses import dataclass

from logship.config import RouteConfig
from logship.event import Event, Level

Target = tuple[RouteConfig, str]

_ATTRIBUTES: dict[str, Callable[[Event], object]] = {
    "message": lambda e: e.message,
    "logger": lambda e: e.logger,
    "kind": lambda e: e.kind,
    "level": lambda e: e.level.name.lower(),
    "source": lambda e: e.source,
    "path": lambda e: e.path,
    "exception": lambda e: e.exception,
}


def event_value(event: Event, key: str) -> str | None:
    """The text a `match` key looks at: an attribute of the event, else one of its fields.

    >>> event_value(Event(ts=None, level=Level.ERROR, message="boom", fields={"guild": 7}),
    ...             "guild")
    '7'
    """
    getter = _ATTRIBUTES.get(key)
    value = getter(event) if getter is not None else event.fields.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True)
class _Rule:
    route: RouteConfig
    min_level: Level
    sources: frozenset[str]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    def accepts(self, event: Event) -> bool:
        if event.level < self.min_level:
            return False
        if self.sources and event.source not in self.sources:
            return False
        for key, pattern in self.patterns:
            value = event_value(event, key)
            if value is None or pattern.search(value) is None:
                return False
        return True


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
        self._rules = tuple(
            _Rule(
                route=route,
                min_level=route.min_level,
                sources=frozenset(route.sources),
                patterns=tuple((k, re.compile(v)) for k, v in route.match.items()),
            )
            for route in routes
        )
        # Below the lowest min_level nothing can match: the common case costs one compare.
        self._floor = min((r.min_level for r in self._rules), default=Level.CRITICAL + 1)

    def match(self, event: Event) -> list[Target]:
        if event.level < self._floor:
            return []
        targets: list[Target] = []
        seen: set[str] = set()
        for rule in self._rules:
            if not rule.accepts(event):
                continue
            for sink in rule.route.sinks:
                if sink not in seen:
                    seen.add(sink)
                    targets.append((rule.route, sink))
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
