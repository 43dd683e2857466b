"""`logship preview`: what the daemon would send for some log lines, without sending.

The lines go through the same steps as in the daemon: the source's parser (fed whole
lines, then flushed), the router, redaction (`[redact]`) and the size cap, and each
matched sink's `Renderer` (its privacy settings, its options, the route's template and
mentions).
For every (event, route, sink) it shows the exact request (query string, JSON body,
files), whether Discord would accept it (the emulator's own check against Discord's
OpenAPI schema and limits), and a readable rendering. Nothing is sent or written.

What it does not show: batching (a worker that has fallen behind packs several events
into one message, or lists them in a digest) and dedupe windows (a repeat may only be
counted).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from logship.config import Config, RouteConfig, SinkConfig, SourceConfig
from logship.event import Event
from logship.parse import make_parser
from logship.pipeline.outgoing import outgoing
from logship.pipeline.route import Router
from logship.sinks.discord.render import Message, Renderer
from logship.tail.globs import PathMatcher

Echo = Callable[[str], None]


class PreviewError(ValueError):
    """A preview that cannot run as asked (unknown route or source): exit status 2."""


@dataclass
class Rendered:
    """One request the daemon would make: an event, through a route, to a sink."""

    event: Event
    route: RouteConfig
    sink: SinkConfig
    message: Message
    matched: bool = True  # False: `--route` named a route whose conditions do not match
    problems: list[str] = field(default_factory=list)  # why Discord would refuse it
    template_error: str | None = None  # the route's template failed: the default was used

    @property
    def query(self) -> str:
        thread = f"&thread_id={self.sink.thread_id}" if self.sink.thread_id else ""
        return f"?wait=true{thread}"


def pick_source(config: Config, *, name: str | None = None, route: RouteConfig | None = None,
                file: Path | None = None) -> SourceConfig | None:
    """The source whose parser reads the lines: the one named, else the route's first,
    else the first whose globs match `file`, else the first of the config."""
    by_name = {source.name: source for source in config.sources}
    if name is not None:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none defined"
            raise PreviewError(f"unknown source {name!r} (known: {known})")
        return by_name[name]
    if route is not None and route.sources:
        return by_name.get(route.sources[0])
    if file is not None:
        resolved = str(file.resolve())
        for source in config.sources:
            if PathMatcher(source.paths, source.exclude).matches(resolved):
                return source
    return config.sources[0] if config.sources else None


def parse_lines(lines: Sequence[bytes], source: SourceConfig | None, path: str) -> list[Event]:
    """The events `lines` make with `source`'s parser, as the tailer would feed them
    (each line with the offset just past it), then flushed."""
    parser = make_parser(source.format if source else "auto",
                         source=source.name if source else "preview", path=path)
    ends: list[int] = []
    offset = 0
    for line in lines:
        offset += len(line) + 1
        ends.append(offset)
    return [*parser.feed(list(lines), ends), *parser.flush()]


def render(config: Config, events: Sequence[Event], *, route_name: str | None = None,
           host: str | None = None) -> list[tuple[Event, list[Rendered]]]:
    """For each event (routed as logged, then redacted and capped, as the daemon does),
    the requests the daemon would make for it (an empty list: it matches no route). With
    `route_name`, only that route, rendered even when its conditions do not match
    (`Rendered.matched` says so)."""
    from logship.emulator.validate import payload_errors  # Discord's checks, offline
    from logship.redact.secrets import Redactor

    routes = config.routes
    if route_name is not None:
        routes = tuple(r for r in config.routes if r.name == route_name)
        if not routes:
            known = ", ".join(r.name for r in config.routes) or "none defined"
            raise PreviewError(f"unknown route {route_name!r} (known: {known})")
    router = Router(routes)
    renderers = {name: Renderer(sink, config.templates, host, config.routes)
                 for name, sink in config.sinks.items()}
    redact = Redactor(config.redact).redact_event
    out: list[tuple[Event, list[Rendered]]] = []
    for parsed in events:
        targets = router.match(parsed)
        matched = bool(targets)
        if route_name is not None and not targets:
            targets = [(routes[0], sink) for sink in routes[0].sinks]
        event, _ = outgoing(parsed, redact, config.max_event_bytes(parsed.source))
        rendered = []
        for route, sink_name in targets:
            renderer = renderers[sink_name]
            sink = renderer.sink
            failures: list[str] = []
            renderer.on_template_error = (
                lambda name, _event, error, failures=failures:
                failures.append(f"template {name!r} failed: {type(error).__name__}: {error}"))
            message = renderer.payload([renderer.embed(event, route)], route)
            problems = payload_errors(message.body, files=len(message.files))
            rendered.append(Rendered(renderer.shown(event), route, sink, message, matched,
                                     problems, failures[0] if failures else None))
        out.append((event, rendered))
    return out


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


def describe(rendered: Rendered) -> list[str]:
    """The lines `logship preview` prints for one request."""
    sink, message = rendered.sink, rendered.message
    note = "" if rendered.matched else " (its conditions do not match this event)"
    kind = "multipart: payload_json + " + ", ".join(
        f"files[{n}]" for n in range(len(message.files))) if message.files else "JSON"
    lines = [f"→ route {rendered.route.name}{note} → sink {sink.name}",
             f"  POST {sink.url.masked}{rendered.query} ({kind})"]
    if rendered.template_error:
        lines.append(f"  warning: {rendered.template_error}; the default embed is sent "
                     "instead (as the daemon does)")
    body = orjson.dumps(message.body, option=orjson.OPT_INDENT_2).decode()
    lines += [f"  {row}" for row in body.splitlines()]
    if rendered.problems:
        lines.append("  Discord would refuse it:")
        lines += [f"    {problem}" for problem in rendered.problems]
    else:
        lines.append("  Discord would accept it. It reads:")
    return lines + readable(message)


def run_preview(config: Config, *, lines: Sequence[bytes], path: str,
                route: str | None = None, source: str | None = None,
                file: Path | None = None, echo: Echo = print) -> int:
    """`logship preview`: exit status 0 when some event matched a route (and so was
    shown), 1 when none did (or the lines made no event), 2 for an unknown route or
    source."""
    try:
        chosen = next((r for r in config.routes if r.name == route), None)
        parser_source = pick_source(config, name=source, route=chosen, file=file)
        events = parse_lines(lines, parser_source, path)
        results = render(config, events, route_name=route, host=socket.gethostname())
    except PreviewError as exc:
        echo(f"error: {exc}")
        return 2
    if not events:
        echo("the lines make no event (blank, or a record still incomplete)")
        return 1
    shown = 0
    for number, (event, rendered) in enumerate(results, 1):
        first = event.message.strip().split("\n", 1)[0][:100]
        echo(f"event {number}: {event.level.name} kind={event.kind} source={event.source} "
             f"{first!r}")
        if not rendered:
            echo("  matches no route: nothing would be sent")
        shown += any(r.matched for r in rendered)
        for item in rendered:
            for row in describe(item):
                echo(row)
        echo("")
    if not shown:
        echo("no event matches " + (f"route {route!r}" if route else "any route"))
        return 1
    return 0
