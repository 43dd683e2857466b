"""`logship preview`: what the daemon would send for some log lines, without sending
(`logship.pipeline.preview`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from logship.cli.app import ConfigOption, command, load
from logship.errors import UsageError


@command("preview")
def preview_command(
    config: ConfigOption = None,
    route: Annotated[str | None, typer.Option(
        help="Only this route (shown even when the line does not match it).")] = None,
    line: Annotated[list[str] | None, typer.Option(
        "--line", help="A log line (repeat it for several, e.g. a traceback's lines).")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="A log file: all of its lines.", exists=True, dir_okay=False)] = None,
    source: Annotated[str | None, typer.Option(
        help="Parse as this source (default: the route's, the one whose paths match "
             "--file, else the first).")] = None,
    backlog: Annotated[int, typer.Option(
        min=0, help="Also show how N such events, all waiting at once, would go out now: "
                    "full embeds or digests with events.log, the requests, and the time "
                    "the sink's budget needs.")] = 0,
) -> None:
    """Show the message(s) a log line would make: parsed, routed and rendered exactly as
    the daemon does (JSON payload and a readable form). Sends nothing. Exit 1 when no
    route matches."""
    loaded = load(config)
    if line and file is not None:
        raise UsageError("give --line or --file, not both")
    if file is not None:
        raw, path = file.read_bytes(), str(file)
    elif line:
        raw, path = "\n".join(line).encode(), "(preview)"
    elif not sys.stdin.isatty():
        raw, path = sys.stdin.buffer.read(), "(stdin)"
    else:
        raise UsageError("give a log line with --line TEXT, or a file with --file LOG")
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    from logship.pipeline.preview import run_preview

    raise typer.Exit(run_preview(loaded, lines=lines, path=path, route=route, source=source,
                                 file=file, backlog=backlog, echo=typer.echo))
