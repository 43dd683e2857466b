"""`logship history`: what was sent (or not), from the delivery journal."""

from __future__ import annotations

from typing import Annotated

import typer

from logship.cli.app import ConfigOption, command, load, since_option


@command()
def history(
    config: ConfigOption = None,
    sink: Annotated[str | None, typer.Option(help="Only this sink's deliveries.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only deliveries since then: an ISO time, or an age such as 30m, 2h, "
             "1d.")] = None,
    failed: Annotated[bool, typer.Option(
        "--failed", help="Only what was not delivered (spooled or dead), and not "
                         "delivered since (by the spool's drain or a replay).")] = False,
    limit: Annotated[int, typer.Option(
        min=0, help="Show at most the last N entries (0: all).")] = 50,
) -> None:
    """Show what was sent: time, sink, route, status, Discord message id, source line."""
    after = since_option(since)
    loaded = load(config)
    from logship.observe.history import Tally, describe, nothing_found, read_history

    state_dir = loaded.daemon.state_dir
    tally = Tally()
    entries = read_history(state_dir, sink=sink, since=after, failed=failed,
                           limit=limit or None, tally=tally)
    if not entries:
        typer.echo(nothing_found(state_dir, tally, sink=sink, since=since, failed=failed))
    for line in describe(entries):
        typer.echo(line)
    if limit and len(entries) >= limit:
        typer.echo(f"(the last {limit} entries; --limit 0 shows all)", err=True)
