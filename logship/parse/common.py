"""Small value helpers every format shares: levels, timestamps, snowflakes, raw text.

They live apart from the parsers so that a JSON field, a text prefix and (later) a
tree_log header all turn "WARN", "2025-07-15T20:44:03Z" or 123456789012345678 into the
same Level, aware datetime or text id. Each is a plain function with a fast path for the
common input and a forgiving slow path: a parser must never raise on what a log holds.

Naive timestamps are taken as UTC. A log's clock may be the host's local time, but a
parser is a pure function and cannot know the host; UTC keeps ordering sane and the
original text is still in the message or the fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from logship.event import Level

Line = bytes | str
"""One line as the reader hands it out: bytes (the tailer) or str (tests, other callers)."""

Lines = Sequence[bytes] | Sequence[str]

MAX_RAW_CHARS = 2000
"""How much of an unparseable line is kept as the event's message."""

MIN_EPOCH = 1e8
"""Epoch numbers below this (March 1973) are not taken for times."""

SNOWFLAKE_MIN = 10**16  # the smallest 17-digit integer
SNOWFLAKE_MAX = 10**20  # the smallest 21-digit integer
FLOAT_INT_LIMIT = 2.0**63
"""orjson reads integers beyond 64 bits as floats; a float this big may be one of them."""
MAX_DEPTH = 16
"""Nested values deeper than this are replaced by a marker instead of being recursed into."""

LEVEL_CACHE: dict[Any, Level] = {}
LEVEL_CACHE_MAX = 512


def level_of(raw: object) -> tuple[Level, str | None]:
    """The Level a raw level value names, and the raw text when it names none.

    Names go through `Level.from_name`; numbers are Python logging levels (10..50, and
    anything between rounds down); unknown values are INFO with their text kept.

    >>> level_of("warn"), level_of(40), level_of("VERBOSE")
    ((<Level.WARNING: 30>, None), (<Level.ERROR: 40>, None), (<Level.INFO: 20>, 'VERBOSE'))
    """
    kind = type(raw)
    if kind is str or kind is int:
        cached = LEVEL_CACHE.get(raw)
        if cached is not None:
            return cached, None
    level: Level | None = None
    if kind is str:
        level = Level.from_name(raw)  # type: ignore[arg-type]
        if level is None and raw.strip().isdigit():  # type: ignore[attr-defined]
            level, name = _numeric_level(int(raw))  # type: ignore[arg-type]
            return level, name if name is None else str(raw)
    elif kind is int or kind is float:
        level, name = _numeric_level(raw)  # type: ignore[arg-type]
        if name is not None:
            return level, name
    if level is None:
        return Level.INFO, as_text(raw)
    if (kind is str or kind is int) and len(LEVEL_CACHE) < LEVEL_CACHE_MAX:
        LEVEL_CACHE[raw] = level
    return level, None


def _numeric_level(number: float) -> tuple[Level, str | None]:
    """A Python logging level number; a non-standard one keeps its number as text."""
    if number != number:  # NaN
        return Level.INFO, "nan"
    if number >= 50:
        level = Level.CRITICAL
    elif number >= 40:
        level = Level.ERROR
    elif number >= 30:
        level = Level.WARNING
    elif number >= 20:
        level = Level.INFO
    else:
        level = Level.DEBUG
    return level, None if number == level else str(number)


def parse_ts(value: object) -> datetime | None:
    """An aware datetime from an ISO 8601 text or an epoch number; None when it is neither.

    Epoch numbers may be seconds, milliseconds, microseconds or nanoseconds (told apart by
    size). Naive times are taken as UTC.

    >>> parse_ts("2025-07-15T20:44:03Z").isoformat()
    '2025-07-15T20:44:03+00:00'
    >>> parse_ts(1752612243120).isoformat()
    '2025-07-15T20:44:03.120000+00:00'
    >>> parse_ts("[07/15 03:44 PM EST]") is None
    True
    """
    kind = type(value)
    if kind is str:
        try:
            stamp = datetime.fromisoformat(value)  # type: ignore[arg-type]
        except ValueError:
            return _parse_ts_text(value)  # type: ignore[arg-type]
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    if kind is int or kind is float:
        return _from_epoch(value)  # type: ignore[arg-type]
    return None


def _parse_ts_text(text: str) -> datetime | None:
    """The slow path: brackets or spaces around the stamp, or an epoch number as text."""
    stripped = text.strip().strip("[]").strip()
    if not stripped or len(stripped) > 64:
        return None
    try:
        stamp = datetime.fromisoformat(stripped)
    except ValueError:
        try:
            return _from_epoch(float(stripped))
        except ValueError:
            return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _from_epoch(number: float) -> datetime | None:
    """Seconds, ms, us or ns since 1970; a number below 1e8 (1973) is no time (a duration?)."""
    size = abs(number)
    if not size >= MIN_EPOCH:  # also NaN
        return None
    if size >= 1e17:
        number /= 1e9
    elif size >= 1e14:
        number /= 1e6
    elif size >= 1e11:
        number /= 1e3
    try:
        return datetime.fromtimestamp(number, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def as_text(value: object) -> str:
    """Any JSON value as text: str as is, None as "", the rest as compact JSON.

    >>> as_text("x"), as_text(None), as_text({"a": [1, 2]})
    ('x', '', '{"a":[1,2]}')
    """
    if type(value) is str:
        return value  # type: ignore[return-value]
    if value is None:
        return ""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, ValueError):
        return str(value)


