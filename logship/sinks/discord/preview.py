"""What a Discord sink would send for one event, shown and checked, not sent
(`logship preview`): the request, whether Discord would accept it (the emulator's own
check against Discord's OpenAPI description and limits), and how it reads; and how a
backlog of such events would go out now (`--backlog N`): the sink's own batching
(`DiscordSink.batch`) run against its budget on a clock of its own, sending nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from logship.sinks.base import Preview

if TYPE_CHECKING:
    from logship.sinks.discord.render import Message
    from logship.sinks.discord.sink import DiscordSink
    from logship.sinks.worker import Batch, Item

SHOWN_LINES = 8  # of the first digest, in a backlog's preview


def preview(sink: DiscordSink, item: Item) -> Preview:
    """The message `item` would make on its own, as `sink` renders it."""
    from logship.emulator.validate import payload_errors  # Discord's checks, offline

    renderer = sink.renderer
    failures: list[str] = []
    renderer.on_template_error = (
        lambda name, _event, error: failures.append(
            f"template {name!r} failed: {type(error).__name__}: {error}"))
    try:
        message = renderer.payload([renderer.embed(item.event, item.route)], item.route)
    finally:
        renderer.on_template_error = None
    options = sink.options
    thread = f"&thread_id={options.thread_id}" if options.thread_id else ""
    kind = ("multipart: payload_json + " + ", ".join(
        f"files[{n}]" for n in range(len(message.files)))) if message.files else "JSON"
    body = orjson.dumps(message.body, option=orjson.OPT_INDENT_2).decode()
    warnings = [f"{failure}; the default embed is sent instead (as the daemon does)"
                for failure in failures[:1]]
    return Preview(request=[f"POST {options.url.masked}?wait=true{thread} ({kind})",
                            *body.splitlines()], who="Discord",
                   problems=payload_errors(message.body, files=len(message.files)),
                   readable=readable(message), warnings=warnings, detail=message)


def readable(message: Message) -> list[str]:
    """A message as a terminal shows it: content, then each embed as a quoted block."""
    body = message.body
    lines: list[str] = []
    if content := body.get("content"):
        lines += [f"  {row}" for row in str(content).splitlines()]
    for embed in body.get("embeds") or ():
        color = embed.get("color")
        bar = "▌"
        lines.append(f"  {bar} {embed.get('title', '')}"
                     + (f"   [#{color:06X}]" if isinstance(color, int) else ""))
        if author := (embed.get("author") or {}).get("name"):
            lines.append(f"  {bar} by {author}")
        lines += [f"  {bar} {row}" for row in str(embed.get("description", "")).splitlines()]
        for item in embed.get("fields") or ():
            value = str(item["value"])
            if "\n" in value:
                lines.append(f"  {bar} {item['name']}:")
                lines += [f"  {bar}   {row}" for row in value.splitlines()]
            else:
                lines.append(f"  {bar} {item['name']}: {value}")
        footer = [(embed.get("footer") or {}).get("text") or "", embed.get("timestamp") or ""]
        if any(footer):
            lines.append(f"  {bar} — {' · '.join(part for part in footer if part)}")
    for n, attachment in enumerate(message.files):
        lines.append(f"  📎 files[{n}] {attachment.filename} ({len(attachment.data):,} bytes)")
    return lines


class _Clock:
    """The rehearsal's time: it moves only when the budget says to wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def backlog(sink: DiscordSink, items: Sequence[Item]) -> list[str]:
    """How `items`, all waiting at once, would go out now: each request as the worker
    makes it (the budget's place taken, then `DiscordSink.batch`), sent as soon as the
    sink's windows allow, each answered at once; the requests, full or digest, and the
    seconds the budget needs."""
    from logship.sinks.discord.ratelimit import RateLimits

    clock = _Clock()
    twin = sink.rehearsal(RateLimits(clock))
    limiter = twin.limiter
    pending = list(items)
    batches: list[tuple[float, Batch]] = []
    while pending:
        clock.now += limiter.wait_time()
        limiter.take()
        batch = twin.batch(pending, len(pending))
        taken = {id(item) for item in batch.items}
        pending = [item for item in pending if id(item) not in taken]
        limiter.completed({})
        batches.append((clock.now, batch))
    options = sink.options
    lines = [f"a backlog of {len(items)} such events, all waiting now: {len(batches)} "
             f"requests; the budget needs {batches[-1][0]:.1f} s (webhook "
             f"{options.webhook_requests} per {options.webhook_window:g} s, channel "
             f"{options.channel_messages} per {options.channel_window:g} s; in full while "
             f"it clears within digest_after = {options.digest_after:g} s)"]
    lines += [f"  {row}" for row in _runs([batch for _, batch in batches], options.files,
                                          "full embeds" if options.embeds else "in full")]
    digest = next((batch for _, batch in batches if batch.digest), None)
    if digest is not None:
        message = twin.renderer.payload(digest.body, [it.route for it in digest.items])
        shown = readable(message)
        files = [row for row in shown if row.lstrip().startswith("📎")]
        rows = [row for row in shown if row not in files]
        more = len(rows) - SHOWN_LINES
        lines.append("the first digest reads:")
        lines += rows[:SHOWN_LINES] + ([f"  ▌ … ({more} more lines)"] if more > 0 else [])
        lines += files
    return lines


def _runs(batches: Sequence[Batch], files: bool, full: str) -> list[str]:
    """Requests in runs of one kind: "requests 1-12: full embeds, 4 events each"."""
    rows: list[str] = []
    start = 0
    while start < len(batches):
        end = start
        while end + 1 < len(batches) and batches[end + 1].digest == batches[start].digest:
            end += 1
        sizes = sorted(len(batch.items) for batch in batches[start:end + 1])
        each = (_events(sizes[0]) if sizes[0] == sizes[-1]
                else f"{sizes[0]}-{sizes[-1]} events")
        what = full if not batches[start].digest else (
            "digests (a line per event) + events.log (each event in full)" if files
            else "digests (a line per event; files = false: no events.log)")
        span = f"request {start + 1}" if start == end else f"requests {start + 1}-{end + 1}"
        rows.append(f"{span}: {what}, {each}{' each' if end > start else ''}")
        start = end + 1
    return rows


def _events(count: int) -> str:
    return "1 event" if count == 1 else f"{count} events"
