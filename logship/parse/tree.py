"""Tree-shaped records: a header line, then `├─ key: value` items, as one event.

StatsBot's tree_log and the sibling bots' tree logger both write a record as a header
(an emoji and a title) and items below it, one per line; an error adds its detail
(`└─ HTTPException: 503 ...`) and traceback frames. This module holds what both formats,
text and JSON, share:

- `Record`: a record being assembled from its lines (used by `text` for every text
  format, and here for tree_log JSON). Items become fields: the key in snake_case
  ("Bot ID" -> "bot_id"), nested items under their parent ("guilds.main"), a repeated
  key numbered ("id_2"). An item whose key is an exception type ("HTTPException: 503")
  is the error's detail; items that are no `key: value` join the message.
- the line predicates: tree items, banners (`====`, `═══`), filler (lines with nothing
  to say, dropped), the level an emoji implies (❌ error, ⚠️ warning, 🚨 critical,
  💥 exception).
- `TreeJsonGrouper`: tree_log JSON lines grouped into records by category, run and time:
  a `perfect_tree_section` with its `tree_item`s, an `error` with its `error_detail` and
  `traceback` lines, the lines of a `run_header` or `run_end` banner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from logship.event import Event, Level
from logship.parse.kinds import LOG, STATUS, classify
from logship.parse.multiline import OUTSIDE

MAX_RECORD_LINES = 1000
"""A record is emitted once it has this many lines; what follows starts another one."""

GROUP_GAP = timedelta(seconds=5)
"""tree_log JSON lines further apart than this in time are not one record."""

_ITEM = re.compile(r"(?P<indent>[ \t│┃|]*)(?P<glyph>[├└┣┗╰╠╚](?:─|━|═)*)[ \t]?(?P<body>.*)",
                   re.DOTALL)
_KEY_VALUE = re.compile(r"(?P<key>[^:\n]{1,60}?):(?:[ \t]+(?P<value>.*)|[ \t]*$)", re.DOTALL)
_EXCEPTION_KEY = re.compile(
    r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt|Timeout|Fault"
    r"|Failure|Forbidden|NotFound|Unavailable|Cancelled|Canceled)")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_BANNER_CHARS = frozenset("=═━─*#~")
_DECORATION = "=═━─*#~ \t"
_RUN_ID = re.compile(r"\brun[ _-]?id\s*[:=]\s*`?([A-Za-z0-9][\w-]{2,63})", re.IGNORECASE)
_RUN_END = re.compile(r"\b(?:END OF (?:BOT )?(?:RUN )?SESSION|RUN ENDED|SHUTTING DOWN|"
                      r"SHUTDOWN|STOPPED)\b", re.IGNORECASE)

EMOJI_LEVELS: dict[str, Level] = {
    "❌": Level.ERROR, "💥": Level.ERROR, "⛔": Level.ERROR, "🔴": Level.ERROR,
    "⚠": Level.WARNING, "🟡": Level.WARNING,
    "🚨": Level.CRITICAL, "🔥": Level.CRITICAL,
}

_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_MAX = 2048

# Record styles.
PLAIN = 0  # a log line, maybe with a traceback or indented lines after it
SECTION = 1  # a tree header and its items
ERROR_TREE = 2  # an error header with its detail and frames (tree_log)
BANNER = 3  # lines between banner rules (a run header or end)


def field_key(text: str) -> str:
    """An item's key as a field name: lower snake_case.

    >>> field_key("Bot ID"), field_key(" next-update "), field_key("🆔"), field_key("id")
    ('bot_id', 'next_update', 'item', 'id')
    """
    key = _KEY_CACHE.get(text)
    if key is None:
        key = _NON_WORD.sub("_", text.strip().lower()).strip("_") or "item"
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[text] = key
    return key


def split_item(text: str) -> tuple[str, str, str] | None:
    """(indent, glyph, body) of a tree item line such as `  │   ├─ key: value`, else None.

    >>> split_item("  ├─ Bot ID: 1234567890")
    ('  ', '├─', 'Bot ID: 1234567890')
    >>> split_item("plain") is None
    True
    """
    found = _ITEM.match(text)
    if found is None:
        return None
    return found["indent"], found["glyph"], found["body"]


def is_item(text: str) -> bool:
    """Whether a line (or message) is a tree item or a bare vertical rule.

    >>> is_item("├─ id: 1"), is_item("   │"), is_item("x ├─")
    (True, True, False)
    """
    stripped = text.lstrip(" \t")
    return bool(stripped) and stripped[0] in "├└│┃┣┗╰╠╚"


def is_banner(text: str) -> bool:
    """A rule of `=`, `═`, `━`, `─`, `*`, `#` or `~` with nothing else on it (5 or more).

    >>> is_banner("=" * 80), is_banner("═══ RUN ID: a1b2c3d4 ═══"), is_banner("---")
    (True, False, False)
    """
    stripped = text.strip()
    return len(stripped) >= 5 and set(stripped) <= _BANNER_CHARS


def titled_banner(text: str) -> str | None:
    """The title of a banner with text in it (`═══ RUN ID: a1b2 ═══`), else None.

    >>> titled_banner("═══════ RUN ID: a1b2c3d4 ═══════"), titled_banner("plain")
    ('RUN ID: a1b2c3d4', None)
    """
    stripped = text.strip()
    if len(stripped) < 8 or stripped[:3] != stripped[0] * 3 or stripped[0] not in _BANNER_CHARS:
        return None
    title = stripped.strip(_DECORATION)
    return title or None


def is_filler(message: str) -> bool:
    """A message with nothing to say: empty, blank, a banner rule or a bare vertical rule.

    >>> is_filler(""), is_filler("   "), is_filler("=" * 20), is_filler("│"), is_filler("ok")
    (True, True, True, True, False)
    """
    stripped = message.strip()
    return not stripped or stripped in "│┃|" or is_banner(stripped)


def emoji_level(message: str) -> Level | None:
    """The level a leading emoji implies, or None.

    >>> emoji_level("❌ Failed"), emoji_level("⚠️ Slow"), emoji_level("🤖 Bot Ready")
    (<Level.ERROR: 40>, <Level.WARNING: 30>, None)
    """
    return EMOJI_LEVELS.get(message.lstrip()[:1])


@dataclass(slots=True)
class Record:
    """A record being assembled from its lines; `event()` makes the Event."""

    start: int
    end: int
    level: Level
    ts: datetime | None
    logger: str | None
    message: list[str]
    fields: dict[str, Any]
    exception: list[str] = field(default_factory=list)
    style: int = PLAIN
    dialect: int = 0  # which text format began it (see `text`)
    state: int = OUTSIDE  # where it is in a traceback (see `multiline`)
    blanks: int = 0  # blank lines seen since its last line (kept if more follows)
    lines: int = 1
    orphan: bool = False  # began with a traceback, not a log line
    detail: str | None = None  # an error's "Type: message" item
    closed: bool = False  # complete: emit it now
    content: bool = True  # has something to say (a banner may have nothing yet)
    run_key: object = None  # tree_log JSON: run_id or daemon of its lines
    last_ts: datetime | None = None  # tree_log JSON: time of its last line
    _stack: list[tuple[int, str]] = field(default_factory=list)

    def add_item(self, indent: str, glyph: str, body: str) -> None:
        """Add a tree item: a field (nested under its parent), a detail or a message line.

        A top-level `└─` ends a section (an error may still get frames after it).
        """
        self.lines += 1
        body = body.rstrip()
        if not body:
            return
        self.content = True
        depth = len(indent.expandtabs(4))
        stack = self._stack
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if glyph[:1] in "└┗╰╚" and not stack and self.style == SECTION:
            self.closed = True  # the last item at the top level: the section is complete
        found = _KEY_VALUE.match(body)
        if found is None:
            self.message.append(body)
            return
        key, value = found["key"].strip(), (found["value"] or "").strip()
        if _EXCEPTION_KEY.fullmatch(key):
            if self.detail is None:
                self.detail = body
            else:
                self.exception.append(body)
            return
        name = field_key(key)
        if stack:
            name = f"{stack[-1][1]}.{name}"
        fields = self.fields
        if name in fields:
            base, number = name, 2
            while f"{base}_{number}" in fields:
                number += 1
            name = f"{base}_{number}"
        fields[name] = value
        stack.append((depth, name))

    def add_content(self, text: str) -> None:
        """Add a line between banner rules (a rule after content closes the banner)."""
        self.lines += 1
        if is_filler(text):
            if self.content and is_banner(text):
                self.closed = True
            return
        title = titled_banner(text)
        self.message.append(title if title is not None else text.strip())
        self.content = True

    def event(self, source: str, path: str) -> Event:
        """The record as one event, its kind decided by `classify`."""
        exception_lines = self.exception
        detail = self.detail
        if detail is not None:
            if not exception_lines or exception_lines[-1].strip() != detail:
                exception_lines = [*exception_lines, detail]
        elif not exception_lines and self.level >= Level.ERROR:
            fields = self.fields
            error = fields.get("error")
            kind = fields.get("error_type")
            text = fields.get("error_message")
            if type(error) is str and error:
                exception_lines = [error]
            elif type(kind) is str and kind and type(text) is str and text:
                exception_lines = [f"{kind}: {text}"]
        exception = "\n".join(exception_lines) if exception_lines else None
        message = "\n".join(self.message)
        if not message and exception:
            message = exception.rstrip().rpartition("\n")[2].strip()
        event = Event(self.ts, self.level, message, self.logger, self.fields, exception, LOG,
                      source, path, self.end)
        kind = classify(event)
        if self.style == BANNER:
            fields = event.fields
            found = _RUN_ID.search(message)
            if found is not None:
                fields.setdefault("run_id", found[1])
            if kind in (LOG, STATUS):
                kind = STATUS
                fields.setdefault("event_type",
                                  "run_end" if _RUN_END.search(message) else "run_start")
        event.kind = kind
        return event


# -- tree_log JSON ------------------------------------------------------------------------

TREE = "\x00tree"
"""The kind a tree_log JSON line's event has until it is grouped (never leaves `json`)."""

