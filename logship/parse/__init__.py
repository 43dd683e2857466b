"""Parsers: complete lines of a log file in, events out. Pure: no I/O, no asyncio.

The tailer makes one parser per followed file with `make_parser(format, source=...,
path=...)` and gives it every batch of complete lines with the offset just past each:
`feed(lines, ends)` returns the events those lines complete, in file order, each with
`offset` = the end of its last line. A parser that may still add lines to its last record
(text: a traceback may follow; tree_log: more items) holds it back; `buffered_from` is
where that record starts, so the checkpoint never passes it, and `flush()` emits it (at
rotation, or once the file has gone quiet). A parser never raises on what a file contains.

Formats: "json" (JSON lines: StructuredLogger, tree_log JSON grouped into records,
python-json-logger, structlog), "text" (tree_log, StructuredLogger, the sibling bots' tree
logger and Python logging text, told apart by prefix), "auto" (both, picked per line;
the default) and "tree" (StatsBot's tree formats: the same dispatch as "auto").

Modules: `json`, `text` (with `multiline` for tracebacks, `structured` for
StructuredLogger's suffixes), `tree` (tree records: items, banners, tree_log JSON
grouping), `auto`; `clock` resolves partial timestamps; `kinds.classify` decides each
event's kind (error, member, performance, status, log) and its fields in one place;
`common` holds the value helpers they share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from logship.event import Event
from logship.parse.auto import AutoParser, TreeParser
from logship.parse.common import Lines
from logship.parse.json import JsonParser
from logship.parse.kinds import classify
from logship.parse.text import FIELD_NAME, TextParser

__all__ = [
    "PARSERS",
    "AutoParser",
    "JsonParser",
    "RecordParser",
    "TextParser",
    "TreeParser",
    "can_carry_field",
    "classify",
    "make_parser",
]


class RecordParser(Protocol):
    """What the tailer needs from a parser (one instance per followed file)."""

    def feed(self, lines: Lines, ends: list[int]) -> list[Event]:
        """The events that complete lines `lines` make; `ends[i]` is the offset past line i."""
        ...

    def flush(self) -> list[Event]:
        """Emit whatever is held back (nothing more will come for it)."""
        ...

    @property
    def buffered_from(self) -> int | None:
        """Where the first held-back record starts; None when nothing is held."""
        ...


ParserFactory = Callable[..., RecordParser]

PARSERS: dict[str, ParserFactory] = {
    "json": JsonParser,
    "text": TextParser,
    "auto": AutoParser,
    "tree": TreeParser,
}


def make_parser(format: str, *, source: str, path: str) -> RecordParser:
    """A new parser for one file of the given format ("json", "text", "auto" or "tree").

    >>> parser = make_parser("json", source="statsbot", path="/opt/StatsBot/logs/logs.json")
    >>> [event] = parser.feed([b'{"level": "WARNING", "message": "slow"}'], [40])
    >>> event.level.name, event.message, event.source, event.offset
    ('WARNING', 'slow', 'statsbot', 40)
    """
    try:
        factory = PARSERS[format]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ValueError(f"unknown log format {format!r} (known: {known})") from None
    return factory(source=source, path=path)


def can_carry_field(format: str, name: str) -> bool:
    """Whether an event of a source of this format may carry a field called `name`.
    True unless that is sure not to happen: a JSON line may hold any key, so only a
    "text" source rules names out (those no text record can make, `text.FIELD_NAME`).

    >>> can_carry_field("json", "User ID"), can_carry_field("text", "User ID")
    (True, False)
    >>> can_carry_field("text", "guild_id"), can_carry_field("auto", "guild_id")
    (True, True)
    """
    return format != "text" or FIELD_NAME.fullmatch(name) is not None
