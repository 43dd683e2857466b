"""Events to Discord Execute Webhook bodies that Discord always accepts.

Discord refuses a whole message with HTTP 400 (code 50035) when any single limit is
broken, and most of those limits are invisible to its own OpenAPI schema: the 6000
characters counted across every embed of a message, field names and values that must
not be empty, usernames that contain "discord". A refused message is never resent as is
(see DESIGN.md, "Delivery rules"), so every limit is enforced here, before anything is
sent, by cutting text instead of failing:

- each embed keeps every per-part limit (title 256, description 4096, 25 fields of
  256/1024, footer 2048) *and* fits the 6000 total on its own, so any one embed can
  always be sent, and `pack` only has to count embeds and add up their sizes;
- a long message keeps its head, cut at a line boundary when it can be; a long
  traceback keeps its tail (the last frames and the final exception line matter most);
  code fences are always closed (a value that would open one has it defused);
- a traceback longer than its embed can show goes whole as `traceback.txt` too, when
  the sink allows files (multipart: `payload_json` + `files[n]`);
- lengths are Unicode code points, the way Discord counts them (its API is Python 3:
  discord/discord-api-docs#1315), so `len()` is the right measure. Text is cleaned
  first: a surrogate pair that arrived as two code points is joined, a lone surrogate
  becomes U+FFFD. Otherwise the body could not even be encoded as UTF-8 JSON.

Layouts by kind (`render_embed`): "error" (level and exception type in the title, the
service, the traceback), "performance" (metric, value, threshold, and the ratio as a
severity bar: at least 2 critical, 1.5 error, else warning), "member" (join, leave, ban,
unban, each its own colour, with the member data the sink's privacy left), "status"
(start, stop, heartbeat, reconnect), and "log" for everything else. Each has the level's
colour (an integer), the event's time as the ISO `timestamp`, and a footer naming the
source and the host. A route may name a template instead (`templates.py`).

`Renderer` is one sink's view of all this: its options (plain text instead of embeds,
files, thread name, silent messages), the route's template and mentions.

Mentions: text is kept faithful, `@everyone` included. Embeds never ping, and every
body carries `allowed_mentions: {"parse": []}` unless a route opts in with `mention`:
then its role and user ids, and only those, are allowed; so a log line that quotes
`@everyone` (or a role or user mention) pings nobody.

Everything here is a pure function of its arguments: no I/O, no clock, no environment.
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import orjson

from logship.event import Event, Level

if TYPE_CHECKING:
    from logship.config import RouteConfig, SinkConfig
    from logship.redact.secrets import Redactor

# Discord's documented limits, in code points (discord-api-docs, "Embed Limits" and
# "Execute Webhook"); see shared/discord/README.md.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
TOTAL_MAX = 6000
USERNAME_MAX = 80
AVATAR_URL_MAX = 2048
THREAD_NAME_MAX = 100
FILES_MAX = 10
FILE_MAX = 10 * 1024 * 1024  # bytes per file (Discord's default upload limit)
# Bytes of a request kept for its JSON part: at most 8000 code points of text (content and
# embeds), each at most 6 bytes as JSON escapes it, and the keys around them.
BODY_RESERVE = 64 * 1024
ATTACHMENT_DESCRIPTION_MAX = 1024
# A description whose traceback is attached whole shows only its end, in at most this.
ATTACHED_DESCRIPTION_MAX = 1500
SUPPRESS_NOTIFICATIONS = 1 << 12  # message flag: no push or desktop notification

ELLIPSIS = "…"

# Field values up to this long (and on one line) are shown side by side.
INLINE_MAX = 40
# The closing "…and N more" field lists the names it leaves out, up to this long.
SUMMARY_VALUE_MAX = 100
# When description and fields compete for the 6000 total, the description gets 2/3.
DESCRIPTION_SHARE = 2 / 3

FENCE = "```"
CODE_OPEN = "```py\n"
CODE_CLOSE = "\n```"
ZWSP = "\u200b"  # breaks a "```" inside a code block without changing how it reads
_BACKTICKS = re.compile(r"``(?=`)")  # where a run of backticks would make a fence

_STYLE: dict[Level, tuple[str, int]] = {
    Level.DEBUG: ("⚪", 0x95A5A6),  # grey
    Level.INFO: ("🔵", 0x3498DB),  # blue
    Level.WARNING: ("🟠", 0xFFBF00),  # amber
    Level.ERROR: ("🔴", 0xE74C3C),  # red
    Level.CRITICAL: ("🚨", 0x8B0000),  # dark red
}
_BANNED_USERNAME_PARTS = ("discord", "clyde")
_BANNED_USERNAMES = ("everyone", "here")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (multipart `files[n]`), e.g. a whole traceback.

    `filename` is the name it would have alone; `Renderer.payload` numbers the names
    when one message carries several.
    """

    filename: str
    data: bytes
    description: str | None = None  # alt text, at most 1024
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Embed:
    """One rendered Discord embed and its size toward the 6000-character total.

    Build it with `Embed.of(data)`, which counts the size. `files` are the attachments
    that belong to it (a traceback too long for the embed); `text` is its plain-text
    form, set for sinks with `embeds = false`.

    >>> Embed.of({"title": "hi", "fields": [{"name": "a", "value": "bc"}]}).size
    5
    """

    data: dict[str, Any]
    size: int
    files: tuple[Attachment, ...] = ()
    text: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any], files: tuple[Attachment, ...] = ()) -> Embed:
        """Wrap an embed object, counting its size with `embed_size`."""
        return cls(data, embed_size(data), files)


def embed_size(data: Mapping[str, Any]) -> int:
    """The characters Discord counts toward the 6000 total for one embed object:
    title + description + field names and values + footer text + author name.

    >>> embed_size({"title": "ab", "footer": {"text": "c"}, "color": 1})
    3
    """
    size = len(data.get("title") or "") + len(data.get("description") or "")
    for item in data.get("fields") or ():
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((data.get("footer") or {}).get("text") or "")
    size += len((data.get("author") or {}).get("name") or "")
    return size


# -- text -----------------------------------------------------------------------------


