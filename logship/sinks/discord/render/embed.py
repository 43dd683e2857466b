"""One embed within every Discord limit, however long the event it shows.

Discord refuses a whole message with HTTP 400 (code 50035) when any single limit is
broken, and most of those limits are invisible to its own OpenAPI schema: the 6000
characters counted across every embed of a message, field names and values that must
not be empty. A refused message is never resent as is (see DESIGN.md, "Delivery
rules"), so each embed keeps every per-part limit (title 256, description 4096, 25
fields of 256/1024, footer 2048) *and* fits the 6000 total on its own: any one embed
can always be sent, and packing only has to count embeds and add up their sizes.

An embed comes from a `Layout` (what a kind's layout decided: `layouts.py`) through
`compose`, which shares the room between the description (the message's text, then the
traceback in a code block, its tail kept) and the fields ("…and N more" closes what
must go), or from a template through `fit_embed`, which cuts what someone else made.
A traceback longer than its embed can show goes whole as `traceback.txt` too, when the
sink allows files. `embed_text` is an embed as plain message text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from logship.errors import PayloadError
from logship.event import Event
from logship.sinks.discord.render.limits import (
    ATTACHMENT_DESCRIPTION_MAX,
    AUTHOR_MAX,
    AVATAR_URL_MAX,
    CONTENT_MAX,
    DESCRIPTION_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FILE_MAX,
    FOOTER_MAX,
    TITLE_MAX,
    TOTAL_MAX,
)
from logship.sinks.discord.render.text import (
    CODE_CLOSE,
    FENCE,
    clean,
    code_text,
    defuse_fences,
    fit_text,
    is_empty,
    iso_timestamp,
    normal_code,
    py_block,
    render_value,
    truncate,
)

# Field values up to this long (and on one line) are shown side by side.
INLINE_MAX = 40
# The closing "…and N more" field lists the names it leaves out, up to this long.
SUMMARY_VALUE_MAX = 100
# When description and fields compete for the 6000 total, the description gets 2/3.
DESCRIPTION_SHARE = 2 / 3
# A description whose traceback is attached whole shows only its end, in at most this.
ATTACHED_DESCRIPTION_MAX = 1500


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


@dataclass(slots=True)
class Layout:
    """What a kind's layout decides (`layouts.py`); `compose` fits it into Discord's
    limits."""

    title: str
    color: int
    text: str  # the description's text (the traceback comes after it)
    items: list[tuple[str, str]]  # fields, (name, value)
    exception: str | None = None


def compose(event: Event, host: str | None, layout: Layout, *, files: bool, room: int
            ) -> Embed:
    """`layout` as one embed of at most `room` characters, with the event's time and the
    footer source · logger · host; with `files`, a traceback the embed can only show
    cut is attached whole (`Embed.files`), and a field says so."""
    footer = footer_text(event, host)
    if room < TOTAL_MAX:  # a small room (plain text): the footer must not take it all
        footer = truncate(footer, min(FOOTER_MAX, room // 8))
    budget = max(0, room - len(layout.title) - len(footer))
    exception = layout.exception
    normal = normal_code(exception) if exception else ""  # once: a traceback can be long
    code = code_text(normal, normal=True)
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


def _description(text: str, exception: str, limit: int) -> str:
    """Message text, then the traceback (made ready by `code_text`) in a code block, in at
    most `limit` code points.

    When both do not fit, the traceback gets at least two thirds of the room (its
    last lines are kept), and the message whatever the traceback leaves over.
    """
    if text.count(FENCE) % 2:  # the message opens a code block it never closes
        text += CODE_CLOSE
    if not exception.strip():
        return fit_text(text, limit)
    if not text.strip():
        return py_block(exception, limit)
    sep = "\n\n"
    block = py_block(exception, DESCRIPTION_MAX)
    if len(text) + len(sep) + len(block) <= limit:
        return text + sep + block
    room = limit - len(sep)
    head = fit_text(text, min(len(text), max(room - len(block), room // 3)))
    block = py_block(exception, room - len(head))
    if not head or not block:  # too little room for both: the traceback wins
        return py_block(exception, limit) or fit_text(text, limit)
    return head + sep + block


def footer_text(event: Event, host: str | None) -> str:
    """The footer: source · logger · host, those that are there."""
    parts = (event.source, event.logger, host)
    return truncate(" · ".join(clean(p).strip() for p in parts if p and p.strip()), FOOTER_MAX)


def _field(name: str, value: str, value_max: int = FIELD_VALUE_MAX) -> dict[str, Any]:
    value = truncate(value, value_max)
    return {"name": name, "value": value, "inline": len(value) <= INLINE_MAX and "\n" not in value}


def value_text(raw: Any) -> str:
    """A field value as shown: text within the field limit that opens no code block it
    does not close ("" for nothing worth showing)."""
    value = defuse_fences(render_value(raw).strip())  # so that no cut can leave one open
    return truncate(value, FIELD_VALUE_MAX)


def field_items(fields: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """(name, value) pairs worth showing, each within Discord's per-field limits."""
    items = []
    for key, raw in fields.items():
        if is_empty(raw):
            continue
        value = value_text(raw)
        if not value:
            continue
        name = truncate(clean(str(key)).strip() or "(no name)", FIELD_NAME_MAX)
        items.append((name, value))
    return items


def _summary(omitted: Sequence[str]) -> dict[str, Any]:
    """The closing field that says how many were left out, and which."""
    names = truncate(defuse_fences(", ".join(omitted)), SUMMARY_VALUE_MAX)
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


def traceback_file(exception: str, title: str = "", limit: int = FILE_MAX) -> Attachment:
    """The whole traceback as a text file (its tail, in the unlikely case it is over
    `limit` bytes), for a message whose embed could only show it cut."""
    data = keep_tail(normal_code(exception).encode() + b"\n", limit)
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


def capped_file(attachment: Attachment, limit: int) -> Attachment:
    """`attachment` with at most `limit` bytes (its tail: a traceback ends in its cause)."""
    if len(attachment.data) <= limit:
        return attachment
    return replace(attachment, data=keep_tail(attachment.data, limit))


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
        out["description"] = fit_text(description, DESCRIPTION_MAX)
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
        value = fit_text(value, FIELD_VALUE_MAX)
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
        raise PayloadError("the embed has no title, description, fields, footer or author")
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
        data["description"] = fit_text(description, max(0, keep))
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
    title = defuse_fences(str(data.get("title") or ""))
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
        name = defuse_fences(str(item.get("name", "")))
        lines.append(f"**{name}**:{sep}{value}")
    fields = "\n".join(lines)
    description = str(data.get("description") or "")
    fixed = [part for part in (head, footer) if part]
    room = limit - sum(len(part) + 1 for part in fixed)
    if len(description) + len(fields) + 1 > room and room > 0:
        field_room = max(room // 3, room - len(description) - 1)
        fields = fit_text(fields, min(len(fields), field_room))
        description = fit_text(description, max(0, room - len(fields) - 1))
    parts = [head, description, fields, footer]
    return fit_text("\n".join(part for part in parts if part.strip()), limit)
