"""Burst: error storms delivered under Discord's rate limits, end to end.

`python -m bench.burst [--quick]` runs the real `logship run` as a child process (so its
peak RSS and CPU are its own) against the local Discord emulator on 127.0.0.1. For each
scenario a bot's JSON log already holds N error lines, each with a unique id in its
message ("burst error #17"), a traceback and a field of its own; logship starts with
`start_at = "beginning"` and must ship all of them, each with its full detail. The
"restart" scenario is a bot's restart: 50 errors with tracebacks at once, which should go
out as full embeds within a minute. The emulator and logship's sink config use the same
budgets: 5 requests per 2 s per webhook and 30 messages per 60 s per channel, Discord's
own numbers; `--quick` shortens the channel window to 15 s (the scale and the floor at
Discord's real window are printed).

Figures per scenario: events delivered against expected (ids are read from the whole
payload text, so events packed several to an embed count too), the share of them whose
full detail reached Discord (the whole traceback and the event's own field, in an embed
or an attached file, read from what the emulator received), how many went as digest
lines (their detail in the digest's events.log), requests used against the fewest the
limits allow (6000 characters per message, each event at least its message and a line
break; the fewest at one event per embed, 10 per message, is printed too), 429s (the
target is 0), duplicates (ids delivered in more than one embed), wall time from
logship's start (its imports included) to the last delivery (and to the last event's
full detail) against the floor the budgets allow for the fewest requests, logship's peak
RSS (VmHWM) and CPU seconds. Nothing here is asserted: it prints what it measured.

Storm mode is off here (`storm_after = 3600`): this measures delivering every event. With
logship's default, the 10,000-error burst (a full queue for over a minute) would switch
to summaries of the top errors instead; `python -m bench.memory` runs with the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import tomli_w

from logship.emulator.server import FakeDiscord, Received
from logship.emulator.validate import EMBED_TOTAL_MAX, EMBEDS_MAX

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_ID = "300000000000000001"
TOKEN = "burst-bench-token"
DISCORD_CHANNEL_WINDOW = 60.0  # seconds: Discord's 30 messages per channel per minute
STORM_OFF = 3600.0  # seconds of a full queue before storm mode: never, in these runs
QUICK_CHANNEL_WINDOW = 15.0  # --quick shortens it (time scale 1:4)
SAMPLE_EVERY = 0.1  # seconds between reads of /proc/<pid>/status and /proc/<pid>/stat
STOP_WAIT = 30.0  # seconds for logship to exit after SIGTERM before it is killed
_ID = re.compile(r"#(\d+)")


@dataclass(frozen=True)
class Limits:
    """The budgets of one run: the emulator enforces them, logship's sink is told them."""

    webhook_requests: int = 5
    webhook_window: float = 2.0
    channel_messages: int = 30
    channel_window: float = DISCORD_CHANNEL_WINDOW

    @property
    def scale(self) -> float:
        """How much shorter than Discord's the channel window is (4.0: 1:4)."""
        return DISCORD_CHANNEL_WINDOW / self.channel_window

    def describe(self) -> str:
        return (f"webhook {self.webhook_requests} requests/{self.webhook_window:g} s, "
                f"channel {self.channel_messages} messages/{self.channel_window:g} s "
                f"(Discord: {self.channel_messages}/{DISCORD_CHANNEL_WINDOW:g} s, "
                f"time scale 1:{self.scale:g}); the same numbers in the emulator and "
                f"in logship's sink config")

    def floor_seconds(self, requests: int, latency: float = 0.0,
                      channel_window: float | None = None) -> float:
        """The earliest the last of `requests` can be answered under both budgets, with
        the emulator's (and Discord's) fixed windows: each starts at its first request
        and resets after its period. `latency`: the answer's own delay."""
        if requests <= 0:
            return 0.0
        webhook = _FixedWindow(self.webhook_requests, self.webhook_window)
        channel = _FixedWindow(self.channel_messages,
                               self.channel_window if channel_window is None else channel_window)
        now = 0.0
        for _ in range(requests):
            while (wait := max(webhook.wait(now), channel.wait(now))) > 0:
                now += wait
            webhook.take(now)
            channel.take(now)
        return now + latency


@dataclass
class _FixedWindow:
    limit: int
    period: float
    started: float | None = None
    count: int = 0

    def wait(self, now: float) -> float:
        if self.started is None or now >= self.started + self.period:
            return 0.0
        return self.started + self.period - now if self.count >= self.limit else 0.0

    def take(self, now: float) -> None:
        if self.started is None or now >= self.started + self.period:
            self.started, self.count = now, 0
        self.count += 1