_HEADERS = {
    "perfect_tree_section": SECTION,
    "error": ERROR_TREE,
    "run_header": BANNER,
    "run_end": BANNER,
}
_CONTINUES: dict[str, frozenset[str]] = {
    "tree_item": frozenset({"perfect_tree_section", "error"}),
    "error_detail": frozenset({"error"}),
    "traceback": frozenset({"error"}),
    "run_header": frozenset({"run_header"}),
    "run_end": frozenset({"run_end"}),
}


def _raw_time(fields: dict[str, Any]) -> None:
    """tree_log's `timestamp` ("[07/15 03:44 PM EST]") kept as `raw_time`."""
    stamp = fields.pop("timestamp", None)
    if stamp is not None:
        fields["raw_time"] = stamp.strip("[] ") if type(stamp) is str else stamp


class TreeJsonGrouper:
    """Groups tree_log JSON events (kind TREE) into records; other events pass through.

    >>> from logship.parse import make_parser
    >>> parser = make_parser("json", source="s", path="logs/2025-07-15/logs.json")
    >>> lines = [
    ...     b'{"level": "INFO", "category": "perfect_tree_section", "message": "Member Join",'
    ...     b' "run_id": "A4", "iso_datetime": "2025-07-15T15:44:02-05:00"}',
    ...     b'{"level": "INFO", "category": "tree_item", "message": "\\\\u2514\\\\u2500 id: 1",'
    ...     b' "run_id": "A4", "iso_datetime": "2025-07-15T15:44:02-05:00"}']
    >>> [event] = parser.feed(lines, [150, 300])
    >>> event.message, event.fields["member_id"], event.kind, event.offset
    ('Member Join', '1', 'member', 300)
    """

    __slots__ = ("_held", "path", "source")

    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self._held: Record | None = None

    @property
    def held_from(self) -> int | None:
        return None if self._held is None else self._held.start

    def take(self) -> Event | None:
        """The held record as an event (None if none); it is no longer held."""
        held, self._held = self._held, None
        if held is None or not held.content:
            return None
        return held.event(self.source, self.path)

    def group(self, events: list[Event], start: int) -> list[Event]:
        """`events` (one per line, in order) with tree_log lines grouped; `start` is where
        the line of the first of them begins."""
        out: list[Event] = []
        previous_end = start
        for event in events:
            if event.kind != TREE:
                held = self.take()
                if held is not None:
                    out.append(held)
                out.append(event)
            else:
                self._add(event, previous_end, out)
            previous_end = event.offset
        return out

    def _add(self, event: Event, start: int, out: list[Event]) -> None:
        fields = event.fields
        category = fields.get("category")
        category = category if type(category) is str else ""
        run_key = fields.get("run_id", fields.get("daemon"))
        held = self._held
        if held is not None and self._continues(held, category, run_key, event.ts):
            self._join(held, category, event)
            if held.closed or held.lines >= MAX_RECORD_LINES:
                emitted = self.take()
                if emitted is not None:
                    out.append(emitted)
            return
        emitted = self.take()
        if emitted is not None:
            out.append(emitted)
        _raw_time(fields)
        style = _HEADERS.get(category)
        message = event.message
        if style is None:  # a line of no group: an event of its own (unless it says nothing)
            if not is_filler(message):
                record = Record(start, event.offset, event.level, event.ts, event.logger,
                                [message.strip()], fields, style=PLAIN)
                if category in ("error_detail", "traceback"):
                    record.exception.append(message.rstrip())
                    record.level = max(record.level, Level.ERROR)
                if event.exception:
                    record.exception.append(event.exception)
                out.append(record.event(self.source, self.path))
            return
        record = Record(start, event.offset, event.level, event.ts, event.logger, [], fields,
                        style=style, run_key=run_key, last_ts=event.ts)
        record.lines = 0
        if style == BANNER:
            record.content = False
            record.add_content(message)
        else:
            record.message.append(message)
            record.lines = 1
        if event.exception:
            record.exception.append(event.exception)
        self._held = record

    @staticmethod
    def _continues(held: Record, category: str, run_key: object, ts: datetime | None) -> bool:
        headers = _CONTINUES.get(category)
        if headers is None or held.fields.get("category") not in headers:
            return False
        if run_key != held.run_key:
            return False
        last = held.last_ts
        if ts is not None and last is not None:
            try:
                if abs(ts - last) > GROUP_GAP:
                    return False
            except TypeError:  # aware and naive: no way to compare, do not group
                return False
        return True

    @staticmethod
    def _join(record: Record, category: str, event: Event) -> None:
        """Add one tree_log line's event to the record it continues."""
        message = event.message
        record.end = event.offset
        record.last_ts = event.ts or record.last_ts
        record.level = max(record.level, event.level)
        if category in ("run_header", "run_end"):
            record.add_content(message)
        elif category == "traceback" or (category == "error_detail" and not is_item(message)):
            record.lines += 1
            if message.strip():
                if category == "error_detail" and record.detail is None and ":" in message:
                    record.detail = message.strip()
                else:
                    record.exception.append(message.rstrip())
        else:
            parts = split_item(message)
            if parts is None:
                record.lines += 1
                if message.strip():
                    record.message.append(message.strip())
            else:
                record.add_item(*parts)
        if event.exception:
            record.exception.append(event.exception)
        for key, value in event.fields.items():
            if key not in ("category", "timestamp", "run_id", "daemon"):
                record.fields.setdefault(key, value)
