"""Ingest: tail + parse + route throughput over a file of sample JSON lines.

The reference is the loop every bot author writes first, `for line in f: json.loads(line)`,
over the same file in the same run: logship's whole ingest path (chunked reads, line
splitting, offsets, parsing into events, routing) should cost no more CPU than that.

The whole daemon is measured too (`--daemon`, and by default after the ingest rounds):
`logship run` as a child process reads the same kind of file from its start, 1% of its
lines ERRORs routed to a webhook (the local emulator, in this process, answering at
once and setting no limits), until every line is read and every routed event
delivered; its CPU (user + system, start-up included) is set against the loop's over
the same file. The bar: at most 1.5 times the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from logship.config import RouteConfig
from logship.emulator.sample_bot import sample_lines
from logship.event import Level
from logship.parse import make_parser
from logship.pipeline.route import Router
from logship.tail.reader import TailedFile

ROUNDS = 3
"""Rounds of the two measurements (`--rounds`); `--quick` makes one."""

ROUTES = (
    RouteConfig(name="errors", sinks=("errors",), min_level=Level.ERROR),
    RouteConfig(name="members", sinks=("members",), match={"message": "^Member"}),
)


@dataclass
class Run:
    name: str
    lines: int
    cpu: float
    wall: float

    @property
    def per_second(self) -> float:
        return self.lines / self.wall

    @property
    def cpu_per_million(self) -> float:
        return self.cpu * 1_000_000 / self.lines


def make_file(folder: Path, lines: int) -> Path:
    path = folder / "logs.json"
    path.write_bytes(sample_lines(lines))
    return path


def _timed(name: str, lines: int, body: object) -> Run:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    body()  # type: ignore[operator]
    return Run(name, lines, time.process_time() - cpu0, time.perf_counter() - wall0)


def json_loads_loop(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
            count += 1
    return count


def logship_ingest(path: Path) -> int:
    """What the tailer and the daemon's dispatch do per chunk, minus the waiting and the
    queueing: read, parse, route (`Router.split`, as the daemon calls it)."""
    reader = TailedFile.open(str(path), 0, 65536)
    parser = make_parser("auto", source="bench", path=str(path))
    split = Router(ROUTES).split
    routed = 0
    try:
        while (batch := reader.read_lines()) is not None:
            routed += len(split(parser.feed(batch.lines, batch.ends))[0])
        routed += len(split(parser.flush())[0])
    finally:
        reader.close()
    return routed


def run(folder: Path, lines: int, rounds: int = ROUNDS) -> list[list[Run]]:
    """`rounds` rounds, each timing the loop then logship over the same file: measured in
    turns, so that a change in the (shared, virtual) machine's speed hits both alike."""
    path = make_file(folder, lines)
    json_loads_loop(path)  # warm the page cache for both
    return [[_timed("json.loads loop", lines, lambda: json_loads_loop(path)),
             _timed("logship tail+parse+route", lines, lambda: logship_ingest(path))]
            for _ in range(max(1, rounds))]


ROUTED_EVERY = 100  # one line in 100 is an ERROR routed to the webhook (1%)
WEBHOOK_ID = "300000000000000004"


def make_daemon_file(folder: Path, lines: int) -> tuple[Path, int]:
    """The sample bot's lines, its errors taken out, and one ERROR with an id ("#N")
    every `ROUTED_EVERY` lines; and how many ERRORs there are."""
    import orjson

    from logship.emulator.sample_bot import sample_records

    stamp = "2025-07-15T20:42:07+00:00"
    quiet = [{**r, "timestamp": stamp} for r, _ in zip(sample_records(), range(9), strict=False)
             if r["level"] not in ("ERROR", "CRITICAL")]
    errors = 0
    chunk: list[bytes] = []
    path = folder / "logs.json"
    with path.open("wb") as out:
        for n in range(lines):
            if n % ROUTED_EVERY == ROUTED_EVERY - 1:
                errors += 1
                record = {"timestamp": stamp, "level": "ERROR", "service": "monitoring",
                          "message": f"Failed to update heartbeat #{errors}", "context": {},
                          "error": "HTTPException: 503 Service Unavailable"}
            else:
                record = quiet[n % len(quiet)]
            chunk.append(orjson.dumps(record) + b"\n")
            if len(chunk) >= 10_000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
    return path, errors


