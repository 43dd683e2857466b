"""Memory: logship's RSS through a 1,000,000-line burst to a slow webhook.

`python -m bench.memory [--quick] [--errors N]` writes a bot's JSON log of 1,000,000
StructuredLogger lines (`--quick`: 100,000), 0.8% of them errors (8,000; `--quick`:
1,000, 1%) spread evenly through the file and the rest the sample bot's info, debug and
warning lines. Then it runs the real `logship run` as a child process, `start_at =
"beginning"`, against the local Discord emulator on 127.0.0.1, which answers every
request in 2 s and enforces Discord's limits (5 requests per 2 s per webhook, 30
messages per 60 s per channel; logship's sink is told the same). Only errors and
criticals are routed to the webhook, each with a unique id ("(#17)") in its message.

While it runs, logship's VmRSS is read from /proc every 0.2 s and its /metrics
(`logship_lines_read_total`) polled until every line has been read. It prints:
- the time to read the whole file (from logship's start, its imports included; logship
  serves /metrics once the files found at start are read to their end). The slow
  webhook holds reading back: once the sink's queue is full, the tailer waits
  (`--errors 0` shows how fast the daemon reads when nothing holds it back);
- peak RSS (VmHWM), RSS when the last line was read, when the last event was delivered,
  and `--settle` seconds (30) later, with the lowest and highest RSS in that time;
- delivered against expected (ids read from all the text of every payload), requests,
  429s, duplicates and pings. After a minute of a full queue, logship's storm mode
  counts events instead of sending each (`--storm-after 3600` keeps it off): the run
  then ends once every line is read, the queue is empty and the webhook quiet for 35 s.

Before it starts, it prints what the run needs at best: how many events logship packs
into one digest request (computed with logship's own parser and digest renderer), the
requests that makes, and the time those take one at a time at 2 s each under both
budgets. The default sizes finish in about five minutes (`--quick`: about one);
`--errors N` changes the error count (the channel's 30 messages a minute make large
counts slow: the projection says how slow). Nothing here is asserted: it prints what it
measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import tomli_w

from bench.burst import Tally
from logship.emulator.sample_bot import sample_records
from logship.emulator.server import FakeDiscord, Received

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_ID = "300000000000000002"
TOKEN = "memory-bench-token"
LATENCY = 2.0  # seconds the emulator takes to answer each request
WEBHOOK_REQUESTS, WEBHOOK_WINDOW = 5, 2.0  # Discord's budgets, in the emulator and logship
CHANNEL_MESSAGES, CHANNEL_WINDOW = 30, 60.0
SAMPLE_EVERY = 0.2  # seconds between reads of /proc/<pid>/status (and /metrics polls)
SETTLE = 30.0  # seconds RSS is watched after the last delivery
STOP_WAIT = 30.0  # seconds for logship to exit after SIGTERM before it is killed
WRITE_BATCH = 10_000  # lines per write while the log is made
# (lines, errors). 0.8% errors: 1% (10,000) needs >= 326 s of delivery at 2 s a request
# (about 6 min 10 s in all); 8,000 keeps the full run near 5 minutes. `--errors 10000`.
FULL = (1_000_000, 8_000)
QUICK = (100_000, 1_000)
QUIET = 35.0  # seconds without a message, queue empty: done (storm summaries: every 30 s)
LINES_READ = "logship_lines_read_total"
QUEUE_DEPTH = 'logship_queue_depth{sink="errors"}'
_METRICS = re.compile(rb'^(logship_lines_read_total|logship_queue_depth\{sink="errors"\}) (\S+)$',
                      re.MULTILINE)
_STORM_OVER = re.compile(r"storm over on \S+: (\d+) events summarised")


# -- the bot's log ----------------------------------------------------------------------


def _templates() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sample bot's records (one cycle): (error and critical ones, the others)."""
    records = list(itertools.islice(sample_records(datetime(2025, 7, 16, tzinfo=UTC)), 9))
    errors = [r for r in records if r["level"] in ("ERROR", "CRITICAL")]
    others = [r for r in records if r["level"] not in ("ERROR", "CRITICAL")]
    return errors, others