@dataclass(frozen=True)
class Scenario:
    name: str
    events: int
    latency: float = 0.0  # seconds the emulator takes to answer each request
    digest_after: float | None = None  # the sink's option (None: its default, 60 s)


FULL = (Scenario("restart", 50), Scenario("burst-2000", 2_000),
        Scenario("burst-10000", 10_000), Scenario("slow-webhook", 500, latency=2.0))
# 4,000 errors need more than 30 messages even as digests, so the quick run still spends
# both budgets.
QUICK = (Scenario("restart", 50), Scenario("burst-200", 200), Scenario("burst-4000", 4_000),
         Scenario("slow-webhook", 100, latency=2.0))


@dataclass
class Result:
    scenario: Scenario
    limits: Limits
    delivered: int  # distinct expected ids the emulator accepted
    full_detail: int  # of them, those whose traceback and field reached Discord whole
    digested: int  # ids listed in a digest (their detail in its events.log)
    requests: int  # Execute Webhook requests the emulator saw (any answer)
    messages: int  # requests it accepted (200)
    min_requests: int  # the fewest the limits allow: 6000 characters per message
    embed_floor: int  # the fewest at one event per embed (10 embeds per message)
    rate_limited: int
    duplicates: int  # ids delivered in more than one embed
    unexpected: int  # ids that were never written (a parsing bug, or worse)
    late: int  # ids delivered after a higher one (order within a level is kept)
    wall: float | None  # seconds from logship's start to the last delivery
    full_wall: float | None  # seconds from logship's start to the last full detail
    first: float | None  # seconds from logship's start to the first delivery
    peak_rss_mb: float | None
    cpu: float | None  # logship's user+system CPU seconds until everything was delivered
    exit_code: int | None
    timed_out: bool
    by_status: dict[int, int] = field(default_factory=dict)
    per_message: list[int] = field(default_factory=list)  # events in each message
    log_counts: dict[str, int] = field(default_factory=dict)  # logship's own log by level
    log_samples: list[str] = field(default_factory=list)  # its first warnings and errors

    @property
    def expected(self) -> int:
        return self.scenario.events

    @property
    def floor(self) -> float:
        return self.limits.floor_seconds(self.min_requests, self.scenario.latency)


# -- the bot's log and what came out at the other end ------------------------------------


def message_of(event_id: int) -> str:
    return f"burst error #{event_id}: upstream timed out"


FRAMES = 8  # a traceback's depth: about 1 KB, as a bot's usually are


def traceback_of(event_id: int) -> str:
    """The event's traceback as the bot logs it (its last line names the event's job)."""
    lines = ["Traceback (most recent call last):"]
    for depth in range(FRAMES):
        lines += [f'  File "/opt/StatsBot/src/services/stage_{depth}.py", line {20 + depth}, '
                  f"in run_stage_{depth}",
                  f"    return await self.stage_{depth + 1}(job, timeout=30)"]
    return "\n".join([*lines, f"TimeoutError: job-{event_id} timed out after 30 s"])


def field_of(event_id: int) -> str:
    """The value of the event's own field (`job`), which its full detail must show."""
    return f"job-{event_id}"


