"""`logship run`: the daemon, in the foreground (what the systemd unit starts)."""

from __future__ import annotations

from typing import Annotated

import typer

from logship.cli.app import ConfigOption, LogLevel, command, load, setup_logging


@command()
def run(
    config: ConfigOption = None,
    log_level: Annotated[LogLevel, typer.Option(help="logship's own log level.")] = "info",
) -> None:
    """Run the daemon in the foreground (what the systemd unit starts)."""
    setup_logging(log_level)
    loaded = load(config, own_log=True)
    from logship.daemon import run_daemon

    raise typer.Exit(run_daemon(loaded))  # StateDirBusy: another daemon holds the state
