"""The router: levels, sources, regex matches on attributes and fields, one send per sink."""

from __future__ import annotations

from typing import Any

from logship.config import RouteConfig, SourceConfig
from logship.event import Event, Level
from logship.pipeline.route import Router, _found, describe, event_value, never_matching


def event(level: Level = Level.ERROR, message: str = "boom", **attrs: Any) -> Event:
    return Event(ts=None, level=level, message=message, **attrs)


def sinks(router: Router, e: Event) -> list[str]:
    return [sink for _, sink in router.match(e)]


def test_min_level_is_inclusive() -> None:
    router = Router([RouteConfig(name="r", sinks=("s",), min_level=Level.WARNING)])
    assert sinks(router, event(Level.WARNING)) == ["s"]
    assert sinks(router, event(Level.CRITICAL)) == ["s"]
    assert sinks(router, event(Level.INFO)) == []


def test_sources_restrict_the_route() -> None:
    router = Router([RouteConfig(name="r", sinks=("s",), sources=("statsbot",))])
    assert sinks(router, event(source="statsbot")) == ["s"]
    assert sinks(router, event(source="other")) == []


def test_match_searches_attributes_and_fields() -> None:
    router = Router([
        RouteConfig(name="members", sinks=("m",), match={"kind": "^member$"}),
        RouteConfig(name="monitoring", sinks=("mon",), match={"service": "^monitoring$",
                                                               "message": "slow"}),
    ])
    assert sinks(router, event(kind="member")) == ["m"]
    assert sinks(router, event(message="a slow query", fields={"service": "monitoring"})) == [
        "mon"]
    assert sinks(router, event(message="a fast query", fields={"service": "monitoring"})) == []
    assert sinks(router, event(message="slow", fields={})) == []  # missing field: no match


def test_level_matches_by_lowercase_name() -> None:
    router = Router([RouteConfig(name="r", sinks=("s",), match={"level": "^(error|critical)$"})])
    assert sinks(router, event(Level.CRITICAL)) == ["s"]
    assert sinks(router, event(Level.WARNING)) == []


def test_a_sink_named_by_two_routes_gets_the_event_once_through_the_first() -> None:
    first = RouteConfig(name="first", sinks=("a", "b"), min_level=Level.ERROR, template="error")
    second = RouteConfig(name="second", sinks=("b", "c"))
    targets = Router([first, second]).match(event(Level.ERROR))
    assert [(route.name, sink) for route, sink in targets] == [
        ("first", "a"), ("first", "b"), ("second", "c")]


def test_no_routes_match_nothing() -> None:
    assert Router([]).match(event(Level.CRITICAL)) == []


def test_event_value_renders_non_text_fields() -> None:
    e = event(fields={"user_id": 123456789012345678, "ok": True})
    assert event_value(e, "user_id") == "123456789012345678"
    assert event_value(e, "ok") == "True"
    assert event_value(e, "absent") is None
    assert event_value(e, "level") == "error"


def test_describe_names_every_condition() -> None:
    lines = describe([RouteConfig(name="errors", sinks=("e", "f"), min_level=Level.ERROR,
                                  sources=("bot",), match={"kind": "error"}, template="t")])
    assert lines == ["errors: level >= error, source in bot, kind ~ /error/ → e, f (template t)"]
    assert describe([]) == ["(no routes: nothing will be sent)"]


def test_events_alike_but_for_their_message_are_each_matched_on_it() -> None:
    router = Router([RouteConfig(name="errors", sinks=("e",), min_level=Level.ERROR),
                     RouteConfig(name="members", sinks=("m",), match={"message": "^Member"})])
    for _ in range(3):  # the second time round, what was worked out before is reused
        assert sinks(router, event(Level.INFO, "Member joined")) == ["m"]
        assert sinks(router, event(Level.INFO, "Heartbeat")) == []
        assert sinks(router, event(Level.ERROR, "Member left badly")) == ["e", "m"]
        assert sinks(router, event(Level.ERROR, "boom")) == ["e"]


def test_source_level_and_kind_conditions_hold_for_every_event() -> None:
    router = Router([RouteConfig(name="r", sinks=("s",), sources=("bot",),
                                 match={"kind": "^member$", "level": "info", "guild": "^7$"})])
    for _ in range(2):
        assert sinks(router, event(Level.INFO, kind="member", source="bot",
                                   fields={"guild": 7})) == ["s"]
        assert sinks(router, event(Level.INFO, kind="member", source="bot",
                                   fields={"guild": 8})) == []
        assert sinks(router, event(Level.INFO, kind="log", source="bot",
                                   fields={"guild": 7})) == []
        assert sinks(router, event(Level.WARNING, kind="member", source="bot",
                                   fields={"guild": 7})) == []
        assert sinks(router, event(Level.INFO, kind="member", source="other",
                                   fields={"guild": 7})) == []


def test_a_repeated_short_text_is_searched_once_and_the_memory_stays_bounded() -> None:
    searched: list[str] = []

    def search(text: str) -> object:
        searched.append(text)
        return text.startswith("Member") or None

    seen: dict[str, bool] = {}
    assert [_found(search, seen, "Member joined") for _ in range(3)] == [True] * 3
    assert _found(search, seen, "Heartbeat") is False
    assert searched == ["Member joined", "Heartbeat"]
    long = "x" * 1000  # long texts rarely repeat: searched each time, never kept
    _found(search, seen, long)
    _found(search, seen, long)
    assert searched.count(long) == 2 and long not in seen
    for n in range(10_000):
        _found(search, seen, f"line {n}")
    assert len(seen) <= 4096


