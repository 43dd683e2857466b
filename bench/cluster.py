"""Many hosts, one webhook: `python -m bench.cluster [--quick] [--errors N]`.

Three `logship run` daemons (three state dirs on this machine, standing for three
hosts) each read a bot's log into which N errors (700; `--quick`: 200) are written at
once, all routed to the same webhook of the local Discord emulator, which keeps
Discord's limits (5 requests per 2 s per webhook, 30 messages per 60 s per channel) and
answers 429 past them. The same run twice: each daemon alone (its own budgets), then in
cluster mode, sharing a real Redis (`redis-server`, started here on a loopback port).
It prints, for each: events delivered, requests, 429s and the time until the last event
arrived. Nothing here is asserted: it prints what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import tomli_w

from bench.redis_server import find_binary, running_redis
from logship.emulator.server import FakeDiscord, Received

WEBHOOK = "300000000000000041"
HOSTS = ("shard-a", "shard-b", "shard-c")
WAIT = 600.0  # seconds for every event to arrive, at most


@dataclass
class Outcome:
    mode: str
    delivered: int
    expected: int
    requests: int
    rate_limited: int
    seconds: float

    def row(self) -> str:
        return (f"{self.mode:<34} {self.delivered:>5}/{self.expected} delivered, "
                f"{self.requests:>4} requests, {self.rate_limited:>3} × 429, "
                f"{self.seconds:6.1f} s")


def _config(folder: Path, fake: FakeDiscord, redis: str | None, host: str) -> Path:
    config = {
        "daemon": {"state_dir": str(folder / "state"), "checkpoint_interval": 0.5},
        "sources": [{"name": "bot", "paths": [str(folder / "logs.json")], "format": "json",
                     "start_at": "beginning"}],
        "sinks": {"errors": {"url": fake.webhook_url(WEBHOOK, "bench-token")}},
        "routes": [{"name": "errors", "min_level": "error", "sinks": ["errors"]}],
    }
    if redis is not None:
        config["cluster"] = {"redis": redis, "name": "bench", "host": host}
    path = folder / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


def _write_errors(path: Path, first: int, count: int) -> None:
    stamp = "2025-07-15T20:42:07+00:00"
    path.write_bytes(b"".join(orjson.dumps(
        {"timestamp": stamp, "level": "ERROR", "message": f"Failed to update heartbeat #{n}",
         "context": {}, "service": "monitoring"}) + b"\n"
        for n in range(first, first + count)))


async def run_once(root: Path, errors: int, redis: str | None) -> Outcome:
    """Three daemons, `errors` each, one webhook; cluster mode when `redis` is given."""
    seen: set[int] = set()
    expected = errors * len(HOSTS)
    done = asyncio.Event()

    def received(message: Received) -> None:
        text = str(message.payload) + message.attachment_text()
        seen.update(int(n) for n in re.findall(r"#(\d+)\b", text))
        if len(seen) >= expected:
            done.set()

    async with FakeDiscord(port=0, on_message=received) as fake:
        processes = []
        for host in HOSTS:
            folder = root / host
            folder.mkdir(parents=True)
            config = _config(folder, fake, redis, host)
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "logship", "run", "--config", str(config),
                "--log-level", "warning", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
        await asyncio.sleep(2.0)  # all three started and watching
        started = time.monotonic()
        for n, host in enumerate(HOSTS):
            _write_errors(root / host / "logs.json", n * errors + 1, errors)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), WAIT)
        seconds = time.monotonic() - started
        for process in processes:
            process.terminate()
        await asyncio.gather(*(p.wait() for p in processes))
        mode = "cluster mode (one Redis)" if redis else "each host alone"
        return Outcome(mode, len(seen & set(range(1, expected + 1))), expected,
                       fake.stats.requests, fake.stats.rate_limited, seconds)


def run(quick: bool = False, errors: int | None = None) -> list[str]:
    """Both runs, as printable rows."""
    count = errors or (200 if quick else 700)
    rows = [f"{len(HOSTS)} daemons × {count} errors at once to one webhook, under Discord's "
            "limits (5 requests / 2 s per webhook, 30 messages / 60 s per channel)"]
    with tempfile.TemporaryDirectory(prefix="logship-cluster-") as tmp:
        root = Path(tmp)
        rows.append(asyncio.run(run_once(root / "alone", count, None)).row())
        if find_binary() is None:
            rows.append("cluster mode: no redis-server or valkey-server installed")
            return rows
        with running_redis(root / "redis") as server:
            rows.append(asyncio.run(run_once(root / "cluster", count, server.url)).row())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 errors per host, not 700")
    parser.add_argument("--errors", type=int, default=None, help="errors per host")
    args = parser.parse_args()
    for row in run(args.quick, args.errors):
        print(row, flush=True)


if __name__ == "__main__":
    main()
