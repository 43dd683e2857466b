"""`logship replay` and `logship spool`: re-send what the spool holds, and show it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logship.cli.app import ConfigOption, Reason, command, load, setup_logging, since_option

SpoolDir = Annotated[Path, typer.Argument(
    help="The spool folder (daemon.spool_dir); one not made yet is empty.", file_okay=False)]


@command()
def replay(
    spool_dir: SpoolDir,
    config: ConfigOption = None,
    sink: Annotated[str | None, typer.Option(help="Only this sink's events.")] = None,
    reason: Annotated[Reason | None, typer.Option(
        help="Only events spooled for this reason.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only events that first failed since then: an ISO time, or an age such "
             "as 30m, 2h, 1d.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent.")] = False,
) -> None:
    """Re-send spooled events to their sinks as configured now."""
    setup_logging("warning")
    selection_since = since_option(since)
    loaded = load(config)
    from logship.spool.replay import Selection, run_replay

    selection = Selection(sink=sink, reason=reason, since=selection_since)
    raise typer.Exit(run_replay(loaded, spool_dir, selection=selection, dry=dry_run,
                                echo=typer.echo))


@command()
def spool(spool_dir: SpoolDir) -> None:
    """Show what the spool holds: per sink and reason, count, bytes, ages, top errors."""
    from logship.spool.report import describe

    for line in describe(spool_dir):
        typer.echo(line)
