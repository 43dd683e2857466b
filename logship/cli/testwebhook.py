"""`logship test-webhook TARGET`: one real test message, through the pipeline
(`logship.pipeline.probe`), and exactly what came back."""

from __future__ import annotations

from typing import Annotated

import typer

from logship.cli.app import ConfigOption, command, load


@command("test-webhook")
def test_webhook_command(
    target: Annotated[str, typer.Argument(help="A sink name, or a level "
                                          "(debug|info|warning|error|critical) whose routes "
                                          "pick the sinks.")],
    config: ConfigOption = None,
) -> None:
    """Send one real test message and show Discord's answer."""
    from logship.pipeline.probe import run_test_webhook

    raise typer.Exit(run_test_webhook(load(config), target, typer.echo))
