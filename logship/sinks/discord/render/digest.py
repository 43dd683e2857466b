"""Digests: a backlog in as few messages as the limits allow, every event still named.

A digest embed lists events one line each (time when it changes, level mark, first line,
the exception's last line); a message holds up to 10 of them sharing the 6000 total.
The worker sends digests instead of full embeds when a backlog would take too long to
clear; the events themselves then go in full as `events.log` files (`eventlog.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from logship.event import Event
from logship.sinks.discord.render.embed import Embed
from logship.sinks.discord.render.layouts import level_name, level_style
from logship.sinks.discord.render.limits import DESCRIPTION_MAX, EMBEDS_MAX, TITLE_MAX, TOTAL_MAX
from logship.sinks.discord.render.text import clean, defuse_fences, split_message, truncate

DIGEST_LINE_MAX = 160  # characters of one event's line in a digest


def digest_line(event: Event, show_time: bool = True) -> str:
    """One event as one line of a digest: time, level mark, first line, exception's last.

    >>> from logship.event import Level
    >>> digest_line(Event(None, Level.ERROR, "boom\\nmore", exception="T\\nValueError: x"))
    '🔴 boom — ValueError: x'
    """
    emoji = level_style(event.level)[0]
    first, _ = split_message(event.message)
    if event.exception:
        last = clean(event.exception).strip().rsplit("\n", 1)[-1].strip()
        if last:
            first = f"{first} — {last}" if first else last
    clock = f"`{event.ts:%H:%M:%S}` " if show_time and event.ts is not None else ""
    first = defuse_fences(first)  # a line of a digest opens no code block
    return truncate(f"{clock}{emoji} {first}", DIGEST_LINE_MAX).replace("\n", " ")


def render_digest(events: Sequence[Event], room: int = TOTAL_MAX) -> tuple[Embed, int]:
    """One embed listing as many of the leading `events` as fit in `room` characters (at
    least one), one line each; and how many it took. For a backlog: a storm of errors
    goes out in as few requests as the limits allow, every event still named.

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
    10 embeds sharing `room` characters); and how many events they took."""
    embeds: list[Embed] = []
    taken = 0
    while taken < len(events) and len(embeds) < EMBEDS_MAX and room >= 2 * DIGEST_LINE_MAX:
        embed, count = render_digest(events[taken:], room)
        embeds.append(embed)
        taken += count
        room -= embed.size
    return embeds, taken
