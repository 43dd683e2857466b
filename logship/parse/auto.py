"""format = "auto": JSON lines and text lines in one file, told apart line by line.

A line that begins with "{" goes to the JSON parser; any other line to the text parser,
which may hold its last record for a traceback to come. Order is kept: before a JSON
line's event, the held text record is emitted. A batch made only of JSON lines (the
usual case for `logs.json`) skips the per-line dispatch: one `min`/`max` over the batch
proves every line starts with "{", and the JSON parser takes it whole.
"""

from __future__ import annotations

from logship.event import Event
from logship.parse.common import Lines, decode, line_start
from logship.parse.json import JsonParser
from logship.parse.text import TextParser

_OPEN = (b"{", "{")


class AutoParser:
    """Parses a mix of JSON and text lines, each by the parser its first character picks.

    >>> parser = AutoParser(source="bot", path="/logs/mixed.log")
    >>> events = parser.feed([b"[ERROR] boom", b'{"level": "info", "msg": "ok"}'], [13, 44])
    >>> [(e.level.name, e.message, e.offset) for e in events]
    [('ERROR', 'boom', 13), ('INFO', 'ok', 44)]
    >>> parser.buffered_from is None
    True
    """

    __slots__ = ("_json", "_position", "_text")

    def __init__(self, *, source: str, path: str) -> None:
        self._json = JsonParser(source=source, path=path)
        self._text = TextParser(source=source, path=path)
        self._position: int | None = None  # offset past the last line fed

    @property
    def buffered_from(self) -> int | None:
        """Where the held text record starts; None when nothing is held."""
        return self._text.buffered_from

    def feed(self, lines: Lines, ends: list[int]) -> list[Event]:
        """The events `lines` complete, in file order."""
        if not lines:
            return []
        first = min(lines)[:1]  # type: ignore[type-var]
        if first in _OPEN and max(lines)[:1] == first:  # type: ignore[type-var]
            held = self._text.take()
            events = self._json.feed(lines, ends)
            self._position = ends[-1]
            return events if held is None else [held, *events]
        return self._feed_mixed(lines, ends)

    def flush(self) -> list[Event]:
        """Emit the held text record, if any."""
        return self._text.flush()

    def _feed_mixed(self, lines: Lines, ends: list[int]) -> list[Event]:
        out: list[Event] = []
        start = self._position
        if start is None:
            start = line_start(lines[0], ends[0])
        text, json = self._text, self._json
        for line, end in zip(lines, ends, strict=False):
            if line[:1] in _OPEN:
                held = text.take()
                if held is not None:
                    out.append(held)
                event = json.parse_line(line, end)
            else:
                event = text.push(decode(line), start, end)
            if event is not None:
                out.append(event)
            start = end
        self._position = start
        return out