def write_log(path: Path, events: int) -> int:
    """`events` ERROR lines, ids 0..events-1, the way StatsBot's StructuredLogger writes
    them (a traceback and fields in the context); returns the characters of all messages
    (for the compact-list floor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chars = 0
    with path.open("wb") as out:
        for event_id in range(events):
            message = message_of(event_id)
            chars += len(message)
            out.write(orjson.dumps({
                "timestamp": "2025-07-16T12:00:00+00:00", "level": "ERROR",
                "message": message, "service": "monitoring",
                "context": {"error_type": "TimeoutError", "job": field_of(event_id),
                            "traceback": traceback_of(event_id)},
            }) + b"\n")
    return chars


def minimum_requests(events: int, message_chars: int) -> tuple[int, int]:
    """(the fewest requests the limits allow, the fewest at one event per embed).

    Discord caps a message at 6000 characters over all its embeds and at 10 embeds.
    Events that share embeds (a compact list, a line each) need at least their message
    and a line break each: only the 6000 characters bind. One event per embed: at most
    10 events per message as well.
    """
    packed = math.ceil((message_chars + events) / EMBED_TOTAL_MAX)
    per_embed = max(math.ceil(events / EMBEDS_MAX), math.ceil(message_chars / EMBED_TOTAL_MAX))
    return packed, per_embed


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def ids_per_part(payload: dict[str, Any]) -> list[set[int]]:
    """The event ids in each part of a message: its content, then each embed (title,
    description, fields, footer: all of its text). An id twice in one part is one
    event; an id in two parts is a duplicate."""
    parts: list[object] = [payload.get("content")]
    embeds = payload.get("embeds")
    if isinstance(embeds, list):
        parts += embeds
    return [{int(found) for text in _texts(part) for found in _ID.findall(text)}
            for part in parts if part]


def full_detail_ids(received: Received, expected: int) -> set[int]:
    """The ids whose full detail one accepted message carries: the whole traceback and
    the event's own field, in the text of its embeds (or content) or its attachments
    (a traceback.txt, a digest's or a summary's events.log)."""
    blob = "\n".join([*_texts(received.payload), received.attachment_text()])
    return {event_id for event_id in map(int, _ID.findall(blob))
            if 0 <= event_id < expected and traceback_of(event_id) in blob
            and field_of(event_id) in blob}


def is_digest(received: Received) -> bool:
    """A digest message: it attaches its events as events.log (with files allowed)."""
    return any(name.startswith("events") and name.endswith(".log")
               for name, _ in received.attachments)


class Tally:
    """Counts ids as the emulator accepts messages, and wakes the waiter when done."""

    def __init__(self, expected: int, started: float) -> None:
        self.expected = expected
        self.started = started
        self.seen: Counter[int] = Counter()
        self.full: set[int] = set()  # ids whose full detail reached Discord
        self.digested: set[int] = set()  # ids listed in a digest
        self.unexpected = 0
        self.late = 0
        self.highest = -1
        self.per_message: list[int] = []  # events carried by each accepted message
        self.first: float | None = None
        self.last: float | None = None
        self.last_full: float | None = None
        self.complete = asyncio.Event()

    @property
    def delivered(self) -> int:
        return sum(1 for event_id in self.seen if 0 <= event_id < self.expected)

    def __call__(self, received: Received) -> None:
        now = time.perf_counter() - self.started
        parts = ids_per_part(received.payload)
        self.per_message.append(sum(len(part) for part in parts))
        full = full_detail_ids(received, self.expected) - self.full
        if full:
            self.full |= full
            self.last_full = now
        if is_digest(received):
            self.digested.update(n for part in parts for n in part)
        for part in parts:
            for event_id in sorted(part):
                if not 0 <= event_id < self.expected:
                    self.unexpected += 1
                    continue
                if event_id < self.highest:
                    self.late += 1
                self.highest = max(self.highest, event_id)
                if event_id not in self.seen:
                    self.last = now
                    self.first = now if self.first is None else self.first
                self.seen[event_id] += 1
        if (len(self.seen) >= self.expected and self.delivered == self.expected
                and len(self.full) == self.expected):
            self.complete.set()

    @property
    def duplicates(self) -> int:
        return sum(1 for count in self.seen.values() if count > 1)


# -- logship as a child process -----------------------------------------------------------


class ProcSampler:
    """Peak RSS (VmHWM) and CPU time of a running process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb: int | None = None
        self.cpu: float | None = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = Path(f"/proc/{self.pid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb or 0, int(line.split()[1]))
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # fields 3.. of proc(5)
            self.cpu = (int(fields[11]) + int(fields[12])) / self._ticks  # utime + stime

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY)


