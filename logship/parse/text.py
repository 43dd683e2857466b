"""Text logs: every text format of StatsBot and its siblings, told apart line by line.

A record starts with a line; what follows may join it: a traceback, indented lines,
tree items, banner content. Because the next line may still belong to the last record,
the parser holds that record until something ends it, and `buffered_from` says where
the held record begins so the checkpoint never passes it. `flush()` emits it (at
rotation, or when the file has gone quiet). Some records end by themselves and go out
at once: a tree section at its last top-level `└─`, a banner at its closing rule, a
sibling bot's tree at the blank line after it, anything at a tree_log blank record.

Prefixes understood (the first that fits; anything else is a plain INFO line):

- tree_log (older StatsBot): `[07/15 03:42 PM EST] [LEVEL] message`. A header with its
  `├─ key: value` items is one record (items as fields); an error header takes its
  detail (`└─ HTTPException: ...`), its frames (messages indented by three spaces) and
  the unprefixed source lines after them as its exception; lines between two `====`
  rules are one banner record (run start or end); a blank record (`[..] [INFO] `)
  ends the record before it and is dropped (but an ERROR blank inside a traceback logged
  line by line is the blank line before "During handling...": the traceback goes on).
- StructuredLogger (newer StatsBot): `[2025-07-15 20:42:07] [LEVEL] [service] message
  (k=v ...) [operation=X, duration=N.NNms] [error=Type: msg]`, times in UTC; the
  suffixes become fields (see `structured`), `service` is the logger and a field.
- the sibling bots' tree logger: `[03:42:09 PM EDT] 🤖 Bot Ready`, its branch lines
  (unprefixed, indented, nested by indentation) as fields, the level from the emoji.
- Python logging: `LEVEL:logger:message` (the default format), `2025-07-16 12:00:00,123
  - name - LEVEL - message`, `... LEVEL name: message`, `... LEVEL message`,
  `... [LEVEL] message`, `... | LEVEL | message`, a bare timestamp; `[ts] [LEVEL]
  [logger] message` and `[LEVEL] message`.

Partial stamps (no year, no date, "EST" printed by any clock) are resolved by
`clock.Clock` from the file's path date and the current time; the stamp as written
stays in `fields["raw_time"]`. A stamp that cannot be read at all stays in
`fields["timestamp"]`. Naive full timestamps are UTC (see `common`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logship.event import Event, Level
from logship.parse.clock import Clock, hour24, zone_offset
from logship.parse.common import Lines, decode, line_start, parse_ts
from logship.parse.multiline import (
    AFTER_EXCEPTION,
    EXCEPTION,
    MESSAGE,
    NEW,
    OUTSIDE,
    continuation,
)
from logship.parse.structured import split_suffixes
from logship.parse.tree import (
    BANNER,
    ERROR_TREE,
    MAX_RECORD_LINES,
    PLAIN,
    SECTION,
    Record,
    emoji_level,
    is_banner,
    is_filler,
    is_item,
    split_item,
    titled_banner,
)

__all__ = ["FIELD_NAME", "MAX_RECORD_LINES", "TextParser", "is_record_start", "parse_prefix",
           "scan"]

FIELD_NAME = re.compile(r"[\w.]+")
"""Every field name a text record can carry matches this: tree items' keys are lower
snake_case (`tree.field_key`), nested ones joined by "."; StructuredLogger's `k=v` keys
are letters, digits, "_" and "."; the rest are fixed names (`raw_time`, `service`...)."""

MAX_BANNER_LINES = 12
"""Lines a banner record takes between its rules before it is taken for no banner."""

# Dialects: which format a line's prefix is.
GENERIC = 0  # Python logging and other prefixed text
STRUCTURED = 1  # StructuredLogger text
TREELOG = 2  # tree_log text
SIBLING = 3  # the sibling bots' tree logger
UNPREFIXED = 4  # no prefix at all

_ZONE = r"(?P<zone>[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?)"
_TREELOG = re.compile(
    r"\[(?P<mon>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{2}|\d{4}))? (?P<h>\d{1,2}):(?P<m>\d{2})"
    r"(?::(?P<s>\d{2}))?\s?(?P<ap>[AaPp][Mm])?(?:\s" + _ZONE + r")?\] \[(?P<level>[A-Za-z]{1,12})\]"
    r"(?: |$)(?P<msg>.*)", re.DOTALL)
_STRUCTURED = re.compile(
    r"\[(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?(?:Z|UTC|[+-]\d{2}:?"
    r"\d{2}))?)\] \[(?P<level>[A-Za-z]{1,12})\](?: \[(?P<service>[\w.\-]{1,64})\])?(?: |$)"
    r"(?P<msg>.*)", re.DOTALL)
_SIBLING = re.compile(
    r"\[(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s?(?P<ap>[AaPp][Mm])?(?:\s" + _ZONE
    + r")?\](?: \[(?P<level>[A-Za-z]{3,9})\])?(?: |$)(?P<msg>.*)", re.DOTALL)

_TS = (r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
       r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}))?)")
_LEVEL = r"(?P<level>[A-Za-z]{3,9})"

_DIGIT_PATTERNS = tuple(re.compile(p, re.DOTALL) for p in (
    _TS + r"\s+-\s+(?P<logger>\S(?:.*?\S)?)\s+-\s+" + _LEVEL + r"\s+-\s?(?P<msg>.*)",
    _TS + r"\s+" + _LEVEL + r"\s+(?P<logger>[\w.\-]+):\s(?P<msg>.*)",
    _TS + r"\s*(?:[-|]\s*)?\[?" + _LEVEL + r"\]?(?:\s*[-|:]\s?|\s+|$)(?P<msg>.*)",
    _TS + r"(?:\s*[-|]\s?|\s+|$)(?P<msg>.*)",
))
_BRACKET_PATTERNS = tuple(re.compile(p, re.DOTALL) for p in (
    r"\[(?P<ts>[^\]]{4,40})\]\s+\[" + _LEVEL
    + r"\]\s?(?:\[(?P<logger>[\w.\-]{1,64})\]\s)?(?P<msg>.*)",
    r"\[" + _LEVEL + r"\]\s?(?P<msg>.*)",
))
_UPPER_PATTERNS = (re.compile(r"(?P<level>[A-Z]{4,8}):(?P<logger>[^:]*):(?P<msg>.*)",
                              re.DOTALL),)

Prefix = tuple[Level, datetime | None, str | None, str, dict[str, Any]]
Scanned = tuple[int, Level, datetime | None, str | None, str, dict[str, Any]]


def scan(text: str, clock: Clock | None = None) -> Scanned | None:
    """The dialect, level, time, logger, message and fields of a prefixed line, else None.

    >>> dialect, level, ts, logger, message, fields = scan(
    ...     "[07/15 03:44 PM EST] [INFO] ├─ id: 1", Clock("logs/2025-07-15/logs.log"))
    >>> dialect == TREELOG, level.name, ts.isoformat(), message, fields
    (True, 'INFO', '2025-07-15T15:44:00-05:00', '├─ id: 1', {'raw_time': '07/15 03:44 PM EST'})
    >>> scan("plain words") is None
    True
    """
    first = text[:1]
    if first == "[":
        second = text[1:2]
        if second.isdigit():
            found = None
            if "/" in text[2:4]:
                found = _TREELOG.match(text)
                if found is not None:
                    return _treelog(found, clock or Clock())
            elif text[5:6] == "-":
                found = _STRUCTURED.match(text)
                if found is not None:
                    return _structured(found)
            elif ":" in text[2:4]:
                found = _SIBLING.match(text)
                if found is not None:
                    return _sibling(found, clock or Clock())
        patterns: tuple[re.Pattern[str], ...] = _BRACKET_PATTERNS
    elif first.isdigit():
        patterns = _DIGIT_PATTERNS
    elif first.isupper():
        patterns = _UPPER_PATTERNS
    else:
        return None
    for pattern in patterns:
        found = pattern.match(text)
        if found is not None:
            prefix = _from_match(found)
            if prefix is not None:
                return (GENERIC, *prefix)
    return None


def parse_prefix(text: str) -> Prefix | None:
    """Level, time, logger, message and fields of a line with a known prefix, else None.

    >>> level, ts, logger, message, fields = parse_prefix(
    ...     "2025-07-16 12:00:00,123 - bot.db - ERROR - query failed")
    >>> level.name, ts.isoformat(), logger, message
    ('ERROR', '2025-07-16T12:00:00.123000+00:00', 'bot.db', 'query failed')
    >>> parse_prefix("just words") is None
    True
    """
    scanned = scan(text)
    return None if scanned is None else scanned[1:]  # type: ignore[return-value]


def is_record_start(text: str) -> bool:
    """Whether an unindented line carries a known prefix (a traceback cannot end on it).

    >>> is_record_start("ERROR:root:boom"), is_record_start("ValueError: boom")
    (True, False)
    """
    return scan(text) is not None


def _level(text: str, fields: dict[str, Any]) -> Level:
    level = Level.from_name(text)
    if level is None:
        fields["level_name"] = text
        return Level.INFO
    return level


def _treelog(found: re.Match[str], clock: Clock) -> Scanned:
    raw = found.string[1:found.start("level") - 3]
    fields: dict[str, Any] = {"raw_time": raw}
    level = _level(found["level"], fields)
    if raw == clock.last_raw:  # every line of a record carries the same stamp
        return TREELOG, level, clock.last_stamp, None, found["msg"], fields
    stamp = _treelog_stamp(found, clock)
    clock.last_raw, clock.last_stamp = raw, stamp
    return TREELOG, level, stamp, None, found["msg"], fields


def _treelog_stamp(found: re.Match[str], clock: Clock) -> datetime | None:
    hour = hour24(int(found["h"]), found["ap"])
    second = int(found["s"]) if found["s"] else None
    if found["year"]:
        year = int(found["year"])
        return _dated(year + 2000 if year < 100 else year, int(found["mon"]), int(found["day"]),
                      hour, int(found["m"]), second, found["zone"] or "")
    return clock.month_day(int(found["mon"]), int(found["day"]), hour, int(found["m"]), second,
                           found["zone"] or "")


def _dated(year: int, month: int, day: int, hour: int, minute: int, second: int | None,
           zone: str) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second or 0,
                        tzinfo=zone_offset(zone) or UTC)
    except ValueError:
        return None


def _structured(found: re.Match[str]) -> Scanned:
    fields: dict[str, Any] = {}
    level = _level(found["level"], fields)
    stamp = parse_ts(found["ts"])
    if stamp is None:
        fields["timestamp"] = found["ts"]
    service = found["service"]
    if service is not None:
        fields["service"] = service
    message, extra = split_suffixes(found["msg"])
    for key, value in extra.items():
        fields[f"context.{key}" if key in fields else key] = value
    return STRUCTURED, level, stamp, service, message, fields


def _sibling(found: re.Match[str], clock: Clock) -> Scanned:
    end = found.end("zone") if found["zone"] else found.end("ap") if found["ap"] else (
        found.end("s") if found["s"] else found.end("m"))
    fields: dict[str, Any] = {"raw_time": found.string[1:end]}
    message = found["msg"]
    level = _level(found["level"], fields) if found["level"] else emoji_level(message) or Level.INFO
    second = int(found["s"]) if found["s"] else None
    stamp = clock.time_only(hour24(int(found["h"]), found["ap"]), int(found["m"]), second,
                            found["zone"] or "")
    return SIBLING, level, stamp, None, message, fields


def _from_match(found: re.Match[str]) -> Prefix | None:
    """The prefix a generic pattern found, or None when its level word names no level."""
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


class TextParser:
    """Parses text lines into records, joining tracebacks, tree items and banners.

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

    __slots__ = ("_clock", "_held", "_position", "path", "source")

    def __init__(self, *, source: str, path: str,
                 now: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self.path = path
        self._clock = Clock(path, now)
        self._held: Record | None = None
        self._position: int | None = None  # offset past the last line fed

    @property
    def buffered_from(self) -> int | None:
        """Where the held record starts (the checkpoint must not pass it); None if none."""
        return None if self._held is None else self._held.start

    def feed(self, lines: Lines, ends: list[int], start: int | None = None) -> list[Event]:
        """The records that `lines` complete; the last one may be held (see `flush`).

        `start` is where the first line begins; by default where the last batch ended, or
        for the very first line `ends[0] - len(lines[0]) - 1` (exact unless the reader cut
        that line at max_line_bytes).
        """
        out: list[Event] = []
        if not lines:
            return out
        if start is None:
            start = self._position
            if start is None:
                start = line_start(lines[0], ends[0])
        push = self.push
        for line, end in zip(lines, ends, strict=False):
            push(decode(line), start, end, out)
            start = end
        self._position = start
        return out

    def flush(self) -> list[Event]:
        """Emit the held record, if any: nothing more will be added to it."""
        event = self.take()
        return [] if event is None else [event]

    def take(self) -> Event | None:
        """The held record as an event (None if none, or if it says nothing); it is no
        longer held."""
        held, self._held = self._held, None
        if held is None or not held.content:
            return None
        return held.event(self.source, self.path)

    def _emit_held(self, out: list[Event]) -> None:
        event = self.take()
        if event is not None:
            out.append(event)

    def push(self, text: str, start: int, end: int, out: list[Event]) -> None:
        """Add one decoded line spanning [start, end); append what it completes to `out`."""
        held = self._held
        if not text or text.isspace():
            if held is not None:
                if held.dialect == SIBLING and held.state == OUTSIDE:
                    self._emit_held(out)  # a blank line ends a sibling bot's tree
                else:
                    held.blanks += 1
            return
        first = text[0]
        scanned = None
        if first == "[" or first.isdigit() or first.isupper():
            scanned = scan(text, self._clock)
        if scanned is None:
            self._unprefixed(text, start, end, out)
        else:
            self._prefixed(scanned, start, end, out)
        held = self._held
        if held is not None and held.closed:
            self._emit_held(out)

    # -- lines with a prefix --------------------------------------------------------------

    def _prefixed(self, scanned: Scanned, start: int, end: int, out: list[Event]) -> None:
        dialect, level, ts, logger, message, fields = scanned
        held = self._held
        if held is not None and held.lines < MAX_RECORD_LINES:
            if dialect == TREELOG and held.dialect == TREELOG and _joins_tree_log(held, message):
                held.level = max(held.level, level)
                held.end = end
                return
            if (held.style == BANNER and not held.closed and held.dialect == dialect
                    and dialect != GENERIC and held.level == level
                    and held.lines < MAX_BANNER_LINES) and (message.strip() or not held.content):
                held.add_content(message)
                held.end = end
                return
                # a blank record after the banner's content: the banner had no closing rule
        if is_filler(message):
            stripped = message.strip()
            if not stripped:
                if held is not None and _blank_in_traceback(held, dialect, level):
                    held.blanks += 1
                else:  # a blank record: the end of whatever came before
                    self._emit_held(out)
            elif is_banner(stripped):
                self._emit_held(out)
                self._held = Record(start, end, level, ts, logger, [], fields, style=BANNER,
                                    dialect=dialect, content=False)
            elif held is not None:  # a bare vertical rule: part of the tree above
                held.end = end
            return
        self._emit_held(out)
        self._held = _begin(dialect, level, ts, logger, message, fields, start, end)

    # -- lines without one ----------------------------------------------------------------

    def _unprefixed(self, text: str, start: int, end: int, out: list[Event]) -> None:
        held = self._held
        if held is not None and held.lines < MAX_RECORD_LINES:
            if held.state == OUTSIDE and is_item(text):
                parts = split_item(text)
                if parts is None:
                    held.lines += 1  # a bare vertical rule
                else:
                    held.add_item(*parts)
                held.blanks = 0
                held.end = end
                return
            if held.state == OUTSIDE and is_banner(text):
                if held.style == BANNER:
                    held.add_content(text)
                    held.end = end
                    return
            else:
                role, state = continuation(text, held.state)
                if role != NEW:
                    _extend(held, text, role, state, end)
                    return
                if (held.style == BANNER and not held.closed and held.dialect in (
                        SIBLING, UNPREFIXED) and held.lines < MAX_BANNER_LINES):
                    held.add_content(text)
                    held.end = end
                    return
        self._emit_held(out)
        self._held = _begin_unprefixed(text, start, end)


def _blank_in_traceback(held: Record, dialect: int, level: Level) -> bool:
    """Whether a blank tree_log record is the blank line of a traceback it logs line by
    line (before "During handling of the above exception..."), not a section separator:
    an ERROR blank while the held tree_log record is inside a traceback. INFO blank
    records still end the record before them at once."""
    return (dialect == TREELOG and held.dialect == TREELOG and level >= Level.ERROR
            and held.state != OUTSIDE)


def _joins_tree_log(held: Record, message: str) -> bool:
    """Add a tree_log line's message to the tree_log record held, if it belongs there."""
    if not message:
        return False
    if is_item(message):
        parts = split_item(message)
        if parts is None:
            held.lines += 1
        else:
            held.add_item(*parts)
        return True
    if held.style == BANNER:
        return False
    if message[0] in " \t":  # a traceback frame or an indented continuation
        role, state = continuation(message, held.state)
        errorish = held.style == ERROR_TREE or held.exception or held.detail is not None
        _extend(held, message, EXCEPTION if errorish else role, state, held.end)
        return True
    role, state = continuation(message, held.state)
    if role == EXCEPTION:
        _extend(held, message, role, state, held.end)
        return True
    return False


def _begin(dialect: int, level: Level, ts: datetime | None, logger: str | None, message: str,
           fields: dict[str, Any], start: int, end: int) -> Record:
    """A record from its first, prefixed line."""
    if dialect in (TREELOG, SIBLING):
        if is_item(message):  # an item with no header above it
            return Record(start, end, level, ts, logger, [message.strip()], fields,
                          dialect=dialect)
        title = titled_banner(message)
        if title is not None:
            return Record(start, end, level, ts, logger, [title], fields, style=BANNER,
                          dialect=dialect, closed=True)
        style = ERROR_TREE if level >= Level.ERROR else SECTION
        record = Record(start, end, level, ts, logger, [message.strip()], fields, style=style,
                        dialect=dialect)
        role, state = continuation(message, OUTSIDE)
        if role == EXCEPTION:  # a sibling's "💥 ..." may be followed by its traceback
            record.state = state
        return record
    return Record(start, end, level, ts, logger, [message], fields, dialect=dialect)


def _begin_unprefixed(text: str, start: int, end: int) -> Record:
    """A record from a line with no prefix: a banner, a traceback or a plain line."""
    if is_banner(text):
        return Record(start, end, Level.INFO, None, None, [], {}, style=BANNER,
                      dialect=UNPREFIXED, content=False)
    title = titled_banner(text)
    if title is not None:
        return Record(start, end, Level.INFO, None, None, [title], {}, style=BANNER,
                      dialect=UNPREFIXED, closed=True)
    role, state = continuation(text, OUTSIDE)
    if role == EXCEPTION:  # a traceback with no record before it: an uncaught error
        return Record(start, end, Level.ERROR, None, None, [text.strip()], {},
                      exception=[text], state=state, orphan=True, dialect=UNPREFIXED)
    level = emoji_level(text) or Level.INFO
    if role == MESSAGE:  # indented, with nothing above it
        return Record(start, end, level, None, None, [text.strip()], {}, state=state,
                      dialect=UNPREFIXED)
    return Record(start, end, level, None, None, [text], {}, dialect=UNPREFIXED,
                  style=PLAIN)


def _extend(record: Record, text: str, role: int, state: int, end: int) -> None:
    """Add a continuation line to a record (with the blank lines before it)."""
    if role == MESSAGE and (record.exception or record.detail is not None):
        role = EXCEPTION  # a source line under a frame (tree_log writes them unprefixed)
    target = record.exception if role == EXCEPTION else record.message
    if record.blanks:
        if target:
            target.extend([""] * record.blanks)
        record.blanks = 0
    target.append(text)
    record.state = state
    record.end = end
    record.lines += 1
    record.content = True
    if record.orphan and role == EXCEPTION and state == AFTER_EXCEPTION:
        record.message = [text]

