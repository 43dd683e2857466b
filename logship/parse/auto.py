"""format = "auto": JSON lines and text lines in one file, told apart line by line.

A line that begins with "{" goes to the JSON parser (which tells StructuredLogger,
tree_log, python-json-logger and structlog apart by their keys); any other line to the
text parser (which tells tree_log, StructuredLogger, the sibling bots' tree logger and
Python logging apart by their prefix). Blank lines go with the lines around them.

Both parsers may hold a record back (text: a traceback may follow; JSON: a tree_log
group may grow), but never both at once: before a run of JSON lines the held text record
is emitted, before a run of text lines the held JSON group, so events keep file order.
A batch made only of JSON lines (the usual case for `logs.json`) skips the per-line
dispatch: one `min`/`max` over the batch proves every line starts with "{", and the JSON
parser takes it whole.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from logship.event import Event
from logship.parse.common import Line, Lines, line_start
from logship.parse.json import JsonParser
from logship.parse.text import TextParser

_OPEN = (b"{", "{")
_JSON, _TEXT, _BLANK = 0, 1, 2


def _sort(line: Line) -> int:
    first = line[:1]
    if first in _OPEN:
        return _JSON
    return _TEXT if line.strip() else _BLANK


class AutoParser:
    """Parses a mix of JSON and text lines, each by the parser its first character picks.

    >>> parser = AutoParser(source="bot", path="/logs/mixed.log")
    >>> events = parser.feed([b"[ERROR] boom", b'{"level": "info", "msg": "ok"}'], [13, 44])
    >>> [(e.level.name, e.message, e.offset) for e in events]
    [('ERROR', 'boom', 13), ('INFO', 'ok', 44)]
    >>> parser.buffered_from is None
    True
    """

    __slots__ = ("_json", "_last", "_position", "_text")

    def __init__(self, *, source: str, path: str,
                 now: Callable[[], datetime] | None = None) -> None:
        self._json = JsonParser(source=source, path=path)
        self._text = TextParser(source=source, path=path, now=now)
        self._position: int | None = None  # offset past the last line fed
        self._last = _TEXT  # the kind of the last run (blank lines go with it)

    @property
    def buffered_from(self) -> int | None:
        """Where the held record starts; None when nothing is held."""
        held = self._text.buffered_from
        return self._json.buffered_from if held is None else held

    def feed(self, lines: Lines, ends: list[int]) -> list[Event]:
        """The events `lines` complete, in file order."""
        if not lines:
            return []
        start = self._position
        if start is None:
            start = line_start(lines[0], ends[0])
        self._position = ends[-1]
        first = min(lines)[:1]  # type: ignore[type-var]
        if first in _OPEN and max(lines)[:1] == first:  # type: ignore[type-var]
            self._last = _JSON
            held = self._text.take()
            events = self._json.feed(lines, ends, start)
            return events if held is None else [held, *events]
        return self._feed_mixed(lines, ends, start)

    def flush(self) -> list[Event]:
        """Emit the held record, if any."""
        return self._text.flush() or self._json.flush()

    def _feed_mixed(self, lines: Lines, ends: list[int], start: int) -> list[Event]:
        out: list[Event] = []
        count = len(lines)
        first = 0
        kind = self._last
        while first < count:
            sort = _sort(lines[first])
            if sort != _BLANK:
                kind = sort
            last = first + 1
            while last < count:
                sort = _sort(lines[last])
                if sort != _BLANK and sort != kind:
                    break
                last += 1
            run_start = start if first == 0 else ends[first - 1]
            if kind == _JSON:
                held = self._text.take()
                if held is not None:
                    out.append(held)
                out += self._json.feed(lines[first:last], ends[first:last], run_start)
            else:
                held = self._json.take()
                if held is not None:
                    out.append(held)
                out += self._text.feed(lines[first:last], ends[first:last], run_start)
            first = last
        self._last = kind
        return out


class TreeParser(AutoParser):
    """format = "tree": StatsBot's tree_log, text (`logs.log`, `errors.log`) or JSON
    (`logs.json`), and the sibling bots' tree logger. The same per-line dispatch as
    "auto", under the name a StatsBot config already uses.

    >>> parser = TreeParser(source="bot", path="/logs/2025-07-15/logs.log")
    >>> lines = [b"[07/15 03:44 PM EST] [INFO] \\xe2\\x9e\\xa1\\xef\\xb8\\x8f Member Join",
    ...          b"[07/15 03:44 PM EST] [INFO] \\xe2\\x94\\x94\\xe2\\x94\\x80 id: 1"]
    >>> [event] = parser.feed(lines, [45, 80])
    >>> event.kind, event.fields["member_id"], event.fields["event_type"], event.offset
    ('member', '1', 'join', 80)
    """

    __slots__ = ()
