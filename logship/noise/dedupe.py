"""Noise control: a storm of one error is one message that keeps count.

For a route with `dedupe_window`, the first event of a fingerprint (see `fingerprint`)
goes out at once; repeats inside the window are counted, not sent, and count as done for
the checkpoint. Once Discord has answered the first with its message id, that message is
edited in place, at most every `EDIT_EVERY` seconds, to show "×N, last at HH:MM:SS".
When the window ends, a last edit shows the final count; if the message can no longer be
edited (deleted, or it went out in a shared digest), a short summary message is sent
instead. The counts are saved with the checkpoints, so a restart keeps counting.

A window is saved only once its first event is resolved (Discord answered for it, or it
is in the spool): saved earlier, a crash before the send would leave a count of a
message that never existed, and the first event, read again after the restart, would be
counted as its repeat instead of being sent.

This module is the bookkeeping, pure and synchronous; the daemon drives it (`admit` on
routing, `delivered` from the worker, `due` on a timer) and makes the requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logship.config import RouteConfig
from logship.event import Event
from logship.noise.fingerprint import fingerprint

EDIT_EVERY = 2.0  # seconds between edits of one message (each costs a request)

Key = tuple[str, str, str]  # route, sink, fingerprint


@dataclass
class Repeat:
    """One error's count within one route's window, for one sink."""

    route: str
    sink: str
    fingerprint: str
    first: Event  # the event that went out; its message is edited
    window_end: float  # wall-clock seconds
    count: int = 1  # occurrences, the first included
    last_at: float = 0.0  # wall-clock seconds of the latest occurrence
    message_id: str | None = None  # Discord's id of the first's message, once known
    editable: bool = True  # False when the first went out inside a shared digest
    shown: int = 1  # the count the message shows now
    edited_at: float = 0.0
    resolved: bool = False  # the first was delivered or spooled: the window may be saved
    shared: bool = False  # a cluster's window: the count and hosts are Redis's (`cluster`)
    hosts: int = 1  # hosts that saw the error (a cluster's window)

    @property
    def key(self) -> Key:
        return self.route, self.sink, self.fingerprint

    def note(self) -> str:
        """What the message says about the repeats, e.g. "×1000, last at 12:00:09"."""
        last = datetime.fromtimestamp(self.last_at, UTC).strftime("%H:%M:%S")
        where = f" on {self.hosts} hosts" if self.hosts > 1 else ""
        return f"×{self.count}{where}, last at {last} UTC"

    def to_state(self) -> dict[str, Any]:
        return {"route": self.route, "sink": self.sink, "fingerprint": self.fingerprint,
                "first": self.first.to_record(), "window_end": self.window_end,
                "count": self.count, "last_at": self.last_at, "message_id": self.message_id,
                "editable": self.editable, "shown": self.shown}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Repeat:
        return cls(route=data["route"], sink=data["sink"], fingerprint=data["fingerprint"],
                   first=Event.from_record(data["first"]), window_end=data["window_end"],
                   count=data["count"], last_at=data["last_at"],
                   message_id=data.get("message_id"), editable=data.get("editable", True),
                   shown=data.get("shown", 1), resolved=True)


class Deduper:
    """Which events to send, and which messages to edit when.

    >>> from logship.event import Level
    >>> now = [1000.0]
    >>> d = Deduper(clock=lambda: now[0])
    >>> route = RouteConfig(name="errors", sinks=("e",), dedupe_window=300.0)
    >>> boom = lambda: Event(None, Level.ERROR, "timeout after 31 ms")
    >>> d.admit(route, "e", boom()), d.admit(route, "e", boom()), d.admit(route, "e", boom())
    (True, False, False)
    >>> [r.count for r in d.repeats()]
    [3]
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._repeats: dict[Key, Repeat] = {}
        self._closing: list[Repeat] = []  # windows that ended with a new one begun
        # (id(first event), sink) -> its repeat, until Discord answered for it
        self._by_first: dict[tuple[int, str], Repeat] = {}
        self.changed = False

    def repeats(self) -> list[Repeat]:
        return list(self._repeats.values())

    def window(self, route: RouteConfig, sink: str, fingerprint: str) -> Repeat | None:
        """This host's open window for the error `fingerprint` through `route` to `sink`."""
        repeat = self._repeats.get((route.name, sink, fingerprint))
        if repeat is None or self._clock() >= repeat.window_end:
            return None
        return repeat

    def admit(self, route: RouteConfig, sink: str, event: Event) -> bool:
        """True when `event` is to be sent to `sink`; False when it was counted."""
        window = route.dedupe_window
        if window is None:
            return True
        if event.fingerprint is None:
            event.fingerprint = fingerprint(event)
        key = (route.name, sink, event.fingerprint)
        now = self._clock()
        repeat = self._repeats.get(key)
        self.changed = True
        if repeat is None or now >= repeat.window_end:
            if repeat is not None:
                self._closing.append(repeat)  # `due` gives it its last edit
                self._by_first.pop((id(repeat.first), sink), None)
            repeat = Repeat(route.name, sink, event.fingerprint, event,
                            window_end=now + window, last_at=now)
            self._repeats[key] = self._by_first[(id(event), sink)] = repeat
            return True
        repeat.count += 1
        repeat.last_at = now
        return False

    def delivered(self, sink: str, events: Iterable[Event], message_id: str | None,
                  shared: bool) -> list[Repeat]:
        """Discord answered for a message holding `events` (several when `shared`); the
        windows of the firsts among them (their messages may now be edited)."""
        found: list[Repeat] = []
        for event in events:
            repeat = self._by_first.pop((id(event), sink), None)
            if repeat is None or repeat.first is not event:
                continue
            repeat.message_id = message_id
            repeat.editable = not shared and message_id is not None
            repeat.resolved = True
            self.changed = True
            found.append(repeat)
        return found

    def spooled(self, sink: str, events: Iterable[Event]) -> None:
        """`events` went to `sink`'s spool: a first among them is resolved (its window
        may be saved now); with no message to edit, its window ends in a summary."""
        for event in events:
            repeat = self._by_first.pop((id(event), sink), None)
            if repeat is None or repeat.first is not event:
                continue
            repeat.editable = False
            repeat.resolved = True
            self.changed = True

    def due(self) -> Iterator[tuple[Repeat, bool]]:
        """(repeat, final) for each message to edit now; `final` when its window ended
        (it is forgotten after this). An unedited count grew since the last edit."""
        now = self._clock()
        closing, self._closing = self._closing, []
        for repeat in closing:
            if repeat.count > repeat.shown:
                yield repeat, True
        for key, repeat in list(self._repeats.items()):
            final = now >= repeat.window_end
            grew = repeat.count > repeat.shown
            if final:
                del self._repeats[key]
                self._by_first.pop((id(repeat.first), repeat.sink), None)
                self.changed = True
                if grew or repeat.shared:  # (a shared count may have grown elsewhere)
                    yield repeat, True
            elif ((grew or repeat.shared) and repeat.message_id
                  and now - repeat.edited_at >= EDIT_EVERY):
                yield repeat, False  # (a shared count may have grown on other hosts)

    def shown(self, repeat: Repeat, count: int) -> None:
        """The message (or a summary) now shows `count`."""
        repeat.shown = count
        repeat.edited_at = self._clock()
        self.changed = True

    def next_due(self) -> float | None:
        """Seconds until `due` may have something, None when nothing is pending."""
        if self._closing:
            return 0.0
        if not self._repeats:
            return None
        now = self._clock()
        waits = [r.window_end - now for r in self._repeats.values()]
        waits += [r.edited_at + EDIT_EVERY - now for r in self._repeats.values()
                  if (r.count > r.shown or r.shared) and r.message_id]
        return max(0.0, min(waits))

    def to_state(self) -> list[dict[str, Any]]:
        """The windows to save: those whose first event is resolved (see the module)."""
        return [r.to_state() for r in self._repeats.values() if r.resolved]

    def load(self, state: Iterable[dict[str, Any]]) -> None:
        for data in state:
            repeat = Repeat.from_state(data)
            repeat.first.fingerprint = repeat.fingerprint
            self._repeats[repeat.key] = repeat