def clean(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined, lone surrogates replaced by U+FFFD.

    >>> clean("\\ud83d\\ude00 ok \\ud800") == "😀 ok \\ufffd"
    True
    """
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _attaches(char: str) -> bool:
    """True for a code point that belongs to the character before it (combining mark,
    variation selector, emoji modifier, zero-width joiner)."""
    code = ord(char)
    return (
        unicodedata.category(char).startswith("M")
        or code == 0x200D
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (flags of regions)
    )


def _head_cut(text: str, end: int) -> int:
    """Move a cut at `end` back so it does not split a character from its marks."""
    floor = max(0, end - 16)  # a bounded search: pathological mark runs are just cut
    cut = end
    while cut > floor and (_attaches(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return end if cut == floor > 0 else cut


def _tail_cut(text: str, start: int) -> int:
    """Move a cut at `start` forward so the kept tail does not begin with a mark."""
    ceiling = min(len(text), start + 16)
    cut = start
    while cut < ceiling and (_attaches(text[cut]) or text[cut - 1] == "\u200d"):
        cut += 1
    return cut if cut < ceiling else start


def truncate(text: str, limit: int, *, keep: Literal["head", "tail"] = "head") -> str:
    """`text` in at most `limit` code points, ending (or, keeping the tail, starting)
    with "…" when it was cut.

    The text is `clean`ed first, so the result never holds a lone surrogate, and a cut
    never separates a character from its combining marks or emoji modifiers.

    >>> truncate("hello world", 8)
    'hello w…'
    >>> truncate("hello world", 8, keep="tail")
    '…o world'
    >>> truncate("👍🏽👍🏽👍🏽", 4)  # 👍🏽 is two code points: never split them
    '👍🏽…'
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    text = clean(text)
    if len(text) <= limit:
        return text
    if limit == 0:
        return ""
    if keep == "head":
        return text[: _head_cut(text, limit - 1)] + ELLIPSIS
    return ELLIPSIS + text[_tail_cut(text, len(text) - (limit - 1)) :]


def tail_lines(text: str, limit: int) -> str:
    """The end of `text` in at most `limit` code points, starting at a line boundary
    when that keeps at least half of the room ("…" on a line of its own)."""
    cut = truncate(text, limit, keep="tail")
    if cut == text or not cut:
        return cut
    newline = cut.find("\n")
    if 0 < newline <= len(cut) // 2:
        return ELLIPSIS + cut[newline:]
    return cut


def head_lines(text: str, limit: int) -> str:
    """The head of `text` in at most `limit` code points, cut at a line boundary when
    that keeps at least half of the room ("…" then stands on a line of its own).

    >>> head_lines("one\\ntwo\\nthree", 10)
    'one\\ntwo\\n…'
    >>> head_lines("a long single line", 8)
    'a long …'
    """
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = truncate(text, limit)
    newline = cut.rfind("\n", 0, len(cut) - 1)
    if newline >= len(cut) // 2:
        return cut[:newline] + "\n" + ELLIPSIS
    return cut


def _with_closed_fences(text: str, limit: int) -> str:
    """The head of `text` in `limit` code points (cut at a line boundary if it can be),
    with a code block it opened closed."""
    cut = head_lines(text, limit)
    if cut.count(FENCE) % 2 == 0:
        return cut
    if limit < len(CODE_CLOSE):
        return ""
    cut = head_lines(text, limit - len(CODE_CLOSE))
    return cut + CODE_CLOSE if cut.count(FENCE) % 2 else cut


def fit_text(text: str, limit: int) -> str:
    """`text` in at most `limit` code points: cut at a line boundary when it can be,
    never inside a surrogate pair or a character's marks, code fences left closed.

    >>> fit_text("```py\\nx = 1\\ny = 2\\nz = 3\\n```", 20)
    '```py\\nx = 1\\n…\\n```'
    """
    return _with_closed_fences(text, limit)


def _normal(code: str) -> str:
    """`code` clean, with LF line ends, without blank lines around it."""
    code = clean(code)
    return (code.replace("\r\n", "\n") if "\r" in code else code).strip("\n")


def _code(code: str, normal: bool = False) -> str:
    """`code` as it goes inside a code block: `_normal`, and fences defused."""
    code = code if normal else _normal(code)
    return _BACKTICKS.sub("``" + ZWSP, code) if FENCE in code else code


def _code_block(code: str, limit: int) -> str:
    """`code` (made ready by `_code`; its tail, if it must be cut) in a ```py block of
    at most `limit`."""
    room = limit - len(CODE_OPEN) - len(CODE_CLOSE)
    if room < 1:
        return ""
    return CODE_OPEN + tail_lines(code, room) + CODE_CLOSE


def code_block(code: str, limit: int = DESCRIPTION_MAX, lang: str = "py") -> str:
    """`code` in a fenced block of at most `limit` code points; when it must be cut, its
    last lines are kept (a traceback's last frames and final line matter most).

    >>> code_block("a\\nb\\nc", 12, lang="")
    '```\\n…\\nc\\n```'
    """
    opener = f"{FENCE}{lang}\n"
    room = limit - len(opener) - len(CODE_CLOSE)
    if room < 1:
        return ""
    return opener + tail_lines(_code(code), room) + CODE_CLOSE


# -- one embed ------------------------------------------------------------------------


def split_message(message: str) -> tuple[str, str]:
    """(first line, the rest) of a message, line endings normalised, cleaned."""
    text = clean(message).replace("\r\n", "\n").replace("\r", "\n").strip()
    first, _, rest = text.partition("\n")
    return first.strip(), rest.strip("\n")


def _title(level: Level, first_line: str) -> tuple[str, bool]:
    """The title, and whether it had to cut the first line."""
    emoji, _ = _STYLE.get(level, _STYLE[Level.INFO])
    head = f"{emoji} {getattr(level, 'name', level)}"
    if not first_line:
        return head, False
    full = f"{head}: {first_line}"
    title = truncate(full, TITLE_MAX)
    return title, title != full


def _description(text: str, exception: str, limit: int) -> str:
    """Message text, then the traceback (made ready by `_code`) in a code block, in at
    most `limit` code points.

    When both do not fit, the traceback gets at least two thirds of the room (its
    last lines are kept), and the message whatever the traceback leaves over.
    """
    if text.count(FENCE) % 2:  # the message opens a code block it never closes
        text += CODE_CLOSE
    if not exception.strip():
        return _with_closed_fences(text, limit)
    if not text.strip():
        return _code_block(exception, limit)
    sep = "\n\n"
    block = _code_block(exception, DESCRIPTION_MAX)
    if len(text) + len(sep) + len(block) <= limit:
        return text + sep + block
    room = limit - len(sep)
    head = _with_closed_fences(text, min(len(text), max(room - len(block), room // 3)))
    block = _code_block(exception, room - len(head))
    if not head or not block:  # too little room for both: the traceback wins
        return _code_block(exception, limit) or _with_closed_fences(text, limit)
    return head + sep + block


def iso_timestamp(ts: datetime | None) -> str | None:
    """`ts` as ISO 8601 in UTC (what an embed's `timestamp` takes); a naive time is
    taken as UTC (parsers attach the zone they know)."""
    if ts is None:
        return None
    try:
        aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (OverflowError, ValueError):  # a year-1 time east of UTC: no UTC equivalent
        return None
    return aware.isoformat()


def _footer(event: Event, host: str | None) -> str:
    parts = (event.source, event.logger, host)
    return truncate(" · ".join(clean(p).strip() for p in parts if p and p.strip()), FOOTER_MAX)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict | set | frozenset) and not value


def render_value(value: Any) -> str:
    """A field value as text: strings as they are, anything else as compact JSON.

    >>> render_value("ok"), render_value(3), render_value({"a": [1, None]})
    ('ok', '3', '{"a":[1,null]}')
    """
    if isinstance(value, str):
        return clean(value)
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits
        return clean(str(value))


def _field(name: str, value: str, value_max: int = FIELD_VALUE_MAX) -> dict[str, Any]:
    value = truncate(value, value_max)
    return {"name": name, "value": value, "inline": len(value) <= INLINE_MAX and "\n" not in value}


def _value_text(raw: Any) -> str:
    """A field value as shown: text within the field limit that opens no code block it
    does not close ("" for nothing worth showing)."""
    value = render_value(raw).strip()
    if FENCE in value:  # defused, so that no cut can leave one open
        value = _BACKTICKS.sub("``" + ZWSP, value)
    return truncate(value, FIELD_VALUE_MAX)


def _field_items(fields: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs worth showing, each within Discord's per-field limits."""
    items = []
    for key, raw in fields.items():
        if _is_empty(raw):
            continue
        value = _value_text(raw)
        if not value:
            continue
        name = truncate(clean(str(key)).strip() or "(no name)", FIELD_NAME_MAX)
        items.append((name, value))
    return items


def _summary(omitted: Sequence[str]) -> dict[str, Any]:
    """The closing field that says how many were left out, and which."""
    names = truncate(_BACKTICKS.sub("``" + ZWSP, ", ".join(omitted)), SUMMARY_VALUE_MAX)
    return {"name": f"…and {len(omitted)} more", "value": names, "inline": False}


def _fields(items: Sequence[tuple[str, str]], budget: int) -> list[dict[str, Any]]:
    """At most 25 fields whose names and values add up to at most `budget` code points;
    when some must go, the last field says "…and N more"."""
    if len(items) <= FIELDS_MAX and sum(len(n) + len(v) for n, v in items) <= budget:
        return [_field(n, v) for n, v in items]
    room = budget - (len(f"…and {len(items)} more") + SUMMARY_VALUE_MAX)
    out: list[dict[str, Any]] = []
    used = 0
    for name, value in items[: FIELDS_MAX - 1]:
        cost = len(name) + len(value)
        if used + cost <= room:
            out.append(_field(name, value))
            used += cost
            continue
        if room - used - len(name) >= 32:  # worth showing a cut value
            out.append(_field(name, value, room - used - len(name)))
        break
    omitted = [name for name, _ in items[len(out) :]]
    if omitted and room >= 0:
        out.append(_summary(omitted))
    return out


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
    return _compose(event, host, layout, files=files, room=room)


@dataclass(slots=True)
class _Layout:
    """What a kind's layout decides; `_compose` fits it into Discord's limits."""

    title: str
    color: int
    text: str  # the description's text (the traceback comes after it)
    items: list[tuple[str, str]]  # fields, (name, value)
    exception: str | None = None


def _compose(event: Event, host: str | None, layout: _Layout, *, files: bool, room: int
             ) -> Embed:
    footer = _footer(event, host)
    if room < TOTAL_MAX:  # a small room (plain text): the footer must not take it all
        footer = truncate(footer, min(FOOTER_MAX, room // 8))
    budget = max(0, room - len(layout.title) - len(footer))
    exception = layout.exception
    normal = _normal(exception) if exception else ""  # once: a traceback can be long
    code = _code(normal, normal=True)
    description, fields = _fit(layout.text, code, layout.items, budget)
    attachments: tuple[Attachment, ...] = ()
    if files and code.strip() and code not in description:
        attachments = (traceback_file(normal, layout.title),)
        lines = code.count("\n") + 1
        note = ("Full traceback", f"📎 attached as a file ({lines} lines)")
        # the file has it all: the embed shows the last frames, and leaves room for others
        description, fields = _fit(layout.text, code, [note, *layout.items], budget,
                                   ATTACHED_DESCRIPTION_MAX)

    data: dict[str, Any] = {"title": layout.title}
    if description.strip():
        data["description"] = description
    data["color"] = layout.color
    if (timestamp := iso_timestamp(event.ts)) is not None:
        data["timestamp"] = timestamp
    if fields:
        data["fields"] = fields
    if footer:
        data["footer"] = {"text": footer}
    return Embed.of(data, attachments)


def traceback_file(exception: str, title: str = "", limit: int = FILE_MAX) -> Attachment:
    """The whole traceback as a text file (its tail, in the unlikely case it is over
    `limit` bytes), for a message whose embed could only show it cut."""
    data = keep_tail(_normal(exception).encode() + b"\n", limit)
    description = truncate(f"Traceback: {title}" if title else "Traceback",
                           ATTACHMENT_DESCRIPTION_MAX)
    return Attachment("traceback.txt", data, description)


def keep_tail(data: bytes, limit: int) -> bytes:
    """The last `limit` bytes of a text file's `data`: whole lines, valid UTF-8.

    >>> keep_tail(b"one\\ntwo\\nthree\\n", 10)
    b'three\\n'
    """
    if len(data) <= limit:
        return data
    tail = data[-limit:]
    lines = tail[tail.find(b"\n") + 1:]
    return lines or tail.decode("utf-8", "ignore").encode()


# -- events in full, as a text file (what a storm summary attaches) ------------------------

EVENTS_FILE = "events.log"


def log_entry(event: Event) -> str:
    """One event in full, as a text file shows it: a head line (level, time, source,
    logger), the whole message, the exception's type and whole traceback, every field;
    a blank line after it. The caller redacts (`Renderer.shown`).

    >>> print(log_entry(Event(None, Level.ERROR, "boom", fields={"user": 7},
    ...                       exception="Traceback:\\nValueError: bad")), end="")
    ── ERROR · no time ──
    boom
    exception: ValueError
    Traceback:
    ValueError: bad
    user: 7
    <BLANKLINE>
    """
    head = [_level_name(event.level), iso_timestamp(event.ts) or "no time"]
    head += [clean(part).strip() for part in (event.source, event.logger) if part]
    lines = [f"── {' · '.join(head)} ──", _normal(event.message)]
    if event.exception and event.exception.strip():
        kind = exception_type(event)
        if kind:
            lines.append(f"exception: {kind}")
        lines.append(_normal(event.exception))
    lines += [f"{clean(str(key))}: {render_value(value)}" for key, value in event.fields.items()
              if not _is_empty(value)]
    return "\n".join(lines) + "\n\n"


def event_log_files(entries: Sequence[bytes], file_max: int, room: int
                    ) -> list[tuple[tuple[Attachment, ...], int]]:
    """`entries` (from `log_entry`, encoded) as `events.log` files, message by message:
    each message's files (at most 10, each at most `file_max` bytes, `room` bytes in
    all) and how many of the entries, in order, they hold. An entry is never split: one
    longer than `file_max` is cut in its middle (head and tail kept, marked)."""
    file_max = max(1, min(file_max, room))
    messages: list[tuple[tuple[Attachment, ...], int]] = []
    files: list[bytes] = []
    current: list[bytes] = []
    size = total = taken = 0
    for entry in entries:
        if len(entry) > file_max:
            entry = _cut_middle(entry, file_max)
        if (current and size + len(entry) > file_max) or total + len(entry) > room:
            files.append(b"".join(current))
            current, size = [], 0
            if len(files) == FILES_MAX or total + len(entry) > room:
                messages.append((_events_files(files, taken), taken))
                files, total, taken = [], 0, 0
        current.append(entry)
        size += len(entry)
        total += len(entry)
        taken += 1
    if current:
        files.append(b"".join(current))
        messages.append((_events_files(files, taken), taken))
    return messages


def _events_files(contents: Sequence[bytes], events: int) -> tuple[Attachment, ...]:
    """One message's `events.log` files: events.log, events-2.log, …"""
    stem, _, suffix = EVENTS_FILE.rpartition(".")
    description = f"{events} events in full" if events != 1 else "1 event in full"
    return tuple(Attachment(EVENTS_FILE if n == 1 else f"{stem}-{n}.{suffix}", data, description)
                 for n, data in enumerate(contents, 1))


def _cut_middle(data: bytes, limit: int) -> bytes:
    """`data` in at most `limit` bytes: its head and its tail (a traceback's cause) around
    a marker, both valid UTF-8."""
    marker = f"\n[cut: {len(data) - limit + 64} bytes]\n".encode()
    half = max(0, (limit - len(marker)) // 2)
    head = data[:half].decode("utf-8", "ignore").encode()
    tail = data[len(data) - half:].decode("utf-8", "ignore").encode() if half else b""
    return (head + marker + tail)[:limit]


def capped_file(attachment: Attachment, limit: int) -> Attachment:
    """`attachment` with at most `limit` bytes (its tail: a traceback ends in its cause)."""
    if len(attachment.data) <= limit:
        return attachment
    return replace(attachment, data=keep_tail(attachment.data, limit))


def level_style(level: Level) -> tuple[str, int]:
    """The emoji and the colour (an integer) of a level.

    >>> level_style(Level.ERROR)
    ('🔴', 15158332)
    """
    return _STYLE.get(level, _STYLE[Level.INFO])


def _level_name(level: Level) -> str:
    return str(getattr(level, "name", level))


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
    return _field_items(fields)


def _first(fields: Mapping[Any, Any], keys: Sequence[str]) -> tuple[str, Any] | tuple[None, None]:
    """The first of `keys` that `fields` has a value for, and that value."""
    for key in keys:
        value = fields.get(key)
        if not _is_empty(value):
            return key, value
    return None, None


def _log_layout(event: Event) -> _Layout:
    emoji, color = level_style(event.level)
    title, text = _title_and_text(f"{emoji} {_level_name(event.level)}", event.message)
    return _Layout(title, color, text, _field_items(event.fields), event.exception)


# -- error ------------------------------------------------------------------------------

_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")
_TYPE_KEYS = ("error_type", "exc_type", "exception_type")


def exception_type(event: Event, exception: str | None = None) -> str | None:
    """The exception's type name (without its module): from an `error_type` field, else
    the last line of the traceback, else an `error` field such as "HTTPException: 503".

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
    if isinstance(named, str):
        return truncate(named.strip().rsplit(".", 1)[-1], 100)
    for text in (exception if exception is not None else event.exception, fields.get("error")):
        if isinstance(text, str) and (found := _type_in(text)):
            return found
    return None


def _type_in(text: str) -> str | None:
    """The type named by the last unindented line of a traceback (or a one-line error)."""
    end = len(text)
    while end > 0:  # from the end, line by line: a traceback can be long
        start = text.rfind("\n", 0, end) + 1
        line, end = text[start:end], start - 1
        if not line.strip() or line[:1].isspace():
            continue
        match = _EXCEPTION_LINE.match(line.strip())
        if match is None or match.group(1) == "Traceback":
            return None
        name = match.group(1).rsplit(".", 1)[-1]
        return truncate(name, 100) if name[:1].isupper() else None
    return None


def _error_layout(event: Event) -> _Layout:
    fields = event.fields
    exception = event.exception
    used = set(_TYPE_KEYS)
    if not (exception and exception.strip()) and isinstance(fields.get("traceback"), str):
        exception = fields["traceback"]  # StructuredLogger keeps it in its context
        used.add("traceback")
    emoji, color = level_style(event.level)
    head = f"{emoji} {_level_name(event.level)}"
    if kind_name := exception_type(event, exception):
        head += f" · {kind_name}"
    title, text = _title_and_text(head, event.message)
    items: list[tuple[str, str]] = []
    key, service = _first(fields, ("service",))
    if key is None and event.logger:
        service = event.logger
    if service is not None and (shown := _value_text(service)):
        items.append(("Service", shown))
        used.add("service")
    return _Layout(title, color, text, items + _items(fields, used), exception)


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


def _performance_layout(event: Event) -> _Layout:
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
    title, text = _title_and_text(f"{emoji} {_level_name(level)}", event.message)
    items: list[tuple[str, str]] = []
    used = {"ratio", "unit", "event_type"}
    if metric is not None and (shown := _value_text(metric)):
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
    return _Layout(title, color, text, items + _items(fields, used), event.exception)


# -- member -----------------------------------------------------------------------------

_MEMBER_ACTIONS: dict[str, tuple[str, int]] = {
    "join": ("➡️", 0x2ECC71),  # green
    "leave": ("⬅️", 0xE67E22),  # orange
    "ban": ("🔨", 0x992D22),  # dark red
    "unban": ("🕊️", 0x1ABC9C),  # teal
}
_MEMBER_OTHER = ("👤", 0x9B59B6)  # purple
_MEMBER_WORDS = re.compile(r"\b(unban|ban|join|leave|left|kick)", re.IGNORECASE)
_MEMBER_ALIASES = {"left": "leave", "kick": "leave"}
_ACTION_KEYS = ("event_type", "action", "event", "type")
MEMBER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Member", ("member_name", "username", "member", "user", "name")),
    ("ID", ("member_id", "user_id", "id")),
    ("Guild", ("guild_name", "guild")),
    ("Guild ID", ("guild_id",)),
    ("Date", ("date",)),
)


def member_action(event: Event) -> str | None:
    """join, leave, ban or unban: from the `event_type` (or `action`) field, else the
    message.

    >>> member_action(Event(None, Level.INFO, "⬅️ Member Leave"))
    'leave'
    """
    _, named = _first(event.fields, _ACTION_KEYS)
    for text in (named, event.message):
        if isinstance(text, str) and (match := _MEMBER_WORDS.search(text)):
            word = match.group(1).lower()
            return _MEMBER_ALIASES.get(word, word)
    return None


def _member_layout(event: Event) -> _Layout:
    """A member event: only the member data left in the event after the sink's privacy
    settings (usernames dropped, ids masked or hashed) is there to be shown."""
    fields = event.fields
    action = member_action(event)
    emoji, color = _MEMBER_ACTIONS.get(action or "", _MEMBER_OTHER)
    items: list[tuple[str, str]] = []
    used = set(_ACTION_KEYS)
    for label, keys in MEMBER_FIELDS:
        key, value = _first(fields, keys)
        if key is not None and (shown := _value_text(value)):
            items.append((label, shown))
            used.add(key)
    head = f"{emoji} Member {action}" if action else f"{emoji} Member"
    name = items[0][1] if items and items[0][0] == "Member" else ""
    title = truncate(f"{head}: {name}" if name else head, TITLE_MAX)
    text = "\n".join(part for part in split_message(event.message) if part)
    return _Layout(title, color, text, items + _items(fields, used), event.exception)


# -- status -----------------------------------------------------------------------------

_STATUS_KEYS = ("event_type", "status", "event", "action")
_STATUSES: tuple[tuple[str, str, str, int, re.Pattern[str]], ...] = (
    # (status, label, emoji, colour at INFO and below, what the text says)
    ("reconnect", "Reconnect", "🔁", 0xF1C40F, re.compile(r"reconnect", re.I)),
    ("heartbeat", "Heartbeat", "💓", 0xE91E63, re.compile(r"heartbeat", re.I)),
    ("stop", "Stopped", "🔚", 0x95A5A6,
     re.compile(r"end of session|\bstop|shut ?down|\bexit|offline|disconnect", re.I)),
    ("start", "Started", "🟢", 0x2ECC71,
     re.compile(r"new bot run session|\bstart|\bready\b|online|\bconnected|logged in", re.I)),
)


def status_of(event: Event) -> str | None:
    """start, stop, heartbeat or reconnect: from the `event_type` (or `status`) field,
    else the message.

    >>> status_of(Event(None, Level.CRITICAL, "Maximum reconnection attempts reached, "
    ...                 "bot will exit"))
    'reconnect'
    """
    return _status(event)[0]


_STATUS_TYPES = {"run_start": "start", "run_end": "stop", "reconnect_failed": "reconnect"}


def _status(event: Event) -> tuple[str | None, str, str, int]:
    _, named = _first(event.fields, _STATUS_KEYS)
    if isinstance(named, str):
        named = _STATUS_TYPES.get(named, named)
    for text in (named, event.message):
        if isinstance(text, str):
            for status, label, emoji, color, pattern in _STATUSES:
                if pattern.search(text):
                    return status, label, emoji, color
    return None, "Status", "ℹ️", level_style(event.level)[1]


def _status_layout(event: Event) -> _Layout:
    _, label, emoji, color = _status(event)
    head = f"{emoji} {label}"
    if event.level >= Level.WARNING:  # trouble: the level says how bad, and its colour
        head += f" · {_level_name(event.level)}"
        color = level_style(event.level)[1]
    title, text = _title_and_text(head, event.message)
    return _Layout(title, color, text, _items(event.fields, ("event_type",)), event.exception)


_LAYOUTS: dict[str, Callable[[Event], _Layout]] = {
    "log": _log_layout,
    "error": _error_layout,
    "performance": _performance_layout,
    "member": _member_layout,
    "status": _status_layout,
}
KINDS = tuple(_LAYOUTS)  # the kinds with a layout of their own (anything else: "log")


def _fit(
    text: str, exception: str, items: Sequence[tuple[str, str]], room: int,
    most: int = DESCRIPTION_MAX,
) -> tuple[str, list[dict[str, Any]]]:
    """Description (at most `most`) and fields that together take at most `room`.

    When they compete, the description gets two thirds of the room, unless one of
    them needs less than its share, in which case the other gets the rest.
    """
    description = _description(text, exception, min(most, room))
    fields = _fields(items, room)
    want_fields = _fields_size(fields)
    if len(description) + want_fields <= room:
        return description, fields
    share = int(room * DESCRIPTION_SHARE)
    if len(description) <= share:
        return description, _fields(items, room - len(description))
    if want_fields <= room - share:
        return _description(text, exception, min(most, room - want_fields)), fields
    description = _description(text, exception, min(most, share))
    return description, _fields(items, room - len(description))


def _fields_size(fields: Iterable[Mapping[str, Any]]) -> int:
    return sum(len(f["name"]) + len(f["value"]) for f in fields)


# -- backlog and repair -------------------------------------------------------------

DIGEST_LINE_MAX = 160  # characters of one event's line in a digest


def digest_line(event: Event, show_time: bool = True) -> str:
    """One event as one line of a digest: time, level mark, first line, exception's last.

    >>> digest_line(Event(None, Level.ERROR, "boom\\nmore", exception="T\\nValueError: x"))
    '🔴 boom — ValueError: x'
    """
    emoji = _STYLE.get(event.level, _STYLE[Level.INFO])[0]
    first, _ = split_message(event.message)
    if event.exception:
        last = clean(event.exception).strip().rsplit("\n", 1)[-1].strip()
        if last:
            first = f"{first} — {last}" if first else last
    clock = f"`{event.ts:%H:%M:%S}` " if show_time and event.ts is not None else ""
    first = _BACKTICKS.sub("``" + ZWSP, first)  # a line of a digest opens no code block
    return truncate(f"{clock}{emoji} {first}", DIGEST_LINE_MAX).replace("\n", " ")


def render_digest(events: Sequence[Event], room: int = TOTAL_MAX) -> tuple[Embed, int]:
    """One embed listing as many of the leading `events` as fit in `room` characters (at
    least one), one line each; and how many it took. For a backlog: a storm of errors
    goes out in as few requests as the limits allow, every event still named.

    >>> embed, taken = render_digest([Event(None, Level.ERROR, f"e{n}") for n in range(3)])
    >>> taken, embed.data["title"], embed.data["description"]
    (3, '🔴 3 events (ERROR ×3)', '🔴 e0\\n🔴 e1\\n🔴 e2')
    """
    title_room = 64  # "🔴 1234 events (CRITICAL ×12, ERROR ×1222, …)" stays well under
    budget = min(DESCRIPTION_MAX, max(room - title_room, DIGEST_LINE_MAX))
    lines: list[str] = []
    used = 0
    shown: datetime | None = None
    for event in events:
        # A time is shown when it changes: a storm shares its second, not its chars.
        second = event.ts.replace(microsecond=0) if event.ts is not None else None
        line = digest_line(event, show_time=second != shown)
        shown = second
        cost = len(line) + (1 if lines else 0)
        if lines and used + cost > budget:
            break
        lines.append(line)
        used += cost
    taken = events[: len(lines)]
    top = max(e.level for e in taken)
    counts = Counter(e.level for e in taken)
    summary = ", ".join(f"{getattr(level, 'name', level)} ×{counts[level]}"
                        for level in sorted(counts, reverse=True))
    emoji, color = _STYLE.get(top, _STYLE[Level.INFO])
    title = truncate(f"{emoji} {len(taken)} events ({summary})", min(TITLE_MAX, title_room))
    return Embed.of({"title": title, "description": "\n".join(lines), "color": color}), len(
        taken)


def render_minimal(event: Event, host: str | None = None) -> Embed:
    """A plain embed for an event Discord refused as rendered: title, a short
    description, the footer; no fields, no timestamp. The repair before giving up.

    >>> render_minimal(Event(None, Level.ERROR, "boom", fields={"x": 1})).data
    {'title': '🔴 ERROR: boom', 'color': 15158332}
    """
    first, rest = split_message(event.message)
    title, _ = _title(event.level, first)
    data: dict[str, Any] = {"title": title}
    if rest.strip():
        data["description"] = truncate(rest, 1000)
    data["color"] = _STYLE.get(event.level, _STYLE[Level.INFO])[1]
    if footer := _footer(event, host):
        data["footer"] = {"text": footer}
    return Embed.of(data)


# -- templates and plain text -----------------------------------------------------------

_URL = re.compile(r"^https?://\S+$")


def fit_embed(data: Mapping[str, Any], files: tuple[Attachment, ...] = ()) -> Embed:
    """An embed made by someone else (a template) within every Discord limit: parts cut
    (titles and values on line boundaries, code fences closed), fields with an empty
    name or value left out, at most 25 fields, and the 6000 total kept by cutting the
    description, then dropping fields from the end. Unusable parts (a colour out of
    range, a URL that is not http(s)) are left out.

    Raises ValueError when nothing is left to show.

    >>> fit_embed({"title": "x" * 300, "fields": [{"name": "a", "value": " "}],
    ...            "color": 2**30}).data == {"title": "x" * 255 + "…"}
    True
    """
    out: dict[str, Any] = {}
    title = _part(data.get("title"))
    if title.strip():
        out["title"] = truncate(" ".join(title.split("\n")), TITLE_MAX)
    description = _part(data.get("description"))
    if description.strip():
        out["description"] = _with_closed_fences(description, DESCRIPTION_MAX)
    url = data.get("url")
    if isinstance(url, str) and len(url) <= AVATAR_URL_MAX and _URL.match(url):
        out["url"] = url
    color = data.get("color")
    if isinstance(color, int) and not isinstance(color, bool) and 0 <= color <= 0xFFFFFF:
        out["color"] = color
    if isinstance(timestamp := data.get("timestamp"), str):
        out["timestamp"] = timestamp
    author = _part((data.get("author") or {}).get("name"))
    if author.strip():
        out["author"] = {"name": truncate(author, AUTHOR_MAX)}
    fields = []
    for item in data.get("fields") or ():
        name, value = _part(item.get("name")).strip(), _part(item.get("value")).strip()
        if not name or not value or len(fields) == FIELDS_MAX:
            continue
        value = _with_closed_fences(value, FIELD_VALUE_MAX)
        inline = item.get("inline")
        field = _field(truncate(name, FIELD_NAME_MAX), value)
        if isinstance(inline, bool):
            field["inline"] = inline
        fields.append(field)
    if fields:
        out["fields"] = fields
    footer = _part((data.get("footer") or {}).get("text"))
    if footer.strip():
        out["footer"] = {"text": truncate(footer, FOOTER_MAX)}
    _keep_total(out)
    if embed_size(out) == 0:
        raise ValueError("the embed has no title, description, fields, footer or author")
    return Embed.of(out, files)


def _part(value: Any) -> str:
    return clean(value) if isinstance(value, str) else ""


def _keep_total(data: dict[str, Any]) -> None:
    """Cut `data` to the 6000 total: the description down to two thirds of the room
    (less if the fields leave it more), then fields from the end."""
    excess = embed_size(data) - TOTAL_MAX
    if excess <= 0:
        return
    fields = data.get("fields") or []
    if description := data.get("description"):
        fixed = embed_size(data) - len(description) - _fields_size(fields)
        room = TOTAL_MAX - fixed
        keep = max(min(len(description), int(room * DESCRIPTION_SHARE)),
                   room - _fields_size(fields))
        data["description"] = _with_closed_fences(description, max(0, keep))
        if not data["description"].strip():
            del data["description"]
    while fields and embed_size(data) > TOTAL_MAX:
        fields.pop()
    if not fields:
        data.pop("fields", None)


def embed_text(data: Mapping[str, Any], limit: int = CONTENT_MAX) -> str:
    """An embed as plain message text in at most `limit` code points: the title in
    bold, the description, one line per field, and a small footer line with the time
    (a Discord timestamp, shown in each reader's own time zone).

    >>> print(embed_text({"title": "🔴 ERROR: boom", "description": "more",
    ...                   "fields": [{"name": "id", "value": "7"}],
    ...                   "footer": {"text": "statsbot"},
    ...                   "timestamp": "2025-07-15T20:42:07+00:00"}))
    **🔴 ERROR: boom**
    more
    **id**: 7
    -# statsbot · <t:1752612127:f>
    """
    title = _BACKTICKS.sub("``" + ZWSP, str(data.get("title") or ""))
    head = f"**{title}**" if title else ""
    bits = [(data.get("footer") or {}).get("text") or ""]
    if isinstance(stamp := data.get("timestamp"), str):
        with contextlib.suppress(ValueError, OverflowError):
            bits.append(f"<t:{int(datetime.fromisoformat(stamp).timestamp())}:f>")
    footer_text = " · ".join(bit for bit in bits if bit.strip())
    footer = f"-# {truncate(footer_text, 300)}" if footer_text else ""
    lines = []
    for item in data.get("fields") or ():
        value = str(item.get("value", ""))
        sep = "\n" if "\n" in value else " "
        name = _BACKTICKS.sub("``" + ZWSP, str(item.get("name", "")))
        lines.append(f"**{name}**:{sep}{value}")
    fields = "\n".join(lines)
    description = str(data.get("description") or "")
    fixed = [part for part in (head, footer) if part]
    room = limit - sum(len(part) + 1 for part in fixed)
    if len(description) + len(fields) + 1 > room and room > 0:
        field_room = max(room // 3, room - len(description) - 1)
        fields = _with_closed_fences(fields, min(len(fields), field_room))
        description = _with_closed_fences(description, max(0, room - len(fields) - 1))
    parts = [head, description, fields, footer]
    return _with_closed_fences("\n".join(part for part in parts if part.strip()), limit)


def digest_embeds(events: Sequence[Event], room: int = TOTAL_MAX) -> tuple[list[Embed], int]:
    """Digest embeds for as many of the leading `events` as one message holds (at most
    10 embeds sharing `room` characters); and how many events they took."""
    embeds: list[Embed] = []
    taken = 0
    while taken < len(events) and len(embeds) < EMBEDS_MAX and room >= 2 * DIGEST_LINE_MAX:
        embed, count = render_digest(events[taken:], room)
        embeds.append(embed)
        taken += count
        room -= embed.size
    return embeds, taken


# -- messages -------------------------------------------------------------------------


def pack(embeds: Sequence[Embed], max_embeds: int = EMBEDS_MAX, max_chars: int = TOTAL_MAX) -> int:
    """How many of the leading `embeds` fit in one message: at most `max_embeds`, sizes
    adding up to at most `max_chars`, and at least one if there is any (every embed
    from `render_embed` fits a message on its own).

    >>> pack([Embed({}, 2500)] * 3), pack([Embed({}, 10)] * 12), pack([])
    (2, 10, 0)
    """
    count = total = 0
    for embed in embeds[:max_embeds]:
        total += embed.size
        if total > max_chars and count:
            break
        count += 1
    return count


def check_username(username: str) -> str:
    """`username` if Discord accepts it for a webhook message, else ValueError.

    >>> check_username("StatsBot logs")
    'StatsBot logs'
    >>> check_username("Discord Bot")
    Traceback (most recent call last):
    ...
    ValueError: Discord rejects a username containing 'discord': 'Discord Bot'
    """
    if not 1 <= len(username) <= USERNAME_MAX or not username.strip():
        raise ValueError(f"a username must be 1 to {USERNAME_MAX} characters: {username!r}")
    lowered = username.lower()
    for part in _BANNED_USERNAME_PARTS:
        if part in lowered:
            raise ValueError(f"Discord rejects a username containing {part!r}: {username!r}")
    if lowered.strip() in _BANNED_USERNAMES:
        raise ValueError(f"Discord rejects the username {username!r}")
    if clean(username) != username:
        raise ValueError(f"a username must be valid Unicode: {username!r}")
    return username


def _mentions(allowed_mentions: Mapping[str, Any] | None) -> dict[str, Any]:
    """A fresh copy of `allowed_mentions` (default: nobody), checked for the one
    combination Discord refuses: a type in `parse` and an explicit list of that type."""
    if allowed_mentions is None:
        return {"parse": []}  # a fresh dict each time: callers may change theirs
    mentions = {k: list(v) if isinstance(v, list | tuple) else v
                for k, v in allowed_mentions.items()}
    parse = mentions.get("parse") or []
    for kind in ("users", "roles"):
        if kind in parse and mentions.get(kind):
            raise ValueError(f"allowed_mentions cannot have {kind!r} in parse and a {kind} list")
    return mentions


def _options(
    username: str | None, avatar_url: str | None, allowed_mentions: Mapping[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if username is not None:
        body["username"] = check_username(username)
    if avatar_url is not None:
        if not 0 < len(avatar_url) <= AVATAR_URL_MAX:
            raise ValueError(f"avatar_url must be 1 to {AVATAR_URL_MAX} characters")
        body["avatar_url"] = avatar_url
    body["allowed_mentions"] = _mentions(allowed_mentions)
    return body


def build_payload(
    embeds: Sequence[Embed],
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
    content: str | None = None,
    thread_name: str | None = None,
    flags: int | None = None,
    files: Sequence[Attachment] = (),
) -> dict[str, Any]:
    """The JSON body of one Execute Webhook request carrying `embeds` (use `pack` to
    choose how many). Keys that would be None are left out; `allowed_mentions` is
    always there, `{"parse": []}` unless given. `content` is cut to 2000 (at a line
    boundary when it can be, code fences closed). `files` go in the multipart body as
    `files[n]`; here they are described in `attachments` (id n, filename, description).

    Raises ValueError for more than 10 embeds or 6000 characters, an empty message,
    more than 10 files, or a username or thread name Discord refuses.

    >>> build_payload([Embed.of({"title": "hi"})], username="logs")
    {'embeds': [{'title': 'hi'}], 'username': 'logs', 'allowed_mentions': {'parse': []}}
    """
    if len(embeds) > EMBEDS_MAX:
        raise ValueError(f"{len(embeds)} embeds: a message holds at most {EMBEDS_MAX}")
    total = sum(e.size for e in embeds)
    if total > TOTAL_MAX:
        raise ValueError(f"embeds hold {total} characters: a message holds at most {TOTAL_MAX}")
    if len(files) > FILES_MAX:
        raise ValueError(f"{len(files)} files: a message holds at most {FILES_MAX}")
    body: dict[str, Any] = {}
    if content is not None and content.strip():
        body["content"] = fit_text(content, CONTENT_MAX)
    if embeds:
        body["embeds"] = [e.data for e in embeds]
    if files:
        body["attachments"] = [_attachment_entry(n, f) for n, f in enumerate(files)]
    if not body:
        raise ValueError("empty message: it needs content or at least one embed")
    if thread_name is not None:
        if not 0 < len(thread_name) <= THREAD_NAME_MAX or not thread_name.strip():
            raise ValueError(f"thread_name must be 1 to {THREAD_NAME_MAX} characters")
        body["thread_name"] = clean(thread_name)
    if flags:
        body["flags"] = flags
    return body | _options(username, avatar_url, allowed_mentions)


def _attachment_entry(index: int, attachment: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": str(index), "filename": attachment.filename}
    if attachment.description:
        entry["description"] = truncate(attachment.description, ATTACHMENT_DESCRIPTION_MAX)
    return entry


def build_text_payload(
    text: str,
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A plain-text message: `text` cut to 2000 characters, mentions off by default.

    >>> build_text_payload("@everyone disk full")
    {'content': '@everyone disk full', 'allowed_mentions': {'parse': []}}
    """
    return build_payload(
        [], username=username, avatar_url=avatar_url, allowed_mentions=allowed_mentions,
        content=text,
    )


# -- mentions ---------------------------------------------------------------------------

MENTION_MAX = 1000  # characters of mentions at the head of one message
MENTIONS_PER_TYPE = 100  # allowed_mentions holds at most 100 roles and 100 users
_ROLE = re.compile(r"<@&(\d{1,20})>")
_USER = re.compile(r"<@!?(\d{1,20})>")


def mention_parts(mentions: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """The `content` that pings exactly `mentions` (role `<@&ID>` and user `<@ID>`
    mentions; anything else is ignored), and the `allowed_mentions` that lets Discord
    ping those ids and nothing else: never @everyone, @here, or an id quoted by a log line.

    >>> mention_parts(["<@&123>", "<@!45>", "@everyone", "<@&123>"])
    ('<@&123> <@45>', {'parse': [], 'roles': ['123'], 'users': ['45']})
    >>> mention_parts([])
    ('', {'parse': []})
    """
    roles: dict[str, None] = {}
    users: dict[str, None] = {}
    size = -1
    for mention in mentions:
        text = mention.strip()
        if match := _ROLE.fullmatch(text):
            ids, text = roles, f"<@&{match.group(1)}>"
        elif match := _USER.fullmatch(text):
            ids, text = users, f"<@{match.group(1)}>"
        else:
            continue
        key = match.group(1)
        if key in ids or len(ids) >= MENTIONS_PER_TYPE or size + len(text) + 1 > MENTION_MAX:
            continue
        ids[key] = None
        size += len(text) + 1
    allowed: dict[str, Any] = {"parse": []}
    if roles:
        allowed["roles"] = list(roles)
    if users:
        allowed["users"] = list(users)
    content = " ".join([f"<@&{r}>" for r in roles] + [f"<@{u}>" for u in users])
    return content, allowed


# -- one sink's messages ----------------------------------------------------------------

# What plain text adds around an embed's own characters (bold title, field labels, the
# footer line and its time): the room left for a default layout in a 2000 message.
TEXT_OVERHEAD = 240


class Message(NamedTuple):
    """One Execute Webhook request: the JSON body, and the files that make it multipart
    (`payload_json` + `files[n]`, n the index here)."""

    body: dict[str, Any]
    files: tuple[Attachment, ...] = ()


class TemplateSet(Protocol):
    """What `Renderer` needs of `logship.sinks.discord.templates.Templates`."""

    def __contains__(self, name: object) -> bool: ...

    def render(self, name: str, event: Event, *, host: str | None, route: str | None,
               sink: str | None, attached: bool, default: Callable[[str | None], Embed]
               ) -> dict[str, Any]: ...

    def failed(self, name: str, event: Event, error: Exception) -> None: ...


class Renderer:
    """Everything one sink's messages look like: embeds (default layouts or the route's
    template), digests, packing, and the request body with its files.

    The delivery worker makes one per sink and asks it, in this order:
    `embed(event, route)` for each event (cache it), `pack(embeds)` for how many go in
    one message (or `digest(events)` for a backlog), then `payload(embeds, routes)` for
    the body and files to send (`WebhookClient.execute(url, body, files=files,
    thread_id=sink.thread_id)`). `minimal(event)` is the plain repair rendering.

    The sink's options: `username`, `avatar_url`, `thread_name` (a new forum post per
    message), `embeds` (False: plain text messages), `suppress_notifications`, `files`
    (attach tracebacks too long for an embed), `privacy` (applied to every event
    first). `routes` (those that send to this sink) lets plain text keep room for their
    mentions.
    """

    def __init__(self, sink: SinkConfig, templates: TemplateSet | None = None,
                 host: str | None = None, routes: Iterable[RouteConfig] = (), *,
                 redactor: Redactor | None = None) -> None:
        self.sink = sink
        # secrets out of every event shown, whatever the spool kept (spool.redact = false)
        self.redactor = redactor
        self.templates = templates
        self.host = host
        # told (template name, event, error) when a template fails on an event
        self.on_template_error: Callable[[str, Event, Exception], None] | None = None
        options = self.options = sink.options  # a DiscordOptions
        self.text = not options.embeds
        self.files = options.files
        self.flags = SUPPRESS_NOTIFICATIONS if options.suppress_notifications else None
        self.thread_name = options.thread_name
        self.privacy = sink.privacy  # member ids and names, as this sink may show them
        # bytes: one request's files, and one file (Discord answers 413 past its limit)
        self.files_room = max(0, options.max_request_bytes - BODY_RESERVE)
        self.file_max = min(options.max_file_bytes, self.files_room)
        routes = tuple(routes)
        self.routes = {route.name: route for route in routes}
        mentions = [m for route in routes if sink.name in route.sinks for m in route.mention]
        prefix, _ = mention_parts(mentions)
        # plain text: one message's characters for events, after the mentions' line
        self.text_limit = CONTENT_MAX - (len(prefix) + 1 if prefix else 0)
        self.room = self.text_limit - TEXT_OVERHEAD if self.text else TOTAL_MAX

    # -- one event

    def route(self, name: str | None) -> RouteConfig | None:
        """The route called `name` as configured now (a spooled event names the route it
        came through; a replay or drain renders it with that route's template)."""
        return self.routes.get(name) if name is not None else None

    def embed(self, event: Event, route: RouteConfig | None = None) -> Embed:
        """The event as this sink shows it, through `route`'s template if it names one.
        A template that fails on the event gives the default layout (and is counted)."""
        event = self.shown(event)
        name = route.template if route is not None else None
        embed = None
        if name is not None and name not in KINDS:
            templates = self.templates
            if templates is not None and name in templates:
                assert route is not None
                embed = self._templated(templates, name, event, route)
            elif templates is not None:
                templates.failed(name, event, LookupError(f"unknown template {name!r}"))
        if embed is None:
            kind = name if name in KINDS else None
            embed = render_embed(event, self.host, kind=kind, files=self.files, room=self.room)
        return self._finish(embed)

    def _templated(self, templates: TemplateSet, name: str, event: Event, route: RouteConfig
                   ) -> Embed | None:
        exception = event.exception
        attached = bool(self.files and exception and exception.strip()
                        and len(_code(exception)) > DESCRIPTION_MAX - len(CODE_OPEN + CODE_CLOSE))

        def default(kind: str | None) -> Embed:
            return render_embed(event, self.host, kind=kind)

        try:
            data = templates.render(name, event, host=self.host, route=route.name,
                                    sink=self.sink.name, attached=attached, default=default)
            files = (traceback_file(exception or "", data.get("title") or ""),) if attached else ()
            return fit_embed(data, files)
        except Exception as error:  # a template's own bug, whatever it is: fall back
            templates.failed(name, event, error)
            if self.on_template_error is not None:
                self.on_template_error(name, event, error)
            return None

    def minimal(self, event: Event) -> Embed:
        """The plain rendering for an event Discord refused as rendered."""
        return self._finish(render_minimal(self.shown(event), self.host))

    def shown(self, event: Event) -> Event:
        """`event` as this sink may show it: redacted, its privacy settings applied (a
        copy; the event itself when there is nothing to change)."""
        if self.redactor is not None:
            event = self.redactor.redact_event(event)
        return event if self.privacy is None else self.privacy.apply(event)

    def _finish(self, embed: Embed) -> Embed:
        if any(len(f.data) > self.file_max for f in embed.files):
            embed = Embed(embed.data, embed.size,
                          tuple(capped_file(f, self.file_max) for f in embed.files), embed.text)
        if not self.text:
            return embed
        text = embed_text(embed.data, self.text_limit)
        return Embed(embed.data, embed.size, embed.files, text)

    # -- messages

    def digest(self, events: Sequence[Event]) -> tuple[list[Embed], int]:
        """Digest embeds (one line per event) for as many leading `events` as one
        message holds, and how many they took."""
        if self.privacy is not None or self.redactor is not None:
            events = [self.shown(e) for e in events]
        if not self.text:
            return digest_embeds(events)
        embed, taken = render_digest(events, self.text_limit - 5)  # 5: "**", "**", "\n"
        text = f"**{embed.data['title']}**\n{embed.data['description']}"
        return [Embed(embed.data, embed.size, (), text)], taken

    def event_logs(self, events: Sequence[Event]) -> list[tuple[tuple[Attachment, ...], int]]:
        """Every one of `events` in full (`log_entry`) as this sink shows them (redacted,
        its privacy applied), as `events.log` files within this sink's limits, message
        by message: each message's files and how many of the leading events they hold
        (see `event_log_files`)."""
        entries = [log_entry(self.shown(event)).encode("utf-8", "replace") for event in events]
        return event_log_files(entries, self.file_max, self.files_room)

    def pack(self, embeds: Sequence[Embed]) -> int:
        """How many of the leading `embeds` one message carries (at least one): within
        Discord's limits, and their files within `max_request_bytes`."""
        count = self._files_fit(embeds)
        if count < len(embeds):
            embeds = embeds[:count]
        if not self.text:
            return pack(embeds)
        count, used = 0, -2
        for embed in embeds[:EMBEDS_MAX]:
            used += len(embed.text if embed.text is not None else "") + 2  # "\n\n" between
            if used > self.text_limit and count:
                break
            count += 1
        return count

    def _files_fit(self, embeds: Sequence[Embed]) -> int:
        """How many leading `embeds` have files that fit one request (at least one)."""
        if not self.files:
            return len(embeds)
        used = 0
        for count, embed in enumerate(embeds):
            used += sum(len(f.data) for f in embed.files)
            if used > self.files_room and count:
                return count
        return len(embeds)

    def payload(self, embeds: Sequence[Embed],
                routes: RouteConfig | Iterable[RouteConfig | None] | None = None,
                *, plain_profile: bool = False) -> Message:
        """The request for one message carrying `embeds` (from `pack` or `digest`) for
        events that came through `routes` (one route, or one per event): their mentions
        lead the content, and only they may ping. `plain_profile` leaves out the sink's
        username and avatar (after Discord refused them)."""
        if routes is None:
            routes = ()
        elif not isinstance(routes, Iterable):
            routes = (routes,)
        prefix, allowed = mention_parts(
            m for route in routes if route is not None for m in route.mention)
        files = _numbered_files(embeds, self.files_room) if self.files else ()
        if self.text:
            texts = "\n\n".join(e.text if e.text is not None else
                                 embed_text(e.data, self.text_limit) for e in embeds)
            content: str | None = f"{prefix}\n{texts}" if prefix else texts
            embeds = ()
        else:
            content = prefix or None
        body = build_payload(
            embeds,
            username=None if plain_profile else self.options.username,
            avatar_url=None if plain_profile else self.options.avatar_url,
            allowed_mentions=allowed, content=content, thread_name=self.thread_name,
            flags=self.flags, files=files)
        return Message(body, files)


def _numbered_files(embeds: Sequence[Embed], room: int = FILES_MAX * FILE_MAX
                    ) -> tuple[Attachment, ...]:
    """The files of a message's embeds (at most 10, and `room` bytes: `Renderer.pack`
    makes sure they fit); a name that several share says the position of its embed:
    traceback-3.txt belongs to the third."""
    found = [(n, f) for n, embed in enumerate(embeds, 1) for f in embed.files][:FILES_MAX]
    while len(found) > 1 and sum(len(f.data) for _, f in found) > room:
        found.pop()
    names = Counter(f.filename for _, f in found)
    return tuple(replace(f, filename=_numbered(f.filename, n)) if names[f.filename] > 1 else f
                 for n, f in found)


def _numbered(filename: str, n: int) -> str:
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}-{n}.{suffix}" if dot else f"{filename}-{n}"
