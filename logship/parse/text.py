"""Plain text logs: one record per prefixed line, plus the lines that continue it.

A record starts with a line; tracebacks and indented lines that follow join it (see
`multiline`). Because the next line may still belong to the last record, the parser
holds that record until the next record starts, and `buffered_from` says where the held
record begins so the checkpoint never passes it. `flush()` emits it (at rotation, or when
the caller decides the file has gone quiet).

Prefixes understood (anything else is a plain INFO line):
- `LEVEL:logger:message` (logging's default format);
- `2025-07-16 12:00:00,123 - name - LEVEL - message`, `... LEVEL name: message`,
  `... LEVEL message`, `... [LEVEL] message`, `... | LEVEL | message`, and a bare
  timestamp before the message;
- `[ts] [LEVEL] [service] message` (StructuredLogger, tree_log) and `[LEVEL] message`.

A timestamp that is not ISO 8601 (tree_log's `07/15 03:42 PM EST`) stays in
`fields["timestamp"]`; naive timestamps are UTC (see `common`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logship.event import Event, Level
from logship.parse.common import Lines, decode, line_start, parse_ts
from logship.parse.kinds import LOG, classify
from logship.parse.multiline import (
    AFTER_EXCEPTION,
    BLANK,
    EXCEPTION,
    NEW,
    OUTSIDE,
    continuation,
)

MAX_RECORD_LINES = 1000
"""A record is emitted once it has this many lines; what follows starts another one."""

_TS = (r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
       r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}))?)")
_LEVEL = r"(?P<level>[A-Za-z]{3,9})"

_DIGIT_PATTERNS = tuple(re.compile(p) for p in (
    _TS + r"\s+-\s+(?P<logger>\S(?:.*?\S)?)\s+-\s+" + _LEVEL + r"\s+-\s?(?P<msg>.*)",
    _TS + r"\s+" + _LEVEL + r"\s+(?P<logger>[\w.\-]+):\s(?P<msg>.*)",
    _TS + r"\s*(?:[-|]\s*)?\[?" + _LEVEL + r"\]?(?:\s*[-|:]\s?|\s+|$)(?P<msg>.*)",
    _TS + r"(?:\s*[-|]\s?|\s+|$)(?P<msg>.*)",
))
_BRACKET_PATTERNS = tuple(re.compile(p) for p in (
    r"\[(?P<ts>[^\]]{4,40})\]\s+\[" + _LEVEL
    + r"\]\s?(?:\[(?P<logger>[\w.\-]{1,64})\]\s)?(?P<msg>.*)",
    r"\[" + _LEVEL + r"\]\s?(?P<msg>.*)",
))
_UPPER_PATTERNS = (re.compile(r"(?P<level>[A-Z]{4,8}):(?P<logger>[^:]*):(?P<msg>.*)"),)

Prefix = tuple[Level, datetime | None, str | None, str, dict[str, Any]]


def parse_prefix(text: str) -> Prefix | None:
    """Level, time, logger, message and fields of a line with a known prefix, else None.

    >>> level, ts, logger, message, fields = parse_prefix(
    ...     "2025-07-16 12:00:00,123 - bot.db - ERROR - query failed")
    >>> level.name, ts.isoformat(), logger, message
    ('ERROR', '2025-07-16T12:00:00.123000+00:00', 'bot.db', 'query failed')
    >>> parse_prefix("just words") is None
    True
    """
    first = text[:1]
    if first.isdigit():
        patterns = _DIGIT_PATTERNS
    elif first == "[":
        patterns = _BRACKET_PATTERNS
    elif first.isupper():
        patterns = _UPPER_PATTERNS
    else:
        return None
    for pattern in patterns:
        found = pattern.match(text)
        if found is not None:
            prefix = _from_match(found)
            if prefix is not None:
                return prefix
    return None


def _from_match(found: re.Match[str]) -> Prefix | None:
    """The prefix a pattern found, or None when its level word names no level."""
    groups = found.groupdict()
    level_text = groups.get("level")
    level = Level.INFO
    if level_text is not None:
        named = Level.from_name(level_text)
        if named is None:
            return None
        level = named
    fields: dict[str, Any] = {}
    ts = None
    stamp = groups.get("ts")
    if stamp is not None:
        ts = parse_ts(stamp)
        if ts is None:
            fields["timestamp"] = stamp
    logger = groups.get("logger") or None
    return level, ts, logger, groups["msg"], fields


def is_record_start(text: str) -> bool:
    """Whether an unindented line carries a known prefix (a traceback cannot end on it).

    >>> is_record_start("ERROR:root:boom"), is_record_start("ValueError: boom")
    (True, False)
    """
    return parse_prefix(text) is not None


@dataclass(slots=True)
class _Record:
    """A record being assembled from its lines."""

    start: int
    end: int
    level: Level
    ts: datetime | None
    logger: str | None
    message: list[str]
    fields: dict[str, Any]
    exception: list[str] = field(default_factory=list)
    state: int = OUTSIDE
    blanks: int = 0
    lines: int = 1
    orphan: bool = False  # began with a traceback, not a log line


class TextParser:
    """Parses text lines into records, joining tracebacks and indented lines.

    >>> parser = TextParser(source="bot", path="/logs/bot.log")
    >>> lines = [b"ERROR:bot:boom", b"Traceback (most recent call last):",
    ...          b'  File "bot.py", line 1, in <module>', b"ValueError: bad"]
    >>> parser.feed(lines, [15, 50, 87, 103])
    []
    >>> parser.buffered_from
    0
    >>> [event] = parser.flush()
    >>> event.level.name, event.message, event.exception.splitlines()[-1], event.offset
    ('ERROR', 'boom', 'ValueError: bad', 103)
    """

    __slots__ = ("_held", "_position", "path", "source")

    def __init__(self, *, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self._held: _Record | None = None
        self._position: int | None = None  # offset past the last line fed

    @property
    def buffered_from(self) -> int | None:
        """Where the held record starts (the checkpoint must not pass it); None if none."""
        return None if self._held is None else self._held.start

    def feed(self, lines: Lines, ends: list[int]) -> list[Event]:
        """The records that `lines` complete; the last one is held (see `flush`).

        The first line ever fed starts at `ends[0] - len(lines[0]) - 1` (exact unless the
        reader cut that line at max_line_bytes); later lines start where the previous ended.
        """
        out: list[Event] = []
        if not lines:
            return out
        start = self._position
        if start is None:
            start = line_start(lines[0], ends[0])
        push = self.push
        for line, end in zip(lines, ends, strict=False):
            event = push(decode(line), start, end)
            if event is not None:
                out.append(event)
            start = end
        self._position = start
        return out

    def flush(self) -> list[Event]:
        """Emit the held record, if any: nothing more will be added to it."""
        event = self.take()
        return [] if event is None else [event]

    def take(self) -> Event | None:
        """The held record as an event (None if none); it is no longer held."""
        held, self._held = self._held, None
        return None if held is None else self._emit(held)

    def push(self, text: str, start: int, end: int) -> Event | None:
        """Add one decoded line spanning [start, end); return the record it completed."""
        held = self._held
        role, state = continuation(text, OUTSIDE if held is None else held.state,
                                   is_record_start)
        if role == BLANK:
            if held is not None:
                held.blanks += 1
            return None
        if role != NEW and held is not None and held.lines < MAX_RECORD_LINES:
            _extend(held, text, role, state, end)
            return None
        self._held = self._begin(text, role, state, start, end)
        return None if held is None else self._emit(held)

    def _begin(self, text: str, role: int, state: int, start: int, end: int) -> _Record:
        if role == NEW:
            prefix = parse_prefix(text)
            if prefix is not None:
                level, ts, logger, message, fields = prefix
                return _Record(start, end, level, ts, logger, [message], fields)
            return _Record(start, end, Level.INFO, None, None, [text], {})
        if role == EXCEPTION:  # a traceback with no record before it: an uncaught error
            return _Record(start, end, Level.ERROR, None, None, [text.strip()], {},
                           exception=[text], state=state, orphan=True)
        return _Record(start, end, Level.INFO, None, None, [text.strip()], {}, state=state)

    def _emit(self, record: _Record) -> Event:
        exception = "\n".join(record.exception) if record.exception else None
        event = Event(record.ts, record.level, "\n".join(record.message), record.logger,
                      record.fields, exception, LOG, self.source, self.path, record.end)
        event.kind = classify(event)
        return event


def _extend(record: _Record, text: str, role: int, state: int, end: int) -> None:
    """Add a continuation line to the held record (with the blank lines before it)."""
    target = record.exception if role == EXCEPTION else record.message
    if record.blanks:
        if target:
            target.extend([""] * record.blanks)
        record.blanks = 0
    target.append(text)
    record.state = state
    record.end = end
    record.lines += 1
    if record.orphan and role == EXCEPTION and state == AFTER_EXCEPTION:
        record.message = [text]
