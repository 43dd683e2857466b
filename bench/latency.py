"""Latency: from a bot writing an ERROR line to the (local) webhook receiving it, at idle.

`python -m bench.latency [--quick]` runs the real `logship run` against the emulator on
127.0.0.1 and writes one JSON error line at a time, each after the previous one arrived
and a pause (so logship is idle again), and measures the time from the write to the
emulator accepting the message. It prints p50, p99 and max (the bar is p99 < 150 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from bench.torture import Collector, Daemon, emulator, write_config

PAUSE = 0.3  # seconds of quiet between lines: each one arrives at an idle logship


async def measure(root: Path, lines: int) -> list[float]:
    """Seconds from write to delivery, one figure per line."""
    logs = root / "logs"
    logs.mkdir()
    live = logs / "bot.log"
    live.touch()
    collector = Collector()
    delays: list[float] = []
    async with emulator(collector) as fake:
        daemon = await Daemon(write_config(root, fake, [live]), root / "logship.log").start()
        try:
            await daemon.wait_logged("running:")
            with live.open("ab", buffering=0) as out:
                for n in range(1, lines + 1):
                    await asyncio.sleep(PAUSE)
                    line = orjson.dumps({"level": "ERROR", "message": f"line #{n}"}) + b"\n"
                    written = time.monotonic()
                    out.write(line)
                    await collector.wait_for(lambda n=n: collector.counts[n] > 0)
                    delays.append(collector.last - written)
            await daemon.stop()
        finally:
            await daemon.kill()
    return delays


def report(delays: list[float]) -> list[str]:
    ms = sorted(d * 1000 for d in delays)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return [f"latency at idle, write to webhook ({len(ms)} lines): p50 "
            f"{statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms"]


def run(quick: bool = False) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="logship-latency-") as tmp:
        return report(asyncio.run(measure(Path(tmp), 20 if quick else 100)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 lines instead of 100")
    for line in run(parser.parse_args().quick):
        print(line)


if __name__ == "__main__":
    main()
