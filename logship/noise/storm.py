"""Storm mode: when a sink gets more than its channel can take, for long, summarise.

Digests already pack a backlog into as few requests as the limits allow. When even that
is not enough for longer than `STORM_AFTER` seconds (the sink's queue stayed full, so
reading is held back), the sink switches to storm mode: it says so in the channel, then
counts incoming events by fingerprint instead of queueing them, and every
`SUMMARY_EVERY` seconds sends the top fingerprints with their counts. When a summary
interval brings no more than the channel took per interval before the storm, it says the
storm is over and goes back to sending events.

A counted event is not done until the summary that counts it is: the storm keeps what
it counted (`count(..., keep=)`) and hands it over with the summary (`take_counted`), and
the summary message carries every one of those events in full (attached), so that
Discord's 200 for it delivers them, and a summary that must be spooled spools them. What
a storm keeps is bounded like a sink's queue: `max_events` events and `max_bytes` bytes;
at either cap counting waits (`wait_for_room`) until the next summary takes them, which
pauses reading as a full queue does. At a stop, `end` gives the last summary at once.

Bookkeeping; the daemon feeds it and sends the events it makes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logship.event import Event, Level
from logship.noise.fingerprint import fingerprint

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
                 after: float = STORM_AFTER, every: float = SUMMARY_EVERY, *,
                 max_events: int = 1000, max_bytes: int = 32 << 20) -> None:
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
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._kept: list[Any] = []  # what was counted, until the summary takes it
        self._kept_bytes = 0
        self._room = asyncio.Event()
        self._room.set()

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

    @property
    def full(self) -> bool:
        """What it keeps is at a cap: counting must wait for the next summary. An event
        larger than the byte cap still fits in an empty storm."""
        kept = len(self._kept)
        return kept >= self.max_events or (kept > 0 and self._kept_bytes >= self.max_bytes)

    @property
    def holding(self) -> int:
        """How many counted events wait for a summary."""
        return len(self._kept)

    async def wait_for_room(self) -> None:
        """Until counting may go on: room again, or the storm is over."""
        while self.active and self.full:
            self._room.clear()
            await self._room.wait()

    def count(self, event: Event, size: int = 0, keep: Any = None) -> None:
        """An event during the storm: counted, not sent; `keep` (the event itself when
        None) goes with the next summary (`take_counted`), `size` bytes of it."""
        self._kept.append(event if keep is None else keep)
        self._kept_bytes += size
        key = event.fingerprint or fingerprint(event)
        if key not in self._first:
            self._first[key] = event.message.strip().split("\n", 1)[0][:150]
        self._levels[key] = max(self._levels.get(key, Level.DEBUG), event.level)
        self._counts[key] += 1
        self.total += 1

    def take_counted(self) -> list[Any]:
        """What was counted since the last time (in order), out of the storm's hands:
        it goes with the summary, and counting has room again."""
        kept, self._kept, self._kept_bytes = self._kept, [], 0
        self._room.set()
        return kept

    def end(self) -> Event | None:
        """A stop: no more counting, and the summary of what is counted now (None when
        nothing is); `take_counted` gives what it counts."""
        notice = self.summary() if self._counts else None
        self.active = False
        self._full_since = None
        self._room.set()
        return notice

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
            self._room.set()
            head = f"☀️ storm over on {self.sink}: {self.total} events summarised"
        else:
            head = f"⛈️ storm on {self.sink}: {interval} events in {self.every:.0f} s"
        return self._notice("\n".join([head, *lines]), level)

    def _notice(self, text: str, level: Level) -> Event:
        return Event(ts=datetime.now(UTC), level=level, message=text, kind="status",
                     source="logship", fields={"storm": self.sink})
