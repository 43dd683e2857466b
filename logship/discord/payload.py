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
- a long message keeps its head, a long traceback keeps its tail (the final exception
  line matters most); code fences are always closed;
- lengths are Unicode code points, the way Discord counts them (its API is Python 3:
  discord/discord-api-docs#1315), so `len()` is the right measure. Text is cleaned
  first: a surrogate pair that arrived as two code points is joined, a lone surrogate
  becomes U+FFFD. Otherwise the body could not even be encoded as UTF-8 JSON.

Mentions: text is kept faithful, `@everyone` included. Embeds never ping, and every
body carries `allowed_mentions: {"parse": []}` unless the caller asks otherwise, so a log
line that quotes `@everyone` (or a role or user mention) in `content` pings nobody either.

Everything here is a pure function of its arguments: no I/O, no clock, no environment.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from logship.event import Event, Level

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
class Embed:
    """One rendered Discord embed and its size toward the 6000-character total.

    Build it with `Embed.of(data)`, which counts the size.

    >>> Embed.of({"title": "hi", "fields": [{"name": "a", "value": "bc"}]}).size
    5
    """

    data: dict[str, Any]
    size: int

    @classmethod
    def of(cls, data: dict[str, Any]) -> Embed:
        """Wrap an embed object, counting its size with `embed_size`."""
        return cls(data, embed_size(data))


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


def _tail_lines(text: str, limit: int) -> str:
    """The end of `text` in at most `limit` code points, starting at a line boundary
    when that keeps at least half of the room ("…" on a line of its own)."""
    cut = truncate(text, limit, keep="tail")
    if cut == text or not cut:
        return cut
    newline = cut.find("\n")
    if 0 < newline <= len(cut) // 2:
        return ELLIPSIS + cut[newline:]
    return cut


def _with_closed_fences(text: str, limit: int) -> str:
    """The head of `text` in `limit` code points, with a code block it opened closed."""
    cut = truncate(text, limit)
    if cut.count(FENCE) % 2 == 0:
        return cut
    if limit < len(CODE_CLOSE):
        return ""
    cut = truncate(text, limit - len(CODE_CLOSE))
    return cut + CODE_CLOSE if cut.count(FENCE) % 2 else cut


def _code_block(code: str, limit: int) -> str:
    """`code` (its tail, if it must be cut) in a ```py block of at most `limit`."""
    room = limit - len(CODE_OPEN) - len(CODE_CLOSE)
    if room < 1:
        return ""
    code = _BACKTICKS.sub("``" + ZWSP, clean(code).replace("\r\n", "\n").strip("\n"))
    return CODE_OPEN + _tail_lines(code, room) + CODE_CLOSE


# -- one embed ------------------------------------------------------------------------


def _split_message(message: str) -> tuple[str, str]:
    """(first line, the rest) of a message, line endings normalised."""
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


def _description(text: str, exception: str | None, limit: int) -> str:
    """Message text, then the traceback in a code block, in at most `limit` code points.

    When both do not fit, the traceback gets at least two thirds of the room (its
    last lines are kept), and the message whatever the traceback leaves over.
    """
    exception = exception or ""
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


def _timestamp(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC; a naive time is taken as UTC (parsers attach the zone they know)."""
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


def _field_items(fields: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs worth showing, each within Discord's per-field limits."""
    items = []
    for key, raw in fields.items():
        if _is_empty(raw):
            continue
        value = render_value(raw).strip()
        if not value:
            continue
        name = truncate(clean(str(key)).strip() or "(no name)", FIELD_NAME_MAX)
        items.append((name, truncate(value, FIELD_VALUE_MAX)))
    return items


def _summary(omitted: Sequence[str]) -> dict[str, Any]:
    """The closing field that says how many were left out, and which."""
    names = truncate(", ".join(omitted), SUMMARY_VALUE_MAX)
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


def render_embed(event: Event, host: str | None = None) -> Embed:
    """One embed for one event, within every per-part limit and the 6000 total.

    Title: level and the message's first line. Description: the rest of the message
    (all of it when the title had to cut the first line), then the traceback in a
    ```py block. Fields: `event.fields`. Footer: source · logger · host.

    >>> from logship.event import Event, Level
    >>> e = render_embed(Event(None, Level.ERROR, "boom\\nmore", fields={"id": 7}), "h1")
    >>> e.data["title"], e.data["description"], e.data["fields"], e.data["footer"]
    ('🔴 ERROR: boom', 'more', [{'name': 'id', 'value': '7', 'inline': True}], {'text': 'h1'})
    >>> e.size
    22
    """
    first, rest = _split_message(event.message)
    title, cut = _title(event.level, first)
    if cut:  # the title could not hold the first line: the description shows all of it
        rest = f"{first}\n{rest}" if rest else first
    footer = _footer(event, host)
    items = _field_items(event.fields)
    description, fields = _fit(rest, event.exception, items, TOTAL_MAX - len(title) - len(footer))

    data: dict[str, Any] = {"title": title}
    if description.strip():
        data["description"] = description
    data["color"] = _STYLE.get(event.level, _STYLE[Level.INFO])[1]
    if (timestamp := _timestamp(event.ts)) is not None:
        data["timestamp"] = timestamp
    if fields:
        data["fields"] = fields
    if footer:
        data["footer"] = {"text": footer}
    return Embed.of(data)


def _fit(
    text: str, exception: str | None, items: Sequence[tuple[str, str]], room: int
) -> tuple[str, list[dict[str, Any]]]:
    """Description and fields that together take at most `room` code points.

    When they compete, the description gets two thirds of the room, unless one of
    them needs less than its share, in which case the other gets the rest.
    """
    description = _description(text, exception, min(DESCRIPTION_MAX, room))
    fields = _fields(items, room)
    want_fields = _fields_size(fields)
    if len(description) + want_fields <= room:
        return description, fields
    share = int(room * DESCRIPTION_SHARE)
    if len(description) <= share:
        return description, _fields(items, room - len(description))
    if want_fields <= room - share:
        return _description(text, exception, min(DESCRIPTION_MAX, room - want_fields)), fields
    description = _description(text, exception, min(DESCRIPTION_MAX, share))
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
    first, _ = _split_message(event.message)
    if event.exception:
        last = clean(event.exception).strip().rsplit("\n", 1)[-1].strip()
        if last:
            first = f"{first} — {last}" if first else last
    clock = f"`{event.ts:%H:%M:%S}` " if show_time and event.ts is not None else ""
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
    first, rest = _split_message(event.message)
    title, _ = _title(event.level, first)
    data: dict[str, Any] = {"title": title}
    if rest.strip():
        data["description"] = truncate(rest, 1000)
    data["color"] = _STYLE.get(event.level, _STYLE[Level.INFO])[1]
    if footer := _footer(event, host):
        data["footer"] = {"text": footer}
    return Embed.of(data)


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
) -> dict[str, Any]:
    """The JSON body of one Execute Webhook request carrying `embeds` (use `pack` to
    choose how many). Keys that would be None are left out; `allowed_mentions` is
    always there, `{"parse": []}` unless given. `content` is cut to 2000.

    Raises ValueError for more than 10 embeds or 6000 characters, an empty message,
    or a username Discord refuses.

    >>> build_payload([Embed.of({"title": "hi"})], username="logs")
    {'embeds': [{'title': 'hi'}], 'username': 'logs', 'allowed_mentions': {'parse': []}}
    """
    if len(embeds) > EMBEDS_MAX:
        raise ValueError(f"{len(embeds)} embeds: a message holds at most {EMBEDS_MAX}")
    total = sum(e.size for e in embeds)
    if total > TOTAL_MAX:
        raise ValueError(f"embeds hold {total} characters: a message holds at most {TOTAL_MAX}")
    body: dict[str, Any] = {}
    if content is not None and content.strip():
        body["content"] = truncate(content, CONTENT_MAX)
    if embeds:
        body["embeds"] = [e.data for e in embeds]
    if not body:
        raise ValueError("empty message: it needs content or at least one embed")
    return body | _options(username, avatar_url, allowed_mentions)


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
