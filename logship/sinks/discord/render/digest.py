"""Digests: a backlog in as few messages as the limits allow, every event still named.

A digest embed lists events of one level, one line each; a message holds up to 10 such
embeds sharing the 6000 total. A line names its event by what identifies it
(`digest_line`): the time (when it changes), the level's mark, the exception's type, the
service, the message's first line, what the exception says, and the fields that make
the event specific: the member and their id (as the sink's privacy left them), the
guild, command, operation or worker, a tree_log section's items. The sink sends digests
instead of full embeds when a backlog would take too long to clear at full detail; the
events themselves then go in full, attached as `events.log` (`eventlog.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from logship.event import Event
from logship.parse.kinds import ERROR, STATUS
from logship.sinks.discord.render.embed import Embed
from logship.sinks.discord.render.layouts import exception_type, level_name, level_style
from logship.sinks.discord.render.limits import DESCRIPTION_MAX, EMBEDS_MAX, TITLE_MAX, TOTAL_MAX
from logship.sinks.discord.render.text import (
    clean,
    defuse_fences,
    is_empty,
    render_value,
    split_message,
    truncate,
)

DIGEST_LINE_MAX = 200  # characters of one event's line in a digest
VALUE_MAX = 48  # characters of one field's value in a line

# Fields a line never lists: the message or the head says them already, or they are
# not what tells one event from another (the whole traceback is in events.log).
_UNLISTED = frozenset({
    "event_type", "error_type", "exc_type", "exception_type", "traceback", "raw_time",
    "service", "unit", "ratio", "storm", "message", "msg", "level", "levelname",
    "timestamp", "asctime", "logger", "name", "category", "metric",
    "error",  # `_cause` shows an error's text
})
# What makes an event specific, listed first (a tree_log section's items come after, in
# their own order). Labels shorten the canonical names `parse.kinds` gives.
_SUBJECT = ("member_name", "member_id", "guild_name", "guild", "guild_id", "worker",
            "command", "operation", "channel", "channel_id", "task", "job", "shard_id",
            "metric", "value", "threshold", "duration_ms", "status", "run_id")
_RUN_TYPES = ("run_start", "run_end")
_LABELS = {"member_name": "member", "member_id": "id", "guild_name": "guild"}


def digest_line(event: Event, show_time: bool = True) -> str:
    """One event as one line of a digest: what identifies it, in at most 200 characters.

    >>> from logship.event import Level
    >>> digest_line(Event(None, Level.ERROR, "Failed to save stats\\nmore",
    ...     exception="Traceback ...\\nStorageError: could not save",
    ...     fields={"service": "database", "operation": "save", "error_type": "StorageError"}))
    '🔴 StorageError · [database] Failed to save stats — could not save (operation=save)'
    >>> digest_line(Event(None, Level.INFO, "➡️ Member Join", kind="member",
    ...     fields={"member_name": "alice#0", "member_id": "123456789012345678"}))
    '🔵 ➡️ Member Join (member=alice#0, id=123456789012345678)'
    """
    clock = f"`{event.ts:%H:%M:%S}` " if show_time and event.ts is not None else ""
    head = [level_style(event.level)[0]]
    fields = event.fields
    if (event.kind == ERROR or event.exception) and (kind := exception_type(event)):
        head.append(f"{kind} ·")
    service = fields.get("service") or event.logger
    if not is_empty(service):
        head.append(f"[{truncate(render_value(service).strip(), VALUE_MAX)}]")
    first, _ = split_message(event.message)
    said = first
    if cause := _cause(event):
        said = f"{said} — {cause}" if said else cause
    line = " ".join([*head, said]) if said else " ".join(head)
    listed = list(_listed(event, first))
    if listed:
        line = f"{line} ({', '.join(listed)})"
    line = defuse_fences(" ".join(line.split()))  # one line, and it opens no code block
    return clock + truncate(line, DIGEST_LINE_MAX - len(clock))


def _cause(event: Event) -> str:
    """What the exception (its last line) or an `error` field says, without the type
    the head names already; "" when the message says it, or there is none."""
    text = event.exception
    if not (text and text.strip()):
        error = event.fields.get("error")
        text = error if isinstance(error, str) else None
    if not text:
        return ""
    last = clean(text).strip().rsplit("\n", 1)[-1].strip()
    name, colon, rest = last.partition(": ")
    if colon and " " not in name:
        last = rest.strip()
    elif " " not in last and last.rsplit(".", 1)[-1] == exception_type(event):
        return ""  # a bare type: the head has it
    return "" if last in event.message else last


def _listed(event: Event, first: str) -> Iterator[str]:
    """`key=value` for the fields that make the event specific, those of `_SUBJECT`
    first, then the rest in their order; none the message already says."""
    fields = event.fields
    if not isinstance(fields, Mapping):
        return
    keys = [k for k in _SUBJECT if k in fields]
    keys += [k for k in fields if k not in _SUBJECT]
    numbers: set[float] = set()  # value=2450.12 says duration_ms=2450.12 already
    run = event.kind == STATUS and fields.get("event_type") in _RUN_TYPES  # run_id matters
    used = 0
    for key in keys:
        name = str(key)
        if name in _UNLISTED or (name == "run_id" and not run):
            continue
        value = fields[key]
        if is_empty(value) or _nested(value):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value in numbers:
                continue
            numbers.add(value)
        text = truncate(" ".join(render_value(value).split()), VALUE_MAX)
        if not text or _says(first, text):
            continue
        if name == "value" and isinstance(unit := fields.get("unit"), str):
            text = f"{text} {unit}"
        item = f"{_LABELS.get(name, clean(name))}={text}"
        used += len(item) + 2
        yield item
        if used >= DIGEST_LINE_MAX:
            return


def _says(message: str, value: str) -> bool:
    """The message names `value` already ("Member join recorded: alice#0"): a value that
    is no mere word ("save" in "Failed to save stats" may not be the operation)."""
    if value not in message:
        return False
    return len(value) >= 8 or not value.isalpha()


def _nested(value: Any) -> bool:
    """A mapping or a list of them: what a line cannot show (events.log has it)."""
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value)


def render_digest(events: Sequence[Event], room: int = TOTAL_MAX, *, one_level: bool = True
                  ) -> tuple[Embed, int]:
    """One embed listing as many of the leading `events` as fit in `room` characters (at
    least one), one line each, and how many it took. With `one_level`, it stops where the
    level changes: criticals and errors are listed apart.

    >>> from logship.event import Level
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
        if one_level and lines and event.level != events[0].level:
            break
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
    summary = ", ".join(f"{level_name(level)} ×{counts[level]}"
                        for level in sorted(counts, reverse=True))
    emoji, color = level_style(top)
    title = truncate(f"{emoji} {len(taken)} events ({summary})", min(TITLE_MAX, title_room))
    return Embed.of({"title": title, "description": "\n".join(lines), "color": color}), len(
        taken)


def digest_embeds(events: Sequence[Event], room: int = TOTAL_MAX) -> tuple[list[Embed], int]:
    """Digest embeds for as many of the leading `events` as one message holds (at most
    10 embeds sharing `room` characters, one level each); and how many events they
    took."""
    embeds: list[Embed] = []
    taken = 0
    while taken < len(events) and len(embeds) < EMBEDS_MAX and room >= 2 * DIGEST_LINE_MAX:
        embed, count = render_digest(events[taken:], room)
        embeds.append(embed)
        taken += count
        room -= embed.size
    return embeds, taken
