"""Byte caps on one event: what a hostile or runaway log record may cost downstream.

The reader already cuts a line at `max_line_bytes`, and a text record joins at most
`MAX_RECORD_LINES` lines; but a record of a thousand long lines, or a JSON line with
thousands of fields, is still an event of megabytes that would sit in every sink's
queue, in the spool and in a traceback file. `cap_event` cuts such an event to a
source's `max_event_bytes`: never dropped, always marked.

- the fields get at most a quarter of the budget: items in order while they fit, a long
  string cut with a marker, a container too large replaced by a note, then one
  `fields_cut` entry saying how many were left out;
- the message keeps its head, the exception its tail (the last frames and the final
  exception line matter most), each with a `[cut: N bytes]` marker;
- a cut falls on whitespace when one is near, so no secret is cut in half (a half a
  redaction pattern no longer recognises);
- the event gets `truncated = true`, the flag a cut line gets too.

`event_bytes` is the same measure, used for the sink queues' byte cap: UTF-8 bytes of
the message and the exception, plus the fields as JSON (what the spool writes; orjson
measures that fastest). Cutting fields works with `value_bytes`, a walk that counts
about what their JSON takes, and checks the result with orjson. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

import orjson

from logship.event import Event

FIELDS_SHARE: Final = 4  # the fields get at most 1/FIELDS_SHARE of an event's budget
SCALAR_BYTES: Final = 4  # about what a number, a bool or null takes as JSON
NEAR: Final = 256  # how far back (or on) a cut looks for whitespace
MARKER_MAX: Final = 48  # room a cut marker needs
_DEPTH: Final = 64  # deeper than this counts as one scalar (the parsers nest less)
_SPACES: Final = (b" ", b"\n", b"\t")
_JSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS


def text_bytes(text: str) -> int:
    """UTF-8 length of `text` (a lone surrogate counts 3, as `surrogatepass` writes it).

    >>> text_bytes("abc"), text_bytes("é"), text_bytes("🚨")
    (3, 2, 4)
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def fields_bytes(fields: dict[str, Any]) -> int:
    """The size of `fields` as JSON (the walk's estimate when orjson cannot encode them).

    >>> fields_bytes({"user": "bob", "n": 1})
    20
    """
    try:
        return len(orjson.dumps(fields, default=str, option=_JSON_OPTIONS))
    except (orjson.JSONEncodeError, TypeError):
        return value_bytes(fields)


def value_bytes(value: Any, limit: int = 1 << 62, depth: int = 0) -> int:
    """About the size of a field value as JSON (escapes aside), counting no further than
    just past `limit`: a hostile value costs no more than the budget to measure."""
    kind = type(value)
    if kind is str:
        return text_bytes(value) + 2
    if depth >= _DEPTH or (kind is not dict and kind is not list and kind is not tuple):
        return SCALAR_BYTES
    total = 2
    if kind is dict:
        for key, item in value.items():
            total += text_bytes(str(key)) + 4 + value_bytes(item, limit - total, depth + 1)
            if total > limit:
                break
        return total
    for item in value:
        total += 1 + value_bytes(item, limit - total, depth + 1)
        if total > limit:
            break
    return total


def event_bytes(event: Event) -> int:
    """The size of `event`: message, exception, and fields as JSON.

    >>> from logship.event import Level
    >>> event_bytes(Event(None, Level.INFO, "hello", fields={"user": "bob", "n": 1}))
    25
    """
    size = text_bytes(event.message) + (text_bytes(event.exception) if event.exception else 0)
    if event.fields:
        size += fields_bytes(event.fields)
    return size


def cap_event(event: Event, max_bytes: int) -> Event:
    """`event` itself when it fits `max_bytes`, else a copy cut to fit (and marked).

    >>> from logship.event import Level
    >>> big = Event(None, Level.ERROR, "x " * 5000, exception="frame\\n" * 2000 + "E: boom")
    >>> small = cap_event(big, 4096)
    >>> event_bytes(small) <= 4096, small.fields["truncated"], small.exception.endswith("E: boom")
    (True, True, True)
    >>> cap_event(small, 4096) is small
    True
    """
    return capped(event, max_bytes)[0]