async def daemon_run(folder: Path, log: Path, errors: int) -> Run:
    """`logship run` over `log` until every line is read and each of its `errors`
    delivered; its CPU in all (start-up included)."""
    import re

    import tomli_w

    from logship.emulator.server import FakeDiscord, Received

    delivered: set[int] = set()
    done = asyncio.Event()

    def received(message: Received) -> None:
        text = str(message.payload) + message.attachment_text()
        delivered.update(int(n) for n in re.findall(r"#(\d+)", text))
        if len(delivered) >= errors:
            done.set()

    async with FakeDiscord(port=0, webhook_limit=None, channel_limit=None,
                           on_message=received) as fake:
        config = folder / "config.toml"
        config.write_text(tomli_w.dumps({
            "daemon": {"state_dir": str(folder / "state")},
            "sources": [{"name": "bot", "paths": [str(log)], "format": "json",
                         "start_at": "beginning"}],
            "sinks": {"errors": {"url": fake.webhook_url(WEBHOOK_ID, "bench-token"),
                                 "webhook_requests": 1_000_000, "webhook_window": 1.0,
                                 "channel_messages": 1_000_000, "channel_window": 1.0}},
            "routes": [{"name": "errors", "min_level": "error", "sinks": ["errors"]}]}))
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "logship", "run", "--config", str(config),
            "--log-level", "warning", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(done.wait(), 600)
            await _until_read(folder / "state" / "checkpoints.json", log.stat().st_size)
            wall = time.perf_counter() - started
            cpu = _cpu_seconds(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
    return Run("logship run (the daemon)", 0, cpu, wall)


async def _until_read(checkpoints: Path, size: int) -> None:
    """Wait until the daemon's checkpoint reached the file's end."""
    import orjson

    while True:
        try:
            files = orjson.loads(checkpoints.read_bytes())["files"]
            if files and all(f["offset"] >= size for f in files):
                return
        except (OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.05)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_daemon(folder: Path, lines: int, rounds: int = 1) -> list[tuple[Run, Run, int]]:
    """`rounds` rounds of (the loop, the daemon) over one file, in turns."""
    path, errors = make_daemon_file(folder, lines)
    json_loads_loop(path)  # warm the page cache for both
    out = []
    for n in range(max(1, rounds)):
        loop = _timed("json.loads loop", lines, lambda: json_loads_loop(path))
        round_dir = folder / f"round{n}"
        round_dir.mkdir()
        daemon = asyncio.run(daemon_run(round_dir, path, errors))
        daemon.lines = lines
        out.append((loop, daemon, errors))
    return out


def report_daemon(rounds: list[tuple[Run, Run, int]]) -> list[str]:
    """The daemon's CPU against the loop's, per round and the best."""
    best = min(rounds, key=lambda r: r[1].cpu / r[0].cpu)
    loop, daemon, errors = best
    ratios = ", ".join(f"{d.cpu / lo.cpu:.2f}" for lo, d, _ in rounds)
    return [f"{'json.loads loop':<26} {loop.cpu:8.2f} CPU s",
            f"{'logship run, whole daemon':<26} {daemon.cpu:8.2f} CPU s, {daemon.wall:.1f} s "
            f"wall ({errors:,} ERRORs routed and delivered, start-up included)",
            f"{'CPU ratio (daemon/loop)':<26} {daemon.cpu / loop.cpu:8.2f}   "
            f"(best of {len(rounds)}; per round: {ratios}; the bar: 1.5)"]


def report(rounds: list[list[Run]]) -> list[str]:
    """The best round of each (least CPU: on a shared machine the others only add), and
    the ratio of each round."""
    best = [min((pair[i] for pair in rounds), key=lambda r: r.cpu) for i in (0, 1)]
    rows = [f"{r.name:<26} {r.per_second:>12,.0f} lines/s   "
            f"{r.cpu_per_million:6.2f} CPU s per million lines" for r in best]
    ratios = ", ".join(f"{ours.cpu / loop.cpu:.2f}" for loop, ours in rounds)
    rows.append(f"{'CPU ratio (logship/loop)':<26} {best[1].cpu / best[0].cpu:>12.2f}   "
                f"(best of {len(rounds)} each; per round: {ratios})")
    return rows


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="100,000 lines and one round, not 1,000,000 and three")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of both (default 3)")
    parser.add_argument("--daemon", action="store_true",
                        help="only the whole daemon against the loop")
    args = parser.parse_args()
    lines = 100_000 if args.quick else 1_000_000
    rounds = args.rounds or (1 if args.quick else ROUNDS)
    with tempfile.TemporaryDirectory(prefix="logship-ingest-") as tmp:
        if not args.daemon:
            print(f"ingest: {lines:,} StructuredLogger JSON lines")
            for row in report(run(Path(tmp), lines, rounds)):
                print(row)
        print(f"whole daemon: {lines:,} JSON lines, 1% ERRORs routed to a webhook that "
              "answers at once and sets no limits")
        daemon_dir = Path(tmp) / "daemon"
        daemon_dir.mkdir()
        for row in report_daemon(run_daemon(daemon_dir, lines, rounds)):
            print(row)


if __name__ == "__main__":
    main()
