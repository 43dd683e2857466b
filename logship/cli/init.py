"""`logship init [FOLDER]`: a commented config for the logs found in FOLDER
(`logship.scaffold`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logship.cli.app import command
from logship.errors import LogshipError, UsageError


@command()
def init(
    folder: Annotated[Path, typer.Argument(
        help="Your bot's folder (or its logs/ folder); default: the current one.")] = Path("."),
    output: Annotated[Path, typer.Option(
        "--output", "-o", dir_okay=False, help="Where to write the config.")] = Path(
            "config.toml"),
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the output file if it exists.")] = False,
) -> None:
    """Write a commented config for the log files found in FOLDER: StatsBot's
    logs/YYYY-MM-DD/ layout, sibling bots' files, other *.log and *.json files."""
    from logship.scaffold import (
        LOOKED_FOR,
        WEBHOOK_ENV,
        find_logs,
        render,
        state_dir_for,
        write_new,
    )

    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    found = find_logs(folder)
    if not found:
        raise LogshipError(f"no log files found in {folder.resolve()}; looked for "
                           f"{LOOKED_FOR}; nothing written")
    text = render(found, folder.resolve(), state_dir_for(output))
    try:
        write_new(output, text, force=force)
    except FileExistsError:
        raise UsageError(f"{output} exists; --force replaces it") from None
    except OSError as exc:
        raise LogshipError(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {output}: {len(found)} source{'s' if len(found) != 1 else ''}")
    for logs in found:
        files = logs.files
        typer.echo(f"  {logs.name}: {logs.glob} ({logs.format}, {files} "
                   f"file{'s' if files != 1 else ''} now)")
    typer.echo("next:")
    typer.echo(f"  export {WEBHOOK_ENV}='https://discord.com/api/webhooks/ID/TOKEN'  "
               "# a webhook of your errors channel")
    for step in ("check", "test-webhook error", "run"):
        typer.echo(f"  logship {step} --config {output}")