def test_split_routes_a_batch_as_match_does_and_counts_the_rest_by_kind() -> None:
    router = Router([
        RouteConfig(name="errors", sinks=("e",), min_level=Level.ERROR),
        RouteConfig(name="members", sinks=("m",), min_level=Level.INFO,
                    match={"message": "^Member"}),
        RouteConfig(name="monitoring", sinks=("mon",), min_level=Level.WARNING,
                    match={"service": "^monitoring$"}),
    ])
    batch = [
        event(Level.INFO, "Member joined", kind="member"),
        event(Level.INFO, "Heartbeat", kind="status"),
        event(Level.DEBUG, "Member joined", kind="member"),  # below every route's level
        event(Level.ERROR, "Member left badly", kind="error"),
        event(Level.WARNING, "slow", kind="performance", fields={"service": "monitoring"}),
        event(Level.WARNING, "slow", kind="performance", fields={"service": "stats"}),
        event(Level.INFO, "Heartbeat", kind="status"),
    ]
    for _ in range(2):  # the second time round, from the plans and messages remembered
        routed, nowhere = router.split(batch)
        assert [(e, list(targets)) for e, targets in routed] == [
            (e, router.match(e)) for e in batch if router.match(e)]
        assert [[sink for _, sink in targets] for _, targets in routed] == [
            ["m"], ["e", "m"], ["mon"]]
        assert nowhere == {"status": 2, "member": 1, "performance": 1}


def test_messages_are_remembered_only_where_the_message_alone_decides() -> None:
    router = Router([
        RouteConfig(name="members", sinks=("m",), match={"message": "^Member"}),
        RouteConfig(name="guild", sinks=("g",), match={"message": "^Member", "guild": "^7$"}),
    ])
    for _ in range(2):
        assert sinks(router, event(Level.INFO, "Member joined", fields={"guild": 7})) == [
            "m", "g"]
        assert sinks(router, event(Level.INFO, "Member joined", fields={"guild": 8})) == ["m"]


def test_a_route_can_match_on_the_fingerprint() -> None:
    """A route's `match = { fingerprint = ... }` sees the fingerprint (worked out when it
    is asked for: routing comes before noise control, which sets it too)."""
    from logship.noise.fingerprint import fingerprint

    boom = Event(ts=None, level=Level.ERROR, message="Failed to fetch user 123456789012345678")
    wanted = fingerprint(boom)
    router = Router([RouteConfig(name="one", sinks=("s",), match={"fingerprint": f"^{wanted}$"})])
    other = Event(ts=None, level=Level.ERROR, message="Failed to fetch user 987654321098765432")
    assert [sink for _, sink in router.match(other)] == ["s"]  # the same error, another user
    assert router.match(Event(ts=None, level=Level.ERROR, message="disk full")) == []


def test_level_matches_whatever_the_case() -> None:
    router = Router([RouteConfig(name="r", sinks=("s",), match={"level": "^WARNING$"})])
    assert sinks(router, event(Level.WARNING)) == ["s"]
    assert sinks(router, event(Level.ERROR)) == []


def _source(name: str, format: str = "json") -> SourceConfig:
    return SourceConfig(name=name, paths=(f"/logs/{name}/*.log",), format=format)


def test_routes_that_can_never_match_are_named_with_the_reason() -> None:
    sources = (_source("bot"), _source("plain", "text"))
    routes = (
        RouteConfig(name="ok", sinks=("s",), match={"level": "^WARNING$", "kind": "error"}),
        RouteConfig(name="warn", sinks=("s",), match={"level": "^WARN$"}),
        RouteConfig(name="below", sinks=("s",), min_level=Level.ERROR,
                    match={"level": "warning"}),
        RouteConfig(name="kinds", sinks=("s",), match={"kind": "^crash$"}),
        RouteConfig(name="sources", sinks=("s",), match={"source": "^statsbot$"}),
        RouteConfig(name="textfield", sinks=("s",), sources=("plain",),
                    match={"User ID": "1"}),
        RouteConfig(name="jsonfield", sinks=("s",), match={"User ID": "1"}),
    )
    found = never_matching(routes, sources)
    assert [route for route, _ in found] == ["warn", "below", "kinds", "sources", "textfield"]
    reasons = dict(found)
    assert "debug, info, warning, error, critical" in reasons["warn"]
    assert "below its min_level error" in reasons["below"]
    assert "error, performance, member, status, log" in reasons["kinds"]
    assert "bot, plain" in reasons["sources"]
    assert "plain" in reasons["textfield"] and "'User ID'" in reasons["textfield"]


def test_a_text_source_can_carry_the_fields_its_records_name() -> None:
    """Only a name no text record can produce is flagged: tree items, k=v pairs."""
    sources = (_source("plain", "text"),)
    for key in ("guild_id", "context.user", "member_id", "cpu", "Bot.ID"):
        route = RouteConfig(name="r", sinks=("s",), match={key: "x"})
        assert never_matching((route,), sources) == [], key