def write_config(root: Path, log_path: Path, url: str, limits: Limits,
                 digest_after: float | None = None) -> Path:
    config = {
        "daemon": {"state_dir": str(root / "state"), "drain_timeout": 5.0},
        "sources": [{"name": "bot", "paths": [str(log_path)], "format": "json",
                     "start_at": "beginning"}],
        "sinks": {"errors": {
            "type": "discord", "url": url, "username": "burst bench",
            "webhook_requests": limits.webhook_requests,
            "webhook_window": limits.webhook_window,
            "channel_messages": limits.channel_messages,
            "channel_window": limits.channel_window,
            "storm_after": STORM_OFF,
            **({} if digest_after is None else {"digest_after": digest_after}),
        }},
        "routes": [{"name": "errors", "min_level": "error", "sinks": ["errors"]}],
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


def patience(scenario: Scenario, limits: Limits) -> float:
    """Seconds without a new delivery after which a run is given up: two channel
    windows and a few answers, plus a margin (only ever reached when something is wrong)."""
    return 2 * limits.channel_window + limits.webhook_window + 4 * scenario.latency + 20.0


def read_log(path: Path) -> tuple[dict[str, int], list[str]]:
    """logship's own log (`LEVEL name: message` lines): counts by level, and the first
    few distinct warnings and errors."""
    counts: Counter[str] = Counter()
    samples: list[str] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            level = line.split(" ", 1)[0]
            if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
                continue
            counts[level] += 1
            if level in ("WARNING", "ERROR", "CRITICAL") and len(samples) < 5:
                shape = re.sub(r"\d+(\.\d+)?", "N", line)
                if all(re.sub(r"\d+(\.\d+)?", "N", s) != shape for s in samples):
                    samples.append(line)
    return dict(counts), samples


async def measure(scenario: Scenario, limits: Limits, folder: Path) -> Result:
    """Run one scenario in `folder` (a fresh directory) and measure it."""
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "logs" / "bot.json"
    chars = write_log(log_path, scenario.events)
    min_requests, embed_floor = minimum_requests(scenario.events, chars)
    stderr_path = folder / "logship.stderr"
    tally = Tally(scenario.events, started=0.0)
    async with FakeDiscord(
        host="127.0.0.1", port=0, latency=scenario.latency,
        webhook_limit=limits.webhook_requests, webhook_window=limits.webhook_window,
        channel_limit=limits.channel_messages, channel_window=limits.channel_window,
        on_message=tally,
    ) as fake:
        config = write_config(folder, log_path, fake.webhook_url(WEBHOOK_ID, TOKEN), limits,
                              scenario.digest_after)
        with stderr_path.open("wb") as stderr:
            tally.started = started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "logship", "run", "--config", str(config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            sampler = ProcSampler(process.pid)
            sampling = asyncio.create_task(sampler.run())
            exited = asyncio.create_task(process.wait())
            complete = asyncio.create_task(tally.complete.wait())
            try:
                timed_out = False
                stall = patience(scenario, limits)
                while not (exited.done() or complete.done()):
                    await asyncio.wait({exited, complete}, timeout=1.0,
                                       return_when=asyncio.FIRST_COMPLETED)
                    progress = max(tally.last or 0.0, tally.last_full or 0.0)
                    quiet = time.perf_counter() - started - progress
                    if quiet > stall and not complete.done():
                        timed_out = True
                        break
                sampling.cancel()
                sampler.sample()  # the figures up to the end of the delivery
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(asyncio.shield(exited), STOP_WAIT)
                except TimeoutError:
                    process.kill()
                    await exited
            finally:
                complete.cancel()
                sampling.cancel()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        stats = fake.stats
    counts, samples = read_log(stderr_path)
    return Result(
        scenario=scenario, limits=limits, delivered=tally.delivered,
        full_detail=len(tally.full), digested=len(tally.digested), full_wall=tally.last_full,
        requests=stats.requests, messages=stats.accepted, min_requests=min_requests,
        embed_floor=embed_floor, rate_limited=stats.rate_limited, duplicates=tally.duplicates,
        unexpected=tally.unexpected, late=tally.late, wall=tally.last, first=tally.first,
        peak_rss_mb=None if sampler.peak_kb is None else sampler.peak_kb / 1024,
        cpu=sampler.cpu, exit_code=process.returncode, timed_out=timed_out,
        by_status=dict(stats.by_status), per_message=tally.per_message, log_counts=counts,
        log_samples=samples,
    )


# -- running and reporting ------------------------------------------------------------------


def projection(scenario: Scenario, limits: Limits) -> str:
    """What a scenario needs at best, here and at Discord's real channel window."""
    chars = sum(len(message_of(event_id)) for event_id in range(scenario.events))
    requests, per_embed = minimum_requests(scenario.events, chars)
    here = limits.floor_seconds(requests, scenario.latency)
    real = limits.floor_seconds(requests, scenario.latency, DISCORD_CHANNEL_WINDOW)
    at_60 = f" ({real:.0f} s at Discord's 60 s window)" if limits.scale != 1 else ""
    serial = requests * scenario.latency
    slow = (f", {serial:.0f} s if requests go one at a time at {scenario.latency:g} s each"
            if scenario.latency else "")
    return (f"{scenario.name}: {scenario.events:,} errors, >= {requests} requests "
            f"({per_embed:,} at one event per embed), floor {here:.0f} s{at_60}{slow}")


def run(quick: bool = False, *, channel_window: float | None = None,
        only: str | None = None, progress: Callable[[str], object] | None = None
        ) -> list[Result]:
    """Run the scenarios (`quick`: small ones, a 15 s channel window, under a minute in
    all; else Discord's 60 s window); `progress` gets a line before each one."""
    if channel_window is None:
        channel_window = QUICK_CHANNEL_WINDOW if quick else DISCORD_CHANNEL_WINDOW
    limits = Limits(channel_window=channel_window)
    scenarios = [s for s in (QUICK if quick else FULL) if only is None or s.name == only]
    results = []
    with tempfile.TemporaryDirectory(prefix="logship-burst-") as tmp:
        for index, scenario in enumerate(scenarios):
            if progress is not None:
                progress(f"running {projection(scenario, limits)}")
            results.append(asyncio.run(measure(scenario, limits, Path(tmp) / str(index))))
    return results


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


HEADER = ("scenario", "events", "delivered", "full detail", "digested", "requests (min)",
          "429s", "dups", "wall s (floor)", "full s", "peak RSS MB", "CPU s")


def report(results: list[Result]) -> list[str]:
    """The table, then a line of details per scenario."""
    rows = [HEADER]
    for r in results:
        rows.append((
            r.scenario.name, f"{r.expected:,}", f"{r.delivered:,}",
            f"{100 * r.full_detail / max(1, r.expected):.1f}%", f"{r.digested:,}",
            f"{r.requests:,} ({r.min_requests:,})", str(r.rate_limited), str(r.duplicates),
            f"{_num(r.wall, '.1f')} ({r.floor:.1f})", _num(r.full_wall, '.1f'),
            _num(r.peak_rss_mb, '.1f'), _num(r.cpu, '.2f'),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    if results:
        lines.append("")
        lines.append(f"limits: {results[0].limits.describe()}")
    for r in results:
        lines += details(r)
    return lines


def details(r: Result) -> list[str]:
    sizes = sorted(r.per_message)
    spread = (f"{sizes[0]}/{sizes[len(sizes) // 2]}/{sizes[-1]} events per message "
              f"(min/median/max)" if sizes else "no messages")
    statuses = ", ".join(f"{status}x{count}" for status, count in sorted(r.by_status.items()))
    latency = f", webhook latency {r.scenario.latency:g} s" if r.scenario.latency else ""
    pacing = r.limits.floor_seconds(r.requests, r.scenario.latency)
    real = ""
    if r.limits.scale != 1:
        at_60 = r.limits.floor_seconds(r.min_requests, r.scenario.latency,
                                       DISCORD_CHANNEL_WINDOW)
        real = f"; floor at Discord's 60 s window {at_60:.0f} s"
    log = ", ".join(f"{k.lower()} {v}" for k, v in sorted(r.log_counts.items())) or "empty"
    out = [
        f"{r.scenario.name}{latency}: {r.messages:,} messages, {spread}; "
        f"HTTP {statuses or 'none'}; logship exit {r.exit_code}, its log: {log}",
        f"    first delivery at {_num(r.first, '.2f')} s; the {r.requests:,} requests used "
        f"need >= {pacing:.1f} s{real}; at one event per embed >= {r.embed_floor:,} "
        f"requests",
    ]
    problems = []
    if r.delivered < r.expected:
        problems.append(f"{r.expected - r.delivered:,} events NOT delivered")
    if r.full_detail < r.expected:
        problems.append(f"{r.expected - r.full_detail:,} events without their full detail")
    if r.timed_out:
        problems.append("gave up: no new delivery for "
                        f"{patience(r.scenario, r.limits):.0f} s")
    if r.unexpected:
        problems.append(f"{r.unexpected} ids that were never written")
    if r.late:
        problems.append(f"{r.late} ids delivered after a higher id")
    if problems:
        out.append("    " + "; ".join(problems))
    out += [f"    logship: {line}" for line in r.log_samples]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="bursts of 200 and 4,000, slow webhook 100, channel window "
                             f"{QUICK_CHANNEL_WINDOW:g} s: under a minute")
    parser.add_argument("--channel-window", type=float, default=None,
                        help="seconds for 30 messages per channel (default: Discord's 60, "
                             f"{QUICK_CHANNEL_WINDOW:g} with --quick)")
    parser.add_argument("--only", help="run one scenario by name")
    args = parser.parse_args()
    print(f"# logship burst bench{' (quick)' if args.quick else ''}", flush=True)
    results = run(args.quick, channel_window=args.channel_window, only=args.only,
                  progress=lambda line: print(line, flush=True))
    print()
    for line in report(results):
        print(line)


if __name__ == "__main__":
    main()
