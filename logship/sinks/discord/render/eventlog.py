"""Events in full as text files (`events.log`): what a storm summary or a digest
attaches, so that no event reaches Discord without its traceback or its subject.

`log_entry` writes one event (head line, whole message, exception type and traceback,
every field); `event_log_files` packs entries into files and messages within a sink's
limits, never splitting an entry (one too long for a file keeps its head and tail).
"""

from __future__ import annotations

from collections.abc import Sequence

from logship.event import Event
from logship.sinks.discord.render.embed import Attachment
from logship.sinks.discord.render.layouts import exception_type, level_name
from logship.sinks.discord.render.limits import FILES_MAX
from logship.sinks.discord.render.text import (
    clean,
    is_empty,
    iso_timestamp,
    normal_code,
    render_value,
)

EVENTS_FILE = "events.log"


def log_entry(event: Event) -> str:
    """One event in full, as a text file shows it: a head line (level, time, source,
    logger), the whole message, the exception's type and whole traceback, every field;
    a blank line after it. The caller redacts (`Renderer.shown`).

    >>> from logship.event import Level
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
    head = [level_name(event.level), iso_timestamp(event.ts) or "no time"]
    head += [clean(part).strip() for part in (event.source, event.logger) if part]
    lines = [f"── {' · '.join(head)} ──", normal_code(event.message)]
    if event.exception and event.exception.strip():
        kind = exception_type(event)
        if kind:
            lines.append(f"exception: {kind}")
        lines.append(normal_code(event.exception))
    lines += [f"{clean(str(key))}: {render_value(value)}" for key, value in event.fields.items()
              if not is_empty(value)]
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
