"""What the daemon would send for some log lines, without sending.

The lines go through the same steps as in the daemon: the source's parser (fed whole
lines, then flushed), then the daemon's own pipeline (`logship.pipeline`: the router,
redaction and the size cap), and each matched sink as it renders (`Sink.preview`: for
Discord its privacy settings, its options, the route's template and mentions).
For every (event, route, sink) it shows the exact request (for Discord: query string,
JSON body, files), whether the target would accept it (for Discord the emulator's own
check against Discord's OpenAPI schema and limits), and a readable rendering. Nothing is
sent or written.

With a backlog (`--backlog N`), it also shows how N such events, all waiting at once,
would go out now: each sink's own batching (`Sink.batch`: full embeds, or digests with
every event attached) run at its budget, with the request count and the time that takes.

What it does not show: dedupe windows (a repeat may only be counted).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from logship.config import Config, RouteConfig, SinkConfig, SourceConfig
from logship.errors import UsageError
from logship.event import Event
from logship.parse import make_parser
from logship.sinks.base import Preview
from logship.tail.globs import PathMatcher

Echo = Callable[[str], None]


class PreviewError(UsageError):
    """A preview that cannot run as asked (unknown route or source): exit status 2."""


@dataclass
class Rendered:
    """One request the daemon would make: an event, through a route, to a sink."""

    event: Event
    route: RouteConfig
    sink: SinkConfig
    shown: Preview
    matched: bool = True  # False: `--route` named a route whose conditions do not match
    backlog: list[str] = field(default_factory=list)  # how N of it would go out now

    @property
    def problems(self) -> list[str]:
        return self.shown.problems


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
           host: str | None = None, backlog: int = 0) -> list[tuple[Event, list[Rendered]]]:
    """For each event, through the daemon's own pipeline (routed as logged, then redacted
    and capped), the requests the daemon would make for it (an empty list: it matches
    no route), as each sink shows them. With `route_name`, only that route, shown even
    when its conditions do not match (`Rendered.matched` says so). With `backlog`, also
    how that many of it, waiting at once, would go out (`Rendered.backlog`)."""
    from logship.pipeline import Pipeline
    from logship.sinks.base import SinkContext
    from logship.sinks.registry import sink_type
    from logship.sinks.worker import Item

    routes = config.routes
    if route_name is not None:
        routes = tuple(r for r in config.routes if r.name == route_name)
        if not routes:
            known = ", ".join(r.name for r in config.routes) or "none defined"
            raise PreviewError(f"unknown route {route_name!r} (known: {known})")
    pipeline = Pipeline(replace(config, routes=routes))
    context = SinkContext(config, host, pipeline.shown_redactor)
    sinks = {name: sink_type(sink.type).build(sink, context)
             for name, sink in config.sinks.items()}
    out: list[tuple[Event, list[Rendered]]] = []
    for parsed in events:
        (routed,) = pipeline.route([parsed]) or [None]
        matched = routed is not None
        if routed is None and route_name is not None:
            event = pipeline.leave(parsed)[0]
            targets = tuple((routes[0], sink) for sink in routes[0].sinks)
        elif routed is not None:
            event, targets = routed.event, routed.targets
        else:
            out.append((pipeline.leave(parsed)[0], []))
            continue
        shown = [Rendered(event, route, config.sinks[name],
                          sinks[name].preview(Item(event, route)), matched,
                          sinks[name].preview_backlog([Item(event, route)
                                                       for _ in range(backlog)])
                          if backlog > 0 else [])
                 for route, name in targets]
        out.append((event, shown))
    return out


def describe(rendered: Rendered) -> list[str]:
    """The lines `logship preview` prints for one request."""
    note = "" if rendered.matched else " (its conditions do not match this event)"
    shown = rendered.shown
    lines = [f"→ route {rendered.route.name}{note} → sink {rendered.sink.name}",
             *(f"  {row}" for row in shown.request[:1])]
    lines += [f"  warning: {warning}" for warning in shown.warnings]
    lines += [f"  {row}" for row in shown.request[1:]]
    if shown.problems:
        lines.append(f"  {shown.who} would refuse it:")
        lines += [f"    {problem}" for problem in shown.problems]
    else:
        lines.append(f"  {shown.who} would accept it." + (" It reads:" if shown.readable
                                                          else ""))
    return lines + shown.readable + [f"  {row}" for row in rendered.backlog]


def run_preview(config: Config, *, lines: Sequence[bytes], path: str,
                route: str | None = None, source: str | None = None,
                file: Path | None = None, backlog: int = 0, echo: Echo = print) -> int:
    """`logship preview`: exit status 0 when some event matched a route (and so was
    shown), 1 when none did (or the lines made no event), 2 for an unknown route or
    source."""
    try:
        chosen = next((r for r in config.routes if r.name == route), None)
        parser_source = pick_source(config, name=source, route=chosen, file=file)
        events = parse_lines(lines, parser_source, path)
        results = render(config, events, route_name=route, host=socket.gethostname(),
                         backlog=backlog)
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
