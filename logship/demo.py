"""`logship demo`: the whole product on one machine, with nothing to set up.

It starts the local Discord emulator on a loopback port, writes a sample bot's JSON logs
into a temporary folder (`logs/<date>/logs.json`, the way StatsBot does) while it runs,
writes a config for them with three webhooks (errors, members, warnings), and runs the
real daemon over it. Every message the emulator accepts is printed under its channel.
Ctrl-C (or `--duration`) stops the writer, lets the daemon drain, and prints a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import tomli_w

from logship.config import load_config
from logship.daemon import Daemon
from logship.emulator.sample_bot import sample_records
from logship.emulator.server import FakeDiscord, Received

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


async def _run(duration: float | None, rate: float, root: Path) -> int:
    channel_of = {webhook_id: name for name, (webhook_id, _) in CHANNELS.items()}
    delivered: Counter[str] = Counter()

    def show(received: Received) -> None:
        channel = channel_of.get(received.webhook_id, received.webhook_id)
        delivered[channel] += len(received.payload.get("embeds") or [])
        print(describe_message(received, channel), flush=True)

    written: Counter[str] = Counter()
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=show) as fake:
        config_path = root / "config.toml"
        config_path.write_text(tomli_w.dumps(demo_config(root, fake.base_url)))
        config_path.chmod(0o600)
        daemon = Daemon(load_config(config_path), handle_signals=False)
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
        print(summary(written, delivered, fake), flush=True)
    return status


def summary(written: Counter[str], delivered: Counter[str], fake: FakeDiscord) -> str:
    stats = fake.stats
    per_channel = ", ".join(f"#{name} {delivered[name]}" for name in CHANNELS)
    return (
        f"\nwritten: {sum(written.values())} lines "
        f"({', '.join(f'{k.lower()} {v}' for k, v in sorted(written.items()))})\n"
        f"delivered events: {per_channel}\n"
        f"requests: {stats.requests}, rate-limited (429): {stats.rate_limited}, "
        f"pings: {stats.pings}"
    )


def run_demo(duration: float | None = None, rate: float = 20.0) -> int:
    """Run the demo until Ctrl-C or `duration` seconds; the exit status."""
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="logship-demo-") as tmp:
        return asyncio.run(_run(duration, rate, Path(tmp)))