def capped(event: Event, max_bytes: int) -> tuple[Event, int]:
    """`cap_event`, and the `event_bytes` of the event it gives (measured once: a queue's
    byte cap counts it too).

    >>> from logship.event import Level
    >>> capped(Event(None, Level.INFO, "hello"), 4096)[1]
    5
    """
    size = event_bytes(event)
    if size <= max_bytes:
        return event, size
    fields = _fit_fields(event.fields, max_bytes // FIELDS_SHARE)
    room = max(0, max_bytes - fields_bytes(fields) - 2 * MARKER_MAX)
    message_size = text_bytes(event.message)
    exception_size = text_bytes(event.exception) if event.exception else 0
    message_room = min(message_size, max(room - exception_size, room // 2))
    exception_room = room - message_room
    message = event.message
    if message_size > message_room:
        message = cut_head(message, message_room)
    exception = event.exception
    if exception is not None and exception_size > exception_room:
        exception = cut_tail(exception, exception_room)
    cut = dataclasses.replace(event, message=message, exception=exception, fields=fields)
    return cut, event_bytes(cut)


def outgoing(event: Event, redact: Callable[[Event], Event] | None,
             max_bytes: int) -> tuple[Event, int]:
    """An event a route sends somewhere, as it leaves for its sinks: redacted (`redact`,
    a `Redactor.redact_event`), then cut to `max_bytes` (`capped`: with its size).
    Redacting first means a cut never leaves part of a secret. `redact` None:
    `spool.redact = false`, the spool keeps raw events and each sink's renderer redacts
    what it sends.

    >>> from logship.event import Level
    >>> from logship.redact import Redactor
    >>> event, size = outgoing(Event(None, Level.ERROR, "login token=hunter22"),
    ...                        Redactor().redact_event, 4096)
    >>> event.message, size
    ('login token=[redacted:secret_value]', 35)
    """
    if redact is not None:
        event = redact(event)
    return capped(event, max_bytes)


def _fit_fields(fields: dict[str, Any], budget: int) -> dict[str, Any]:
    """`fields` cut to `budget` bytes of JSON: the walk's estimate, then shrunk while
    escapes and long numbers make the JSON larger than estimated."""
    walk_budget = budget - MARKER_MAX
    for _ in range(8):
        out = _cap_fields(fields, walk_budget)
        size = fields_bytes(out)
        if size <= budget:
            return out
        walk_budget = walk_budget * budget // size - MARKER_MAX
    return {"fields_cut": len(fields), "truncated": True}


def _cap_fields(fields: dict[str, Any], budget: int) -> dict[str, Any]:
    """The leading fields that fit `budget` (as `value_bytes` counts), a long value cut;
    then how many were left out, and always `truncated`."""
    out: dict[str, Any] = {}
    used = 2
    for key, value in fields.items():
        if key == "truncated" or key == "fields_cut":
            continue
        room = budget - used - text_bytes(str(key)) - 4
        if room <= MARKER_MAX:
            break
        size = value_bytes(value, room)
        if size > room:
            value = (cut_head(value, room - MARKER_MAX) if type(value) is str
                     else f"[cut: a {type(value).__name__} of more than {room} bytes]")
            size = value_bytes(value)
        out[key] = value
        used += text_bytes(str(key)) + 4 + size
    left_out = sum(1 for key in fields if key not in out and key not in _MARKS)
    if left_out:
        out["fields_cut"] = left_out
    out["truncated"] = True
    return out


_MARKS: Final = ("truncated", "fields_cut")


def cut_head(text: str, limit: int) -> str:
    """The first `limit` bytes of `text` (ending on whitespace if one is near) and a marker.

    >>> cut_head("alpha beta gamma", 12)
    'alpha beta\\n[cut: 6 bytes]'
    """
    data = text.encode("utf-8", "surrogatepass")
    keep = max(0, min(limit, len(data)))
    space = _last_space(data, keep)
    if space is not None:
        keep = space
    head = data[:keep].decode("utf-8", "ignore")
    return f"{head}\n[cut: {len(data) - keep} bytes]"


def cut_tail(text: str, limit: int) -> str:
    """A marker and the last `limit` bytes of `text` (from a line or word start if near).

    >>> cut_tail("one two\\nthree four", 10)
    '[cut: 8 bytes]\\nthree four'
    """
    data = text.encode("utf-8", "surrogatepass")
    start = max(0, len(data) - max(0, limit))
    space = _first_space(data, start)
    if space is not None:
        start = space
    tail = data[start:].decode("utf-8", "ignore")
    return f"[cut: {start} bytes]\n{tail}"


def _last_space(data: bytes, end: int) -> int | None:
    """Where the last whitespace in the `NEAR` bytes before `end` is (None: none, or
    `end` is a word's end already)."""
    if end >= len(data) or data[end:end + 1] in _SPACES:
        return None
    window = data[max(0, end - NEAR):end]
    found = max(window.rfind(b" "), window.rfind(b"\n"), window.rfind(b"\t"))
    return None if found < 0 else end - len(window) + found


def _first_space(data: bytes, start: int) -> int | None:
    """Just past the first whitespace in the `NEAR` bytes from `start` (None: none, or
    `start` is a word's start already)."""
    if start == 0 or data[start - 1:start] in _SPACES:
        return None
    window = data[start:start + NEAR]
    hits = [i for i in (window.find(b"\n"), window.find(b" "), window.find(b"\t")) if i >= 0]
    return start + min(hits) + 1 if hits else None
