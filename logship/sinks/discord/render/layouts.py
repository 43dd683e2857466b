"""What each kind of event shows: its title, colour, text and fields.

Layouts by kind (`render_embed`): "error" (level and exception type in the title, the
service, the traceback), "performance" (metric, value, threshold, and the ratio as a
severity bar: at least 2 critical, 1.5 error, else warning), "member" (join, leave, ban,
unban, each its own colour, with the member data the sink's privacy left), "status"
(start, stop, heartbeat, reconnect), and "log" for everything else. Each has the level's
colour (an integer), the event's time as the ISO `timestamp`, and a footer naming the
source and the host (`embed.compose` fits a layout into Discord's limits). A route may
name a template instead (`templates.py`). `render_minimal` is the plain repair layout.

Kinds are worked out once, by the parser (`logship.parse.kinds`): a layout reads the
event's `kind` and the fields `classify` set (`event_type`, `error_type`). An event no
parser made (a synthetic or spooled one, or a template forcing a layout) is read with
the parser's own functions (`event_type_of`, `error_type`), never a second set of rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from logship.event import Event, Level
from logship.parse.kinds import ERROR, KINDS, LOG, MEMBER, PERFORMANCE, STATUS, error_type
from logship.parse.kinds import event_type_of as _event_type_of
from logship.sinks.discord.render.embed import (
    Embed,
    Layout,
    compose,
    field_items,
    footer_text,
    value_text,
)
from logship.sinks.discord.render.limits import TITLE_MAX, TOTAL_MAX
from logship.sinks.discord.render.text import is_empty, render_value, split_message, truncate

_STYLE: dict[Level, tuple[str, int]] = {
    Level.DEBUG: ("⚪", 0x95A5A6),  # grey
    Level.INFO: ("🔵", 0x3498DB),  # blue
    Level.WARNING: ("🟠", 0xFFBF00),  # amber
    Level.ERROR: ("🔴", 0xE74C3C),  # red
    Level.CRITICAL: ("🚨", 0x8B0000),  # dark red
}


def level_style(level: Level) -> tuple[str, int]:
    """The emoji and the colour (an integer) of a level.

    >>> level_style(Level.ERROR)
    ('🔴', 15158332)
    """
    return _STYLE.get(level, _STYLE[Level.INFO])


def level_name(level: Level) -> str:
    """The level's name ("ERROR"; a number that names no level, as text)."""
    return str(getattr(level, "name", level))


def render_embed(
    event: Event,
    host: str | None = None,
    *,
    kind: str | None = None,
    files: bool = False,
    room: int = TOTAL_MAX,
) -> Embed:
    """One embed for one event, within every per-part limit and the 6000 total.

    The layout depends on the event's kind (or `kind`, which overrides it): "error",
    "performance", "member", "status", and "log" (also for any kind not known here).
    Every layout has a colour, the event's time as the ISO `timestamp`, and the footer
    source · logger · host. A "log" embed: title, the level and the message's first
    line; description, the rest of the message (all of it when the title had to cut the
    first line), then the traceback in a ```py block; fields, `event.fields`.

    With `files`, a traceback that the embed can only show cut is also attached whole as
    `traceback.txt` (`Embed.files`), and a field says so. `room` is the total the embed
    may use (less than 6000 when it is to become plain text).

    >>> from logship.event import Event, Level
    >>> e = render_embed(Event(None, Level.ERROR, "boom\\nmore", fields={"id": 7}), "h1")
    >>> e.data["title"], e.data["description"], e.data["fields"], e.data["footer"]
    ('🔴 ERROR: boom', 'more', [{'name': 'id', 'value': '7', 'inline': True}], {'text': 'h1'})
    >>> e.size
    22
    >>> render_embed(Event(None, Level.ERROR, "boom", exception="KeyError: 'id'"),
    ...              kind="error").data["title"]
    '🔴 ERROR · KeyError: boom'
    """
    layout = _LAYOUTS.get(kind or event.kind, _log_layout)(event)
    return compose(event, host, layout, files=files, room=room)


def render_minimal(event: Event, host: str | None = None) -> Embed:
    """A plain embed for an event Discord refused as rendered: title, a short
    description, the footer; no fields, no timestamp. The repair before giving up.

    >>> render_minimal(Event(None, Level.ERROR, "boom", fields={"x": 1})).data
    {'title': '🔴 ERROR: boom', 'color': 15158332}
    """
    first, rest = split_message(event.message)
    emoji, color = level_style(event.level)
    title, _ = _headed(f"{emoji} {level_name(event.level)}", first)
    data: dict[str, Any] = {"title": title}
    if rest.strip():
        data["description"] = truncate(rest, 1000)
    data["color"] = color
    if footer := footer_text(event, host):
        data["footer"] = {"text": footer}
    return Embed.of(data)


def _headed(head: str, first_line: str) -> tuple[str, bool]:
    """`head: first line` as a title, and whether the first line had to be cut."""
    if not first_line:
        return truncate(head, TITLE_MAX), False
    full = f"{head}: {first_line}"
    title = truncate(full, TITLE_MAX)
    return title, title != full


