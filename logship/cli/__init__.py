"""The `logship` command line.

Heavy modules (aiohttp, watchfiles, the daemon) are imported inside the commands that
need them, so `logship --help` and `logship check` start fast.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

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


def _load(config_path: Path | None, *, own_log: bool = False) -> Config:
    """The config, or exit 2 with its problem. `own_log`: a source that would read
    logship's own log (its stderr, when that is a file) is a problem too."""
    from logship.config import ConfigError, find_config, load_config
    from logship.tail.own_log import check_sources, own_log_file

    path = find_config(config_path)
    try:
        config = load_config(path)
        if own_log:
            check_sources(config, own_log_file())
        return config
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def run(
    config: ConfigOption = None,
    log_level: Annotated[LogLevel, typer.Option(help="logship's own log level.")] = "info",
) -> None:
    """Run the daemon in the foreground (what the systemd unit starts)."""
    setup_logging(log_level)
    loaded = _load(config, own_log=True)
    from logship.daemon import run_daemon
    from logship.state_lock import StateDirBusy

    try:
        status = run_daemon(loaded)
    except StateDirBusy as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    raise typer.Exit(status)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and print its sources, sinks and routes."""
    loaded = _load(config, own_log=True)
    from logship.cli.check import describe

    for line in describe(loaded):
        typer.echo(line)


@app.command("test-webhook")
def test_webhook(
    target: Annotated[str, typer.Argument(help="A sink name, or a level "
                                          "(debug|info|warning|error|critical) whose routes "
                                          "pick the sinks.")],
    config: ConfigOption = None,
) -> None:
    """Send one real test message and show Discord's answer."""
    loaded = _load(config)
    from logship.cli.test_webhook import run_test_webhook

    raise typer.Exit(run_test_webhook(loaded, target, typer.echo))


@app.command()
def preview(
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
) -> None:
    """Show the message(s) a log line would make: parsed, routed and rendered exactly as
    the daemon does (JSON payload and a readable form). Sends nothing. Exit 1 when no
    route matches."""
    loaded = _load(config)
    if line and file is not None:
        typer.echo("error: give --line or --file, not both", err=True)
        raise typer.Exit(EXIT_CONFIG)
    if file is not None:
        raw, path = file.read_bytes(), str(file)
    elif line:
        raw, path = "\n".join(line).encode(), "(preview)"
    elif not sys.stdin.isatty():
        raw, path = sys.stdin.buffer.read(), "(stdin)"
    else:
        typer.echo("error: give a log line with --line TEXT, or a file with --file LOG",
                   err=True)
        raise typer.Exit(EXIT_CONFIG)
    from logship.cli.preview import run_preview

    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    raise typer.Exit(run_preview(loaded, lines=lines, path=path, route=route, source=source,
                                 file=file, echo=typer.echo))


SpoolDir = Annotated[Path, typer.Argument(help="The spool folder (daemon.spool_dir).",
                                          exists=True, file_okay=False)]


@app.command()
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
    loaded = _load(config)
    from logship.spool.replay import Selection, run_replay

    try:
        selection = Selection(sink=sink, reason=reason, since=parse_since(since))
    except ValueError as exc:
        typer.echo(f"error: --since: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    raise typer.Exit(run_replay(loaded, spool_dir, selection=selection, dry=dry_run,
                                echo=typer.echo))


@app.command()
def spool(spool_dir: SpoolDir) -> None:
    """Show what the spool holds: per sink and reason, count, bytes, ages, top errors."""
    from logship.spool.report import describe

    for line in describe(spool_dir):
        typer.echo(line)


@app.command()
def history(
    config: ConfigOption = None,
    sink: Annotated[str | None, typer.Option(help="Only this sink's deliveries.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only deliveries since then: an ISO time, or an age such as 30m, 2h, "
             "1d.")] = None,
    failed: Annotated[bool, typer.Option(
        "--failed", help="Only what was not delivered (spooled or dead).")] = False,
    limit: Annotated[int, typer.Option(
        min=0, help="Show at most the last N entries (0: all).")] = 50,
) -> None:
    """Show what was sent: time, sink, route, status, Discord message id, source line."""
    try:
        after = parse_since(since)
    except ValueError as exc:
        typer.echo(f"error: --since: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    loaded = _load(config)
    from logship.observe.history import describe, read_history

    entries = read_history(loaded.daemon.state_dir, sink=sink, since=after, failed=failed,
                           limit=limit or None)
    if not entries:
        typer.echo("no deliveries recorded")
    for line in describe(entries):
        typer.echo(line)


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


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: run until Ctrl-C).")] = None,
    rate: Annotated[float, typer.Option(help="Sample log lines written per second.")] = 20.0,
) -> None:
    """Everything on this machine: a local Discord emulator, a sample bot writing logs,
    and the real daemon shipping them. Shows what each channel receives."""
    setup_logging()
    from logship.cli.demo import run_demo

    raise typer.Exit(run_demo(duration=duration, rate=rate))


@app.command("fake-discord")
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
