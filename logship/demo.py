"""`logship demo`: the whole product on one machine, with nothing to set up.

It starts the local Discord emulator on a loopback port, writes a sample bot's JSON logs
into a temporary folder (`logs/<date>/logs.json`, the way StatsBot does) while it runs,
writes a config for them with three webhooks (errors, members, warnings), and runs the
real daemon over it. Every message the emulator accepts is printed under its channel, and
so is a channel's wait once its budget (30 messages a minute) is used up. Ctrl-C (or
`--duration`) stops the writer, lets the daemon drain, and prints an account per channel
in events (each digest line and attached event counted): routed, delivered, still queued
at the stop (spooled, and gone with the demo's temporary folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import tomli_w

from logship.config import load_config
from logship.daemon import Daemon
from logship.emulator.sample_bot import sample_records
from logship.emulator.server import FakeDiscord, Received
from logship.sinks.worker import Waiting, seconds_text

# channel name -> (webhook id, how the demo's route picks its events)
CHANNELS: dict[str, tuple[str, dict[str, Any]]] = {
    "errors": ("100000000000000001", {"min_level": "error"}),
    "members": ("100000000000000002", {"match": {"message": "^Member"}}),
    "warnings": ("100000000000000003", {"match": {"level": "^warning$"}}),
}
TOKEN = "demo-token"
LAST_LINES_GRACE = 0.5  # seconds: well above the watcher's 100 ms debounce

def demo_config(root: Path, base_url: str) -> dict[str, Any]:
    """The config the demo runs with: the sample bot's logs, one sink per channel."""
    sinks = {
        name: {"type": "discord", "url": f"{base_url}/api/webhooks/{webhook_id}/{TOKEN}",
               "username": f"demo bot · {name}"}
        for name, (webhook_id, _) in CHANNELS.items()
    }
    routes = [{"name": name, "sinks": [name], **rule} for name, (_, rule) in CHANNELS.items()]
    return {
        "daemon": {"state_dir": str(root / "state"), "drain_timeout": 5.0},
        "sources": [{"name": "demo-bot", "paths": [str(root / "logs" / "*" / "logs.json")],
                     "format": "json", "start_at": "beginning"}],
        "sinks": sinks,
        "routes": routes,
    }


def describe_message(received: Received, channel: str) -> str:
    """One terminal line for a message the emulator accepted."""
    embeds = received.payload.get("embeds") or []
    titles = [str(e.get("title", "")) for e in embeds]
    first = titles[0] if titles else str(received.payload.get("content", ""))[:80]
    more = f"  (+{len(titles) - 1} more in this message)" if len(titles) > 1 else ""
    return f"#{channel:<9} {first}{more}"


