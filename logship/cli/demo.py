"""`logship demo` (the whole product on one machine: `logship.demo`) and `logship
fake-discord` (the local Discord emulator alone: `logship.emulator`)."""

from __future__ import annotations

from typing import Annotated

import typer

from logship.cli.app import command, setup_logging


@command()
def demo(
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: run until Ctrl-C).")] = None,
    rate: Annotated[float, typer.Option(help="Sample log lines written per second.")] = 20.0,
) -> None:
    """Everything on this machine: a local Discord emulator, a sample bot writing logs,
    and the real daemon shipping them. Shows what each channel receives."""
    setup_logging()
    from logship.demo import run_demo

    raise typer.Exit(run_demo(duration=duration, rate=rate))


@command("fake-discord")
def fake_discord(
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8030,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    fail_rate: Annotated[float, typer.Option(help="Fraction of requests answered 5xx.")] = 0.0,
    quiet: Annotated[bool, typer.Option(help="Do not print each message.")] = False,
) -> None:
    """Run the local Discord webhook emulator (for tests and dry runs)."""
    from logship.emulator.server import serve

    setup_logging()
    raise typer.Exit(serve(host, port, quiet=quiet, fail_rate=fail_rate))