def _title_and_text(head: str, message: str) -> tuple[str, str]:
    """The title (head and the message's first line) and the description's text (the
    rest, or the whole message when the title could not hold its first line)."""
    first, rest = split_message(message)
    title, cut = _headed(head, first)
    if cut:
        rest = f"{first}\n{rest}" if rest else first
    return title, rest


def _items(fields: Mapping[Any, Any], skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    skip = frozenset(skip)
    if skip & fields.keys():
        fields = {k: v for k, v in fields.items() if k not in skip}
    return field_items(fields)


def _first(fields: Mapping[Any, Any], keys: Sequence[str]) -> tuple[str, Any] | tuple[None, None]:
    """The first of `keys` that `fields` has a value for, and that value."""
    for key in keys:
        value = fields.get(key)
        if not is_empty(value):
            return key, value
    return None, None


def _log_layout(event: Event) -> Layout:
    emoji, color = level_style(event.level)
    title, text = _title_and_text(f"{emoji} {level_name(event.level)}", event.message)
    return Layout(title, color, text, field_items(event.fields), event.exception)


# -- error ------------------------------------------------------------------------------

_TYPE_KEYS = ("error_type", "exc_type", "exception_type")


def exception_type(event: Event, exception: str | None = None) -> str | None:
    """The exception's type name, without its module, as a title shows it: the type the
    parser found (`error_type`) or the record names, else what the parser's own reading
    (`parse.kinds.error_type`) finds in the traceback (`exception`, by default the
    event's) or in an `error` field such as "HTTPException: 503", for an event no parser
    typed (a spooled or synthetic one, a template forcing the error layout).

    >>> exception_type(Event(None, Level.ERROR, "x", exception="Traceback (most recent "
    ...     "call last):\\n  File 'a.py'\\ndiscord.errors.HTTPException: 503 Unavailable"))
    'HTTPException'
    >>> exception_type(Event(None, Level.ERROR, "x", fields={"error": "Timeout: 5 s"}))
    'Timeout'
    >>> exception_type(Event(None, Level.ERROR, "x", exception="it broke: badly")) is None
    True
    """
    fields = event.fields
    _, named = _first(fields, _TYPE_KEYS)
    if not isinstance(named, str):
        named = None
        for text in (exception if exception is not None else event.exception,
                     fields.get("error")):
            if isinstance(text, str) and (named := error_type(text)) is not None:
                break
    return truncate(named.strip().rsplit(".", 1)[-1], 100) if named else None


def _error_layout(event: Event) -> Layout:
    fields = event.fields
    exception = event.exception
    used = set(_TYPE_KEYS)
    if not (exception and exception.strip()) and isinstance(fields.get("traceback"), str):
        exception = fields["traceback"]  # StructuredLogger keeps it in its context
        used.add("traceback")
    emoji, color = level_style(event.level)
    head = f"{emoji} {level_name(event.level)}"
    if kind_name := exception_type(event, exception):
        head += f" · {kind_name}"
    title, text = _title_and_text(head, event.message)
    items: list[tuple[str, str]] = []
    key, service = _first(fields, ("service",))
    if key is None and event.logger:
        service = event.logger
    if service is not None and (shown := value_text(service)):
        items.append(("Service", shown))
        used.add("service")
    return Layout(title, color, text, items + _items(fields, used), exception)


# -- performance ------------------------------------------------------------------------

_VALUE_KEYS = ("value", "duration_ms", "memory_mb", "elapsed_ms", "duration", "memory")
_THRESHOLD_KEYS = ("threshold", "threshold_ms", "threshold_mb", "limit")
_UNITS = {"duration_ms": "ms", "elapsed_ms": "ms", "memory_mb": "MB", "threshold_ms": "ms",
          "threshold_mb": "MB"}
_METRICS = {"duration_ms": "duration", "elapsed_ms": "duration", "memory_mb": "memory"}
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")
BAR_CELLS = 10


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := _NUMBER.match(value)):
        number = float(match.group(1))
    else:
        return None
    return number if math.isfinite(number) else None


def _amount(value: float, unit: str) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}" if unit else text


def severity(ratio: float) -> Level:
    """How bad a measurement is, from its ratio to the threshold: at least 2 is
    critical, at least 1.5 an error, anything else a warning.

    >>> [severity(r).name for r in (0.9, 1.5, 1.99, 2.0)]
    ['WARNING', 'ERROR', 'ERROR', 'CRITICAL']
    """
    if ratio >= 2:
        return Level.CRITICAL
    if ratio >= 1.5:
        return Level.ERROR
    return Level.WARNING


def ratio_bar(ratio: float) -> str:
    """The ratio, a bar that is full at twice the threshold, and the severity.

    >>> ratio_bar(1.53)
    '1.53× ████████░░ 🔴 error'
    """
    filled = round(max(0.0, min(ratio, 2.0)) / 2 * BAR_CELLS)
    level = severity(ratio)
    bar = "█" * filled + "░" * (BAR_CELLS - filled)
    return f"{ratio:.2f}× {bar} {level_style(level)[0]} {level.name.lower()}"


