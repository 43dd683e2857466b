"""Storm mode: when a sink gets more than its channel can take, for long, summarise.

Digests already pack a backlog into as few requests as the limits allow. When even that
is not enough for longer than `STORM_AFTER` seconds (the sink's queue stayed full, so
reading is held back), the sink switches to storm mode: it says so in the channel, then
counts incoming events by fingerprint instead of queueing them (each counted event is
done for the checkpoint) and every `SUMMARY_EVERY` seconds sends the top fingerprints
with their counts. When a summary interval brings no more than the channel took per
interval before the storm, it says the storm is over and goes back to sending events.

Pure bookkeeping; the daemon feeds it and sends the events it makes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from logship.event import Event, Level
from logship.fingerprint import fingerprint

STORM_AFTER = 60.0  # seconds of a full queue before storm mode
SUMMARY_EVERY = 30.0  # seconds between storm summaries
TOP = 10  # fingerprints a summary lists


class Storm:
    """One sink's storm state.

    >>> now = [0.0]; storm = Storm("errors", clock=lambda: now[0], after=10, every=5)
    >>> storm.observe(queue_full=True, delivered=0), storm.active
    (None, False)
    >>> now[0] = 11; storm.observe(queue_full=True, delivered=20).message.split(":")[0]
    '⛈️ storm on errors'
    >>> for n in (1, 2):
    ...     storm.count(Event(None, Level.ERROR, f"boom {n}"))
    >>> now[0] = 16; storm.summary().message.splitlines()[1]
    '×2 boom 1'
    """

    def __init__(self, sink: str, clock: Callable[[], float] = time.monotonic,
                 after: float = STORM_AFTER, every: float = SUMMARY_EVERY) -> None:
        self.sink = sink
        self._clock = clock
        self.after = after
        self.every = every
        self.active = False
        self._full_since: float | None = None
        self._delivered_at_full = 0
        self._capacity = 0  # events the sink delivered per interval before the storm
        self._counts: Counter[str] = Counter()
        self._first: dict[str, str] = {}
        self._levels: dict[str, Level] = {}
        self._since = 0.0
        self.total = 0

    def observe(self, queue_full: bool, delivered: int) -> Event | None:
        """Called as events arrive; the notice to send when the storm begins."""
        now = self._clock()
        if self.active:
            return None
        if not queue_full:
            self._full_since = None
            return None
        if self._full_since is None:
            self._full_since, self._delivered_at_full = now, delivered
            return None
        if now - self._full_since < self.after:
            return None
        rate = (delivered - self._delivered_at_full) / max(now - self._full_since, 1e-9)
        self._capacity = max(1, int(rate * self.every))
        self.active, self._since, self.total = True, now, 0
        return self._notice(f"⛈️ storm on {self.sink}: more events than the channel can take "
                            f"for {self.after:.0f} s; sending the top errors every "
                            f"{self.every:.0f} s instead of each event", Level.WARNING)

    def count(self, event: Event) -> None:
        """An event during the storm: counted (it is done), not sent."""
        key = event.fingerprint or fingerprint(event)
        if key not in self._first:
            self._first[key] = event.message.strip().split("\n", 1)[0][:150]
        self._levels[key] = max(self._levels.get(key, Level.DEBUG), event.level)
        self._counts[key] += 1
        self.total += 1

    def due(self) -> bool:
        return self.active and self._clock() - self._since >= self.every

    def next_due(self) -> float | None:
        if not self.active:
            return None
        return max(0.0, self._since + self.every - self._clock())

    def summary(self) -> Event:
        """The top fingerprints since the last summary; ends the storm when calm."""
        counts, self._counts = self._counts, Counter()
        interval = sum(counts.values())
        top = counts.most_common(TOP)
        lines = [f"×{n} {self._first.get(key, key)}" for key, n in top]
        others = interval - sum(n for _, n in top)
        if others:
            lines.append(f"…and {others} more of {len(counts) - len(top)} other errors")
        level = max((self._levels[key] for key, _ in top), default=Level.INFO)
        self._first, self._levels = {}, {}  # per summary, like the counts: memory stays flat
        self._since = self._clock()
        if interval <= self._capacity:
            self.active = False
            self._full_since = None
            head = f"☀️ storm over on {self.sink}: {self.total} events summarised"
        else:
            head = f"⛈️ storm on {self.sink}: {interval} events in {self.every:.0f} s"
        return self._notice("\n".join([head, *lines]), level)

    def _notice(self, text: str, level: Level) -> Event:
        return Event(ts=datetime.now(UTC), level=level, message=text, kind="status",
                     source="logship", fields={"storm": self.sink})