def error_message(template: dict[str, Any], event_id: int) -> str:
    return f"{template['message']} (#{event_id})"


def log_records(lines: int, errors: int) -> Iterator[dict[str, Any]]:
    """`lines` records, `errors` of them errors or criticals (ids 0..errors-1) spread
    evenly, one every `lines // errors`; the clock moves on a second every 100 lines."""
    error_templates, other_templates = _templates()
    step = max(1, lines // errors) if errors else lines + 1
    start = datetime(2025, 7, 16, 12, 0, tzinfo=UTC)
    others = itertools.cycle(other_templates)
    event_id = 0
    stamp = start.isoformat()
    for n in range(lines):
        if n % 100 == 0:
            stamp = (start + timedelta(seconds=n // 100)).isoformat()
        if event_id < errors and n % step == step // 2:
            template = error_templates[event_id % len(error_templates)]
            yield {**template, "timestamp": stamp,
                   "message": error_message(template, event_id)}
            event_id += 1
        else:
            yield {**next(others), "timestamp": stamp}


def write_log(path: Path, lines: int, errors: int) -> int:
    """Write the log; its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = orjson.dumps
    records = log_records(lines, errors)
    with path.open("wb") as out:
        while chunk := list(itertools.islice(records, WRITE_BATCH)):
            out.write(b"".join(dumps(r) + b"\n" for r in chunk))
    return path.stat().st_size


# -- what the run needs at best ------------------------------------------------------------


def events_per_request(sample: int = 400) -> int:
    """How many of this bench's errors logship packs into one digest request, with its
    own parser and digest renderer (a backlog is sent as digests)."""
    from logship.parse import make_parser
    from logship.sinks.discord.render import digest_embeds

    error_templates, _ = _templates()
    stamp = datetime(2025, 7, 16, 12, 0, tzinfo=UTC)
    lines = [orjson.dumps({**t, "timestamp": (stamp + timedelta(seconds=n)).isoformat(),
                           "message": error_message(t, 1000 + n)})
             for n, t in zip(range(sample), itertools.cycle(error_templates), strict=False)]
    events = make_parser("json", source="bench", path="bench").feed(
        lines, list(itertools.accumulate(len(line) + 1 for line in lines)))
    return digest_embeds(events)[1]


def delivery_floor(requests: int, latency: float = LATENCY) -> float:
    """Seconds until the last of `requests`, sent one at a time (logship's worker waits
    for each answer), is answered under the emulator's fixed windows."""
    now = 0.0
    windows = [[WEBHOOK_REQUESTS, WEBHOOK_WINDOW, None, 0],
               [CHANNEL_MESSAGES, CHANNEL_WINDOW, None, 0]]
    for _ in range(requests):
        for window in windows:
            limit, period, started, count = window
            if started is not None and now < started + period and count >= limit:
                now = started + period
        for window in windows:
            if window[2] is None or now >= window[2] + window[1]:
                window[2], window[3] = now, 0
            window[3] += 1
        now += latency
    return now


@dataclass(frozen=True)
class Projection:
    errors: int
    per_request: int
    requests: int
    delivery: float  # seconds, at best

    def describe(self) -> str:
        return (f"{self.errors:,} errors at about {self.per_request} per digest request: "
                f">= {self.requests} requests, one at a time at {LATENCY:g} s each under "
                f"{WEBHOOK_REQUESTS}/{WEBHOOK_WINDOW:g} s and "
                f"{CHANNEL_MESSAGES}/{CHANNEL_WINDOW:g} s: delivery >= {self.delivery:.0f} s")


def project(errors: int, per_request: int | None = None) -> Projection:
    per = per_request or events_per_request()
    # The first request goes out before the backlog builds: count it apart.
    requests = 1 + math.ceil(max(0, errors - 1) / per) if errors else 0
    return Projection(errors, per, requests, delivery_floor(requests))


# -- logship as a child process -----------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since logship started
    rss_kb: int
    hwm_kb: int
    cpu: float


class Sampler:
    """VmRSS, VmHWM and CPU seconds of a process, from /proc."""

    def __init__(self, pid: int, started: float) -> None:
        self.pid = pid
        self.started = started
        self.samples: list[Sample] = []
        self._ticks = os.sysconf("SC_CLK_TCK")

    def sample(self) -> Sample | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            values = {}
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # fields 3.. of proc(5)
            cpu = (int(fields[11]) + int(fields[12])) / self._ticks  # utime + stime
            taken = Sample(time.perf_counter() - self.started, values["VmRSS"],
                           values["VmHWM"], cpu)
            self.samples.append(taken)
            return taken
        return None

    @property
    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(root: Path, log_path: Path, url: str, metrics_port: int,
                 storm_after: float | None = None) -> Path:
    sink: dict[str, Any] = {
        "type": "discord", "url": url, "username": "memory bench",
        "webhook_requests": WEBHOOK_REQUESTS, "webhook_window": WEBHOOK_WINDOW,
        "channel_messages": CHANNEL_MESSAGES, "channel_window": CHANNEL_WINDOW,
    }
    if storm_after is not None:
        sink["storm_after"] = storm_after
    config = {
        "daemon": {"state_dir": str(root / "state"), "drain_timeout": 5.0,
                   "metrics_listen": f"127.0.0.1:{metrics_port}"},
        "sources": [{"name": "bot", "paths": [str(log_path)], "format": "json",
                     "start_at": "beginning"}],
        "sinks": {"errors": sink},
        "routes": [{"name": "errors", "min_level": "error", "sinks": ["errors"]}],
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


async def scrape(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    """Lines read and the sink's queue depth from /metrics; {} while it does not answer
    (logship serves /metrics once the files found at start are read up to their end)."""
    try:
        async with session.get(f"http://127.0.0.1:{port}/metrics",
                               timeout=aiohttp.ClientTimeout(total=2.0)) as resp:
            body = await resp.read()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return {}
    return {name.decode(): float(value) for name, value in _METRICS.findall(body)}


class Inbox:
    """What the emulator accepted: the event ids (a burst `Tally`), and when the last
    message of any kind came (storm notices and summaries carry no ids)."""

    def __init__(self, expected: int) -> None:
        self.tally = Tally(expected, started=0.0)
        self.last_message: float | None = None
        self.summarised = 0  # events storm mode counted, as its "storm over" message says

    def __call__(self, received: Received) -> None:
        self.last_message = time.perf_counter() - self.tally.started
        self.tally(received)
        for found in _STORM_OVER.finditer(orjson.dumps(received.payload).decode()):
            self.summarised += int(found.group(1))

    @property
    def without_ids(self) -> int:
        return sum(1 for events in self.tally.per_message if events == 0)


@dataclass
class Result:
    lines: int
    errors: int
    file_bytes: int
    latency: float
    settle: float
    projection: Projection | None
    delivered: int = 0
    requests: int = 0
    messages: int = 0
    rate_limited: int = 0
    duplicates: int = 0
    unexpected: int = 0
    pings: int = 0
    without_ids: int = 0  # accepted messages naming no event (storm notices, summaries)
    summarised: int = 0  # events storm mode counted instead of sending each
    drained: bool = False  # finished as: queue empty and quiet, not every id delivered
    metrics_at: float | None = None  # when /metrics first answered (s since start)
    read_at: Sample | None = None  # when /metrics first showed every line read
    delivered_at: Sample | None = None  # when the last message was delivered
    settled_at: Sample | None = None  # `settle` seconds after that
    settle_low_kb: int | None = None
    settle_high_kb: int | None = None
    peak_kb: int | None = None  # VmHWM before logship was stopped (or a higher VmRSS)
    peak_sample: Sample | None = None  # the highest VmRSS sampled
    timeline: list[Sample] = field(default_factory=list)
    exit_code: int | None = None
    timed_out: bool = False
    log_problems: list[str] = field(default_factory=list)


def patience(latency: float) -> float:
    """Seconds without any progress (a delivery, or a line read) before giving up."""
    return 2 * CHANNEL_WINDOW + 4 * latency + 20.0


async def measure(folder: Path, lines: int, errors: int, *, latency: float = LATENCY,
                  settle: float = SETTLE, projection: Projection | None = None,
                  storm_after: float | None = None,
                  progress: Callable[[str], object] | None = None) -> Result:
    """Write the log in `folder` (a fresh directory), run logship over it, measure."""
    say = progress or (lambda _line: None)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "logs" / "bot.json"
    size = write_log(log_path, lines, errors)
    say(f"wrote {lines:,} lines ({size / 1e6:.0f} MB), {errors:,} errors; starting logship")
    result = Result(lines, errors, size, latency, settle, projection)
    inbox = Inbox(errors)
    tally = inbox.tally
    port = free_port()
    stderr_path = folder / "logship.stderr"
    async with FakeDiscord(
        host="127.0.0.1", port=0, latency=latency,
        webhook_limit=WEBHOOK_REQUESTS, webhook_window=WEBHOOK_WINDOW,
        channel_limit=CHANNEL_MESSAGES, channel_window=CHANNEL_WINDOW, on_message=inbox,
    ) as fake, aiohttp.ClientSession() as session:
        config = write_config(folder, log_path, fake.webhook_url(WEBHOOK_ID, TOKEN), port,
                              storm_after)
        with stderr_path.open("wb") as stderr:
            tally.started = started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "logship", "run", "--config", str(config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            sampler = Sampler(process.pid, started)
            try:
                await _watch(process, sampler, session, port, inbox, result, say)
                if (last := sampler.sample()) is not None:
                    result.peak_kb = last.hwm_kb
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), STOP_WAIT)
                except TimeoutError:
                    process.kill()
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()
        stats = fake.stats
    result.exit_code = process.returncode
    result.delivered = tally.delivered
    result.duplicates = tally.duplicates
    result.unexpected = tally.unexpected
    result.without_ids = inbox.without_ids
    result.summarised = inbox.summarised
    result.requests, result.messages = stats.requests, stats.accepted
    result.rate_limited, result.pings = stats.rate_limited, stats.pings
    result.timeline = sampler.samples
    if sampler.samples:  # VmHWM can lag VmRSS a little (per-thread counters): take both
        result.peak_sample = max(sampler.samples, key=lambda s: s.rss_kb)
        result.peak_kb = max(result.peak_kb or 0, result.peak_sample.rss_kb,
                             *(s.hwm_kb for s in sampler.samples))
    result.log_problems = _log_problems(stderr_path)
    return result


async def _watch(process: asyncio.subprocess.Process, sampler: Sampler,
                 session: aiohttp.ClientSession, port: int, inbox: Inbox, result: Result,
                 say: Callable[[str], object]) -> None:
    """Sample until delivery is over and `settle` seconds more have passed (or logship
    exits, or nothing moves for too long). Delivery is over when every id arrived, or
    (storm mode counts events instead of sending them) when every line is read, the
    sink's queue is empty and no message came for `QUIET` seconds."""
    tally = inbox.tally
    stall = patience(result.latency)
    settle_until: float | None = None
    polled = -1.0
    while process.returncode is None:
        taken = sampler.sample()
        now = time.perf_counter() - sampler.started
        depth = None
        if settle_until is None and (result.read_at is None or now - polled >= 1.0):
            polled = now
            figures = await scrape(session, port)
            if figures and result.metrics_at is None:
                result.metrics_at = now
            depth = figures.get(QUEUE_DEPTH)
            count = figures.get(LINES_READ)
            if result.read_at is None and count is not None and count >= result.lines and (
                    taken is not None):
                result.read_at = taken
                say(f"read all {count:,.0f} lines at {taken.at:.1f} s, "
                    f"RSS {taken.rss_kb / 1024:.1f} MB")
        last = max(inbox.last_message or 0.0, result.read_at.at if result.read_at else 0.0)
        complete = tally.complete.is_set() or (result.errors == 0 and result.read_at)
        drained = result.read_at is not None and depth == 0 and now - last >= QUIET
        if settle_until is None and (complete or drained) and taken is not None:
            end = tally.last if tally.complete.is_set() and tally.last is not None else last
            result.delivered_at = next((s for s in sampler.samples if s.at >= end), taken)
            result.drained = not complete
            settle_until = result.delivered_at.at + result.settle
            how = (f"delivered all {result.errors:,}" if complete else
                   f"delivered {tally.delivered:,} of {result.errors:,} by id, queue empty")
            say(f"{how} at {result.delivered_at.at:.1f} s, RSS "
                f"{result.delivered_at.rss_kb / 1024:.1f} MB; watching RSS until "
                f"{settle_until:.0f} s")
        if settle_until is not None:
            if taken is not None and taken.at >= settle_until - 1e-3:
                settled = next(s for s in sampler.samples if s.at >= settle_until - 1e-3)
                start = result.delivered_at.at  # type: ignore[union-attr]
                window = [s.rss_kb for s in sampler.samples if start <= s.at <= settled.at]
                result.settled_at = settled
                result.settle_low_kb, result.settle_high_kb = min(window), max(window)
                return
        elif now - last > stall:
            result.timed_out = True
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), SAMPLE_EVERY)


def _log_problems(path: Path) -> list[str]:
    """logship's own warnings and errors (the first few distinct ones)."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if line.split(" ", 1)[0] in ("WARNING", "ERROR", "CRITICAL"):
                shape = re.sub(r"\d+(\.\d+)?", "N", line)
                if all(re.sub(r"\d+(\.\d+)?", "N", f) != shape for f in found):
                    found.append(line)
            if len(found) >= 5:
                break
    return found


# -- reporting -------------------------------------------------------------------------------


def _mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.1f} MB"


def _at(sample: Sample | None) -> str:
    return "-" if sample is None else f"{sample.at:.1f} s"


def report(r: Result) -> list[str]:
    """The figures of one run, a line each."""
    rows = [
        f"log: {r.lines:,} JSON lines ({r.file_bytes / 1e6:.0f} MB), {r.errors:,} errors and "
        f"criticals routed to a webhook answering in {r.latency:g} s "
        f"({WEBHOOK_REQUESTS}/{WEBHOOK_WINDOW:g} s per webhook, "
        f"{CHANNEL_MESSAGES}/{CHANNEL_WINDOW:g} s per channel)",
    ]
    if r.projection is not None:
        rows.append(f"projection: {r.projection.describe()}")
    read_rate = (f" ({r.lines / r.read_at.at:,.0f} lines/s; reading waits while the sink's "
                 f"queue is full)" if r.read_at is not None and r.read_at.at > 0 else "")
    rows += [
        f"time to read the whole file:      {_at(r.read_at)}{read_rate}; /metrics first "
        f"answered at {'-' if r.metrics_at is None else f'{r.metrics_at:.1f} s'}",
        f"peak RSS (VmHWM):                 {_mb(r.peak_kb)}"
        + (f" (highest sample {_mb(r.peak_sample.rss_kb)} at {r.peak_sample.at:.1f} s)"
           if r.peak_sample is not None else ""),
        f"RSS when every line was read:     "
        f"{_mb(r.read_at.rss_kb if r.read_at else None)} at {_at(r.read_at)}",
        f"RSS when delivery finished:       "
        f"{_mb(r.delivered_at.rss_kb if r.delivered_at else None)} at {_at(r.delivered_at)}",
    ]
    if r.settled_at is not None and r.delivered_at is not None:
        delta = (r.settled_at.rss_kb - r.delivered_at.rss_kb) / 1024
        rows.append(
            f"RSS {r.settle:g} s after delivery:        {_mb(r.settled_at.rss_kb)} "
            f"({delta:+.1f} MB; {_mb(r.settle_low_kb)}–{_mb(r.settle_high_kb)} in between)")
    else:
        rows.append(f"RSS {r.settle:g} s after delivery:        - (delivery did not finish)")
    cpu = r.delivered_at.cpu if r.delivered_at else (r.timeline[-1].cpu if r.timeline else None)
    rows.append(
        f"delivered: {r.delivered:,}/{r.errors:,} in {r.requests:,} requests "
        f"({r.messages:,} accepted), {r.rate_limited} 429s, {r.duplicates} duplicates, "
        f"{r.pings} pings; logship CPU {'-' if cpu is None else f'{cpu:.1f} s'}, "
        f"exit {r.exit_code}")
    if r.without_ids or r.drained:
        rows.append(
            f"    {r.without_ids} messages named no event (storm notices and summaries)"
            + (f"; {r.errors - r.delivered:,} events were not sent one by one: storm mode "
               f"counted {r.summarised:,} (its \"storm over\" message)"
               if r.drained else ""))
    rows.append("RSS over time: " + timeline(r.timeline))
    problems = []
    if r.delivered < r.errors and not r.drained:
        problems.append(f"{r.errors - r.delivered:,} events NOT delivered")
    if r.timed_out:
        problems.append(f"gave up: nothing moved for {patience(r.latency):.0f} s")
    if r.unexpected:
        problems.append(f"{r.unexpected} ids that were never written")
    if problems:
        rows.append("PROBLEMS: " + "; ".join(problems))
    rows += [f"    logship: {line}" for line in r.log_problems]
    return rows


def timeline(samples: list[Sample], points: int = 12) -> str:
    """RSS at about `points` moments spread over the run: `t s: MB`."""
    if not samples:
        return "-"
    step = max(1, math.ceil(len(samples) / points))
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return ", ".join(f"{s.at:.0f} s {s.rss_kb / 1024:.0f}" for s in picked) + " (MB)"


def run(quick: bool = False, *, lines: int | None = None, errors: int | None = None,
        settle: float = SETTLE, storm_after: float | None = None,
        progress: Callable[[str], object] | None = None) -> list[str]:
    """Run the scenario (`quick`: 100,000 lines, 1,000 errors) and return its report."""
    default_lines, default_errors = QUICK if quick else FULL
    lines = default_lines if lines is None else lines
    errors = min(lines, default_errors if errors is None else errors)
    projection = project(errors)
    if progress is not None:
        total = projection.delivery + settle + 15
        progress(f"projection: {projection.describe()}; with writing the log and "
                 f"{settle:g} s of settling, about {total:.0f} s")
        if total > 360:
            progress(f"over 6 minutes (the channel's {CHANNEL_MESSAGES} messages per "
                     f"{CHANNEL_WINDOW:g} s and one request per {LATENCY:g} s bind): "
                     f"`--errors N` runs fewer")
    with tempfile.TemporaryDirectory(prefix="logship-memory-") as tmp:
        result = asyncio.run(measure(Path(tmp), lines, errors, settle=settle,
                                     projection=projection, storm_after=storm_after,
                                     progress=progress))
    return report(result)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK[0]:,} lines, {QUICK[1]:,} errors")
    parser.add_argument("--lines", type=int, default=None, help="lines in the log")
    parser.add_argument("--errors", type=int, default=None,
                        help=f"error lines among them (default {FULL[1]:,}, "
                             f"{QUICK[1]:,} with --quick)")
    parser.add_argument("--settle", type=float, default=SETTLE,
                        help="seconds RSS is watched after the last delivery")
    parser.add_argument("--storm-after", type=float, default=None,
                        help="the sink's storm_after (seconds of a full queue before storm "
                             "mode counts events instead of sending them; default: "
                             "logship's); a large value makes every event go out")
    args = parser.parse_args()
    print(f"# logship memory bench{' (quick)' if args.quick else ''}", flush=True)
    rows = run(args.quick, lines=args.lines, errors=args.errors, settle=args.settle,
               storm_after=args.storm_after, progress=lambda line: print(line, flush=True))
    print()
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