def _performance_layout(event: Event) -> Layout:
    fields = event.fields
    value_key, raw_value = _first(fields, _VALUE_KEYS)
    threshold_key, raw_threshold = _first(fields, _THRESHOLD_KEYS)
    value, threshold = _number(raw_value), _number(raw_threshold)
    ratio = _number(fields.get("ratio"))
    if ratio is None and value is not None and threshold:
        ratio = value / threshold
        ratio = ratio if math.isfinite(ratio) else None
    unit_value = fields.get("unit")
    unit = unit_value if isinstance(unit_value, str) else _UNITS.get(value_key or "", "")
    metric_key, metric = _first(fields, ("metric",))
    if metric is None and value_key in _METRICS:
        metric = _METRICS[value_key]
    operation_key, operation = _first(fields, ("operation",))
    if operation is not None:  # "update_stats (duration)"
        metric = f"{render_value(operation)} ({render_value(metric)})" if metric else operation
    level = severity(ratio) if ratio is not None else event.level
    emoji, color = level_style(level)
    title, text = _title_and_text(f"{emoji} {level_name(level)}", event.message)
    items: list[tuple[str, str]] = []
    used = {"ratio", "unit", "event_type"}
    if metric is not None and (shown := value_text(metric)):
        items.append(("Metric", shown))
        used.update((metric_key or "", operation_key or ""))
    if value is not None:
        items.append(("Value", _amount(value, unit)))
        used.add(value_key or "")
    if threshold is not None:
        threshold_unit = _UNITS.get(threshold_key or "", unit)
        items.append(("Threshold", _amount(threshold, threshold_unit)))
        used.add(threshold_key or "")
    if ratio is not None:
        items.append(("Ratio", ratio_bar(ratio)))
    return Layout(title, color, text, items + _items(fields, used), event.exception)


# -- member -----------------------------------------------------------------------------

_MEMBER_ACTIONS: dict[str, tuple[str, int]] = {
    "join": ("➡️", 0x2ECC71),  # green
    "leave": ("⬅️", 0xE67E22),  # orange
    "ban": ("🔨", 0x992D22),  # dark red
    "unban": ("🕊️", 0x1ABC9C),  # teal
}
_MEMBER_OTHER = ("👤", 0x9B59B6)  # purple
_ACTION_KEYS = ("event_type", "action", "event", "type")  # not shown: the title says it
MEMBER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Member", ("member_name", "username", "member", "user", "name")),
    ("ID", ("member_id", "user_id", "id")),
    ("Guild", ("guild_name", "guild")),
    ("Guild ID", ("guild_id",)),
    ("Date", ("date",)),
)


def _member_layout(event: Event) -> Layout:
    """A member event: only the member data left in the event after the sink's privacy
    settings (usernames dropped, ids masked or hashed) is there to be shown."""
    fields = event.fields
    action = _event_type_of(MEMBER, fields, event.message)  # join, leave, ban or unban
    emoji, color = _MEMBER_ACTIONS.get(action or "", _MEMBER_OTHER)
    items: list[tuple[str, str]] = []
    used = set(_ACTION_KEYS)
    for label, keys in MEMBER_FIELDS:
        key, value = _first(fields, keys)
        if key is not None and (shown := value_text(value)):
            items.append((label, shown))
            used.add(key)
    head = f"{emoji} Member {action}" if action else f"{emoji} Member"
    name = items[0][1] if items and items[0][0] == "Member" else ""
    title = truncate(f"{head}: {name}" if name else head, TITLE_MAX)
    text = "\n".join(part for part in split_message(event.message) if part)
    return Layout(title, color, text, items + _items(fields, used), event.exception)


# -- status -----------------------------------------------------------------------------

_STATUSES: dict[str, tuple[str, str, int]] = {
    # a status (parse.kinds.STATUS_TYPES): its label, emoji, colour at INFO and below
    "run_start": ("Started", "🟢", 0x2ECC71),
    "run_end": ("Stopped", "🔚", 0x95A5A6),
    "heartbeat": ("Heartbeat", "💓", 0xE91E63),
    "reconnect": ("Reconnect", "🔁", 0xF1C40F),
    "reconnect_failed": ("Reconnect", "🔁", 0xF1C40F),
}


def _status_layout(event: Event) -> Layout:
    status = _event_type_of(STATUS, event.fields, event.message)
    label, emoji, color = _STATUSES.get(status or "", ("Status", "ℹ️", level_style(event.level)[1]))
    head = f"{emoji} {label}"
    if event.level >= Level.WARNING:  # trouble: the level says how bad, and its colour
        head += f" · {level_name(event.level)}"
        color = level_style(event.level)[1]
    title, text = _title_and_text(head, event.message)
    return Layout(title, color, text, _items(event.fields, ("event_type",)), event.exception)


_LAYOUTS: dict[str, Callable[[Event], Layout]] = {
    LOG: _log_layout,
    ERROR: _error_layout,
    PERFORMANCE: _performance_layout,
    MEMBER: _member_layout,
    STATUS: _status_layout,
}
assert set(_LAYOUTS) == set(KINDS)  # every kind the parser gives has its layout