async def write_logs(path: Path, rate: float, written: Counter[str]) -> None:
    """The sample bot: append `rate` JSON lines a second to `path` until cancelled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab", buffering=0) as out:
        for record in sample_records():
            out.write(orjson.dumps(record) + b"\n")
            written[record["level"]] += 1
            await asyncio.sleep(1.0 / rate)


def describe_wait(channel: str, waiting: Waiting) -> str:
    """One terminal line for a channel that waits for its budget.

    >>> describe_wait("errors", Waiting("Discord's channel limit", 0.0, 48.0, 212))
    '#errors: channel budget used, next message in 48 s, 212 queued'
    """
    what = ("channel budget used" if waiting.why == "Discord's channel limit"
            else f"waiting for {waiting.why}")
    return (f"#{channel}: {what}, next message in {seconds_text(waiting.left(waiting.since))}, "
            f"{waiting.queued} queued")


async def _run(duration: float | None, rate: float, root: Path) -> int:
    channel_of = {webhook_id: name for name, (webhook_id, _) in CHANNELS.items()}

    def show(received: Received) -> None:
        channel = channel_of.get(received.webhook_id, received.webhook_id)
        print(describe_message(received, channel), flush=True)

    def show_wait(sink: str, waiting: Waiting | None) -> None:
        if waiting is not None:
            print(describe_wait(sink, waiting), flush=True)

    written: Counter[str] = Counter()
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=show) as fake:
        config_path = root / "config.toml"
        config_path.write_text(tomli_w.dumps(demo_config(root, fake.base_url)))
        config_path.chmod(0o600)
        daemon = Daemon(load_config(config_path), handle_signals=False, report_left=False)
        daemon.on_sink_wait = show_wait
        print(f"logship demo: Discord emulator on {fake.base_url}, sample bot writing "
              f"{rate:g} lines/s to {root}/logs/{date.today()}/logs.json", flush=True)
        print("Ctrl-C stops." if duration is None else f"Stopping after {duration:g} s.",
              flush=True)
        writer = asyncio.create_task(
            write_logs(root / "logs" / date.today().isoformat() / "logs.json", rate, written))
        daemon_task = asyncio.create_task(daemon.run())
        daemon_task.add_done_callback(lambda _: writer.cancel())  # it failed: stop writing
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, writer.cancel)
        if duration is not None:
            loop.call_later(duration, writer.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        loop.add_signal_handler(signal.SIGINT, daemon.stop)  # a second Ctrl-C: no grace
        # The bot has stopped: give the watcher time to report its last lines, then stop
        # logship the way SIGTERM does (read what is there, drain, checkpoint).
        await asyncio.sleep(LAST_LINES_GRACE)
        daemon.stop()
        status = await daemon_task
        loop.remove_signal_handler(signal.SIGINT)
        print(summary(written, daemon, fake), flush=True)
    return status


@dataclass(frozen=True)
class ChannelAccount:
    """What became of the events routed to one channel, in events (not messages)."""

    routed: int = 0
    delivered: int = 0  # Discord took them (each digest line, each attached event)
    left_at_stop: int = 0  # still queued when the drain ended: spooled
    spooled_before: int = 0  # spooled while running (a failed request)

    @property
    def unqueued(self) -> int:
        """Routed, then not queued when reading stopped (read again at the next start)."""
        return max(0, self.routed - self.delivered - self.left_at_stop - self.spooled_before)

    def line(self, channel: str) -> str:
        """
        >>> ChannelAccount(180, 148, 32).line("errors")
        '#errors: 180 events routed: 148 delivered, 32 still queued at the stop (spooled)'
        """
        parts = [f"{self.delivered} delivered"]
        if self.left_at_stop:
            parts.append(f"{self.left_at_stop} still queued at the stop (spooled)")
        if self.spooled_before:
            parts.append(f"{self.spooled_before} spooled after failed requests")
        if self.unqueued:
            parts.append(f"{self.unqueued} not yet queued when reading stopped")
        return f"#{channel}: {self.routed} events routed: {', '.join(parts)}"


def accounts(daemon: Daemon) -> dict[str, ChannelAccount]:
    """Each channel's account, from the daemon once it stopped (a channel is a sink, and
    the demo's route to it has its name)."""
    routed: Counter[str] = Counter()
    for (_, route), count in daemon.metrics.event_counts().items():
        routed[route] += count
    found = {}
    for name in CHANNELS:
        running = daemon.sinks.get(name)
        stats = running.worker.stats if running is not None else None
        left = daemon.left_at_stop.get(name, 0)
        found[name] = ChannelAccount(
            routed=routed[name], delivered=stats.delivered if stats else 0, left_at_stop=left,
            spooled_before=max(0, (stats.spooled if stats else 0) - left))
    return found


def summary(written: Counter[str], daemon: Daemon, fake: FakeDiscord) -> str:
    """The demo's closing account: lines written and read, then per channel what became
    of the events routed to it, then the emulator's counts."""
    stats = fake.stats
    read = daemon.tailer.lines_read if daemon.tailer is not None else 0
    per_channel = accounts(daemon)
    lines = [
        "",
        f"written: {sum(written.values())} lines "
        f"({', '.join(f'{k.lower()} {v}' for k, v in sorted(written.items()))}); "
        f"logship read {read}",
        *(account.line(name) for name, account in per_channel.items()),
        f"requests: {stats.requests}, rate-limited (429): {stats.rate_limited}, "
        f"pings: {stats.pings}",
    ]
    spooled = sum(a.left_at_stop + a.spooled_before for a in per_channel.values())
    if spooled:
        lines.append(f"the {spooled} spooled events go with the demo's temporary folder (a "
                     "real install keeps its spool: `logship replay` sends it)")
    return "\n".join(lines)


def run_demo(duration: float | None = None, rate: float = 20.0) -> int:
    """Run the demo until Ctrl-C or `duration` seconds; the exit status."""
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="logship-demo-") as tmp:
        return asyncio.run(_run(duration, rate, Path(tmp)))