def decode(line: Line) -> str:
    """One line as text without its line terminator; invalid UTF-8 is replaced.

    >>> decode(b"caf\\xe9\\r"), decode("ok")
    ('caf�', 'ok')
    """
    text = line.decode("utf-8", "replace") if type(line) is bytes else line
    return text.rstrip("\r\n")  # type: ignore[union-attr]


def raw_text(line: Line) -> str:
    """A line kept as a message when it cannot be parsed: decoded and cut to a sane size.

    >>> len(raw_text(b"x" * 5000)) == MAX_RAW_CHARS + 1
    True
    """
    text = decode(line)
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "…"


def line_start(line: Line, end: int) -> int:
    """Where a line begins, from the offset just past its newline (its byte length + 1).

    >>> line_start(b"abc", 104), line_start("é", 3)
    (100, 0)
    """
    size = len(line) if type(line) is bytes else len(line.encode("utf-8", "surrogatepass"))
    return max(0, end - size - 1)


class InexactInteger(Exception):
    """orjson read an integer too big for 64 bits as a float: the line must be read again
    by the stdlib, which keeps every digit (a snowflake must never become a float)."""


def fix_value(value: Any, depth: int = 0, exact: bool = True) -> Any:
    """A JSON value with every snowflake-sized int (17 to 20 digits) turned into text.

    `exact=False` (values from orjson) raises InexactInteger on a float of 2**63 or more.

    >>> fix_value([123456789012345678, 7, {"id": 98765432109876543210}])
    ['123456789012345678', 7, {'id': '98765432109876543210'}]
    """
    kind = type(value)
    if kind is int:
        return str(value) if SNOWFLAKE_MIN <= value < SNOWFLAKE_MAX else value
    if kind is float:
        if not exact and not -FLOAT_INT_LIMIT < value < FLOAT_INT_LIMIT:
            raise InexactInteger
        return value
    if depth >= MAX_DEPTH and (kind is list or kind is dict):
        return "…"
    if kind is list:
        return [fix_value(v, depth + 1, exact) for v in value]
    if kind is dict:
        return {k: fix_value(v, depth + 1, exact) for k, v in value.items()}
    return value


def clean_fields(fields: dict[str, Any], exact: bool = True) -> dict[str, Any]:
    """A record's remaining keys as event fields: snowflakes as text, nested dicts flattened
    into dotted keys. Returns `fields` itself (fixed in place) when nothing is nested.

    >>> clean_fields({"id": 123456789012345678, "guild": {"id": 1, "name": "g"}})
    {'id': '123456789012345678', 'guild.id': 1, 'guild.name': 'g'}
    """
    return flatten(fields, exact) if fix_in_place(fields, exact) else fields


def flatten(fields: dict[str, Any], exact: bool = True) -> dict[str, Any]:
    """Nested dicts as dotted keys (empty ones dropped), snowflakes as text, at any depth.

    >>> flatten({"a": {"b": {"c": 1}, "d": {}}, "e": 2})
    {'a.b.c': 1, 'e': 2}
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, "", fields, 0, exact)
    return flat


def fix_in_place(
    fields: dict[str, Any],
    exact: bool = True,
    _str: type = str,
    _int: type = int,
    _float: type = float,
    _dict: type = dict,
    _list: type = list,
    _low: int = SNOWFLAKE_MIN,
    _high: int = SNOWFLAKE_MAX,
    _limit: float = FLOAT_INT_LIMIT,
) -> bool:
    """Turn snowflake ints (and those in lists) into text in place; True if a value is a
    dict (to be flattened). See `fix_value` for `exact`. The other defaults bind constants
    as locals: this runs for every event whose fields are read.

    >>> fields = {"id": 123456789012345678, "n": 3}
    >>> fix_in_place(fields), fields
    (False, {'id': '123456789012345678', 'n': 3})
    """
    nested = False
    for key, value in fields.items():
        kind = type(value)
        if kind is _str:  # the usual value: one test
            continue
        if kind is _int:
            if _low <= value < _high:
                fields[key] = str(value)  # same key: the dict keeps its size
        elif kind is _dict:
            nested = True
        elif kind is _list:
            fields[key] = fix_value(value, 0, exact)
        elif kind is _float and not exact and not -_limit < value < _limit:
            raise InexactInteger
    return nested


def _flatten_into(
    out: dict[str, Any], prefix: str, source: dict[str, Any], depth: int, exact: bool
) -> None:
    for key, value in source.items():
        name = f"{prefix}{key}"
        if type(value) is dict and depth < MAX_DEPTH:
            if value:
                _flatten_into(out, name + ".", value, depth + 1, exact)
        else:
            out[name] = fix_value(value, depth, exact)


def strip_surrogates(value: Any, depth: int = 0) -> Any:
    """A JSON value with lone surrogates (from `\\ud83d` escapes) replaced by U+FFFD, so
    that the text can be encoded to UTF-8 later. Only the rare stdlib fallback needs it.

    >>> strip_surrogates({"m": "\\ud83d x"}) == {"m": "\\ufffd x"}
    True
    """
    kind = type(value)
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return value
    if depth >= 4 * MAX_DEPTH:
        return value
    if kind is list:
        return [strip_surrogates(v, depth + 1) for v in value]
    if kind is dict:
        return {strip_surrogates(k, depth + 1): strip_surrogates(v, depth + 1)
                for k, v in value.items()}
    return value
