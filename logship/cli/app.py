"""The `logship` command line's frame: the app, the options every command shares, how
the config is found and loaded, logship's own log, and how errors end a command.

Each command lives in its own module of `logship.cli` (`run`, `check`, `init`,
`testwebhook`, `preview`, `replay`, `history`, `demo`) and is thin: it parses its options
and calls the part of logship that does the work. Heavy modules (aiohttp, watchfiles,
the daemon) are imported inside the commands that need them, so `logship --help` starts
fast. A `LogshipError` ends a command with `error: ...` on stderr and the error's exit status
(2 for a config or usage problem).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

from logship.errors import LogshipError, UsageError
from logship.redact.scrub import ScrubbingFormatter

if TYPE_CHECKING:
    from logship.config import Config

app = typer.Typer(
    name="logship",
    help="Ship a Discord bot's log files to Discord webhooks, losing nothing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help formatter imports rich's markdown stack, ~150 ms of a
    # `logship --help` that takes ~100 ms without it (bench.startup; the bar is 300 ms).
    rich_markup_mode=None,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c",
        help="Config file. Default: $LOGSHIP_CONFIG, else ./config.toml, else "
             "/etc/logship/config.toml.",
        dir_okay=False,
    ),
]
EXIT_CONFIG = 2
Command = TypeVar("Command", bound=Callable[..., Any])
LogLevel = Literal["debug", "info", "warning", "error"]
Reason = Literal["fallback", "dead"]


class _JournalFormatter(ScrubbingFormatter):
    """Level first as an sd-daemon prefix (`<3>`), which journald turns into the
    priority; no time (journald adds it)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                    logging.CRITICAL: 2}


def setup_logging(level: str = "info") -> None:
    """logship's own log: stderr, plain lines, level first, no time and no secrets (no
    webhook token, whatever a message quotes). Under systemd (stderr is the journal) the
    level becomes an sd-daemon prefix."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("watchfiles", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load(config_path: Path | None, *, own_log: bool = False) -> Config:
    """The config (`ConfigError` naming its problem). `own_log`: a source that would
    read logship's own log (its stderr, when that is a file) is a problem too."""
    from logship.config import load_config, locate_config
    from logship.tail.own_log import check_sources, own_log_file

    config = load_config(locate_config(config_path))
    if own_log:
        check_sources(config, own_log_file())
    return config


def since_option(text: str | None) -> datetime | None:
    """`--since` parsed (`parse_since`), or a `UsageError` naming the option."""
    try:
        return parse_since(text)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO 8601 time (UTC when it names no zone), or an age (30m, 2h, 1d).

    >>> parse_since("2h", now=datetime(2025, 7, 16, 12, tzinfo=UTC)).isoformat()
    '2025-07-16T10:00:00+00:00'
    >>> parse_since("2025-07-16T08:00").isoformat()
    '2025-07-16T08:00:00+00:00'
    """
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return (now or datetime.now(UTC)) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO time nor an age like 2h") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)




def command(name: str | None = None) -> Callable[[Command], Command]:
    """`app.command`, for a command that may raise a `LogshipError`: it ends with
    `error: ...` on stderr and the error's exit status."""
    def register(function: Command) -> Command:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except LogshipError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(exc.exit_status) from None

        app.command(name)(run)
        return function

    return register


def _print_version(wanted: bool) -> None:
    if wanted:
        from logship import __version__

        typer.echo(f"logship {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print logship's version and exit.")] = False,
) -> None:
    """Ship a Discord bot's log files to Discord webhooks, losing nothing."""


def main() -> None:
    app()


