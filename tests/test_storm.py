"""Storm mode's bookkeeping: what each summary says, and that it forgets what it said."""

from __future__ import annotations

from logship.event import Event, Level
from logship.storm import Storm


def storming() -> tuple[Storm, list[float]]:
    now = [0.0]
    storm = Storm("errors", clock=lambda: now[0], after=10, every=5)
    storm.observe(queue_full=True, delivered=0)
    now[0] = 11
    assert storm.observe(queue_full=True, delivered=2) is not None  # capacity: 1 per 5 s
    return storm, now


def test_each_summary_speaks_only_of_its_own_interval() -> None:
    storm, now = storming()
    for _ in range(3):
        storm.count(Event(None, Level.CRITICAL, "database down"))
    now[0] = 16
    first = storm.summary()
    assert first.level == Level.CRITICAL and "×3 database down" in first.message
    for _ in range(3):  # the same error again, now only a warning, and a new one
        storm.count(Event(None, Level.WARNING, "database down"))
    storm.count(Event(None, Level.WARNING, "cache cold"))
    now[0] = 21
    second = storm.summary()
    assert second.level == Level.WARNING  # not the CRITICAL of an interval ago
    assert second.message.splitlines()[1:] == ["×3 database down", "×1 cache cold"]


def test_a_long_storm_of_ever_new_errors_keeps_no_more_than_an_interval() -> None:
    storm, now = storming()
    for interval in range(1, 51):
        for n in range(100):
            storm.count(Event(None, Level.ERROR, f"unique failure {interval}-{n} in {'x' * n}"))
        now[0] = 11 + 5 * interval
        storm.summary()
        assert len(storm._first) == len(storm._levels) == 0
