"""What a Discord sink would send for one event, shown and checked, not sent
(`logship preview`): the request, whether Discord would accept it (the emulator's own
check against Discord's OpenAPI description and limits), and how it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from logship.sinks.base import Preview

if TYPE_CHECKING:
    from logship.sinks.discord.render import Message
    from logship.sinks.discord.sink import DiscordSink
    from logship.sinks.worker import Item


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
