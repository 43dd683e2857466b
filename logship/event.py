"""The event every stage passes along, its level, and its acknowledgement handle.

An `Event` is what a parser makes of one log record. It travels from the tailer through
the router to one or more delivery workers. Each event read from a file carries an
`Ack`: the workers resolve it (delivered, filtered or spooled) and the tailer's
checkpoint logic, which created it, listens. That handle is how the checkpoint learns
that an offset is safe without `tail` and `deliver` ever importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Log severity, ordered so that routes can say `min_level`."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def from_name(cls, name: str) -> Level | None:
        """The level a log record's level text names, or None when it names none.

        >>> Level.from_name("warn"), Level.from_name("Fatal"), Level.from_name("verbose")
        (<Level.WARNING: 30>, <Level.CRITICAL: 50>, None)
        """
        return _LEVEL_NAMES.get(name.strip().lower())


_LEVEL_NAMES: dict[str, Level] = {
    "trace": Level.DEBUG,
    "debug": Level.DEBUG,
    "info": Level.INFO,
    "information": Level.INFO,
    "notice": Level.INFO,
    "warn": Level.WARNING,
    "warning": Level.WARNING,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "exception": Level.ERROR,
    "critical": Level.CRITICAL,
    "crit": Level.CRITICAL,
    "fatal": Level.CRITICAL,
    "emergency": Level.CRITICAL,
    "alert": Level.CRITICAL,
}


class Ack:
    """Completion handle for one event read from a file.

    The event is *done* once every sink it was routed to has resolved its share, by
    delivering it or by writing it to the spool. `expect(n)` sets how many shares there
    are; `resolve()` is called once per share. When the count reaches zero the
    `on_done` callback (set by whoever created the handle) runs exactly once.
    """

    __slots__ = ("_on_done", "_pending", "offset")

    def __init__(self, offset: int, on_done: Callable[[Ack], None] | None = None) -> None:
        self.offset = offset
        self._pending = 0
        self._on_done = on_done

    @property
    def done(self) -> bool:
        return self._pending == 0

    def expect(self, shares: int) -> None:
        """Declare `shares` more resolutions before this event is done."""
        self._pending += shares

    def resolve(self) -> None:
        """One share is finished (delivered or safely spooled)."""
        if self._pending <= 0:
            raise RuntimeError("Ack resolved more often than expected")
        self._pending -= 1
        if self._pending == 0 and self._on_done is not None:
            self._on_done(self)


@dataclass(slots=True, weakref_slot=True)
class Event:
    """One log record, parsed.

    `offset` is the byte offset just past the record in its file: the value the
    checkpoint may advance to once this event is done. `fields` hold the record's
    structured data with snowflake ids as text. `kind` is a coarse class used by routes
    and templates ("error", "performance", "member", "status", "log"). An event takes
    weak references: what is worked out from it (a sink's redacted copy) can be
    remembered for exactly as long as it lives.
    """

    ts: datetime | None
    level: Level
    message: str
    logger: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None
    kind: str = "log"
    source: str = ""
    path: str = ""
    offset: int = 0
    fingerprint: str | None = None
    ack: Ack | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict of this event (for the spool), without the ack handle."""
        return {
            "ts": self.ts.isoformat() if self.ts else None,
            "level": self.level.name,
            "message": self.message,
            "logger": self.logger,
            "fields": self.fields,
            "exception": self.exception,
            "kind": self.kind,
            "source": self.source,
            "path": self.path,
            "offset": self.offset,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        """The inverse of `to_record`."""
        ts = record.get("ts")
        return cls(
            ts=datetime.fromisoformat(ts) if ts else None,
            level=Level[record["level"]],
            message=record["message"],
            logger=record.get("logger"),
            fields=record.get("fields") or {},
            exception=record.get("exception"),
            kind=record.get("kind", "log"),
            source=record.get("source", ""),
            path=record.get("path", ""),
            offset=record.get("offset", 0),
            fingerprint=record.get("fingerprint"),
        )
