"""Parse throughput per log format: lines/s on one core, CPU seconds per million lines.

For each format of ../shared/formats.md, a block of sample lines (names, ids, numbers and
times varied, tracebacks and tree sections included, as the bots write them) is cycled
up to the line count, cut into ~64 KiB batches with their end offsets as the tailer
hands them out, and fed to the parser the daemon uses (`make_parser("auto", ...)`,
`format = "auto"` being the default), then flushed. Only feeding and flushing are timed;
making the lines is not. JSON events work out their time and fields only when read (most
lines are routed nowhere), so each format is timed twice: as parsed (what every line
costs) and with every event's fields read (what each event routed somewhere costs).
Lines/s is lines per CPU second of this process (the parser is single-threaded), and
each format reports the best of `--repeat` runs, so that other work on a shared machine
changes the figures less.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from logship.parse import make_parser

BLOCK_LINES = 10_000
"""Distinct sample lines per format; a run cycles them (so caches see realistic repeats)."""
BATCH_BYTES = 65536
"""About what the tailer reads at once (its chunk size)."""
PARSER_FORMAT = "auto"

Maker = Callable[[random.Random, int], list[str]]

_NAMES = ("alice", "bob", "carol", "dave", "eve", "mallory", "trent", "peggy", "victor")
_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in '
    "update_heartbeat\n"
    "    embed = await self.create_heartbeat_embed()\n"
    "            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    "discord.errors.HTTPException: 503 Service Unavailable (error code: 0): upstream"
)


def _member(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_NAMES)}#{rng.randrange(10_000)}", rng.randrange(10**17, 10**19)


def _clock(i: int) -> tuple[int, int, int]:
    """Hour, minute, second of record i: one record every few seconds through a day."""
    seconds = (i * 7) % 86_400
    return seconds // 3600, seconds // 60 % 60, seconds % 60


def _twelve(hour: int) -> tuple[int, str]:
    return (hour % 12 or 12), ("AM" if hour < 12 else "PM")


# -- JSON formats -------------------------------------------------------------------------

def _dumps(record: dict[str, object]) -> str:
    return orjson.dumps(record).decode()


def structured_json(rng: random.Random, i: int) -> list[str]:
    """StatsBot's StructuredLogger JSON (formats.md §3)."""
    hour, minute, second = _clock(i)
    stamp = f"2025-07-15T{hour:02d}:{minute:02d}:{second:02d}.{rng.randrange(10**6):06d}+00:00"
    name, member_id = _member(rng)
    choice = i % 8
    record: dict[str, object] = {"timestamp": stamp}
    if choice == 0:
        record |= {"level": "INFO", "message": f"Member join recorded: {name}",
                   "context": {"member_id": member_id, "username": name,
                               "date": "2025-07-15"}, "service": "StatsTracker"}
    elif choice == 1:
        record |= {"level": "WARNING",
                   "message": f"Slow operation detected: update_stats took "
                              f"{rng.uniform(1000, 5000):.2f}ms",
                   "context": {}, "operation": "update_stats",
                   "duration_ms": round(rng.uniform(1000, 5000), 2)}
    elif choice == 2:
        record |= {"level": "ERROR", "message": "Failed to update heartbeat",
                   "context": {"traceback": _TRACEBACK, "error_type": "HTTPException"},
                   "service": "monitoring", "error": "HTTPException: 503 Service Unavailable"}
    elif choice == 3:
        memory = rng.uniform(80, 120)
        record |= {"level": "WARNING",
                   "message": f"High memory usage: {memory:.2f}MB (threshold: 80.00MB)",
                   "context": {"memory_mb": round(memory, 2), "threshold_mb": 80.0}}
    else:
        record |= {"level": "INFO", "message": "Heartbeat updated successfully",
                   "context": {"cpu": f"{rng.uniform(0, 5):.1f}%", "threads": 12},
                   "service": "monitoring"}
    return [_dumps(record)]


def tree_log_json(rng: random.Random, i: int) -> list[str]:
    """StatsBot's tree_log JSON (formats.md §2): sections and errors over several lines."""
    hour, minute, second = _clock(i)
    twelve, meridiem = _twelve(hour)
    base = {"timestamp": f"[07/15 {twelve:02d}:{minute:02d} {meridiem} EST]", "level": "INFO",
            "run_id": "A4E19B07",
            "iso_datetime": f"2025-07-15T{hour:02d}:{minute:02d}:{second:02d}.481516-05:00"}

    def line(category: str, message: str, level: str = "INFO") -> str:
        return _dumps({**base, "level": level, "category": category, "message": message})

    name, member_id = _member(rng)
    if i % 4 == 0:
        return [line("error", "❌ ERROR: Failed to update heartbeat", "ERROR"),
                line("error_detail", "└─ HTTPException: 503 Service Unavailable", "ERROR"),
                line("traceback", '   File "/opt/StatsBot/src/services/monitoring.py", '
                     "line 265, in update_heartbeat", "ERROR"),
                line("traceback", "    embed = await self.create_heartbeat_embed()", "ERROR")]
    if i % 4 == 1:
        return [line("perfect_tree_section", "💓 Heartbeat Update"),
                line("tree_item", "├─ status: online"),
                line("tree_item", f"├─ cpu: {rng.uniform(0, 5):.1f}%"),
                line("tree_item", "└─ next_update: in 60 minutes")]
    return [line("perfect_tree_section", "➡️ Member Join"),
            line("tree_item", f"├─ member: {name}"),
            line("tree_item", f"├─ id: {member_id}"),
            line("tree_item", "└─ date: 2025-07-15")]


def python_json_logger(rng: random.Random, i: int) -> list[str]:
    """python-json-logger's records (formats.md §5)."""
    hour, minute, second = _clock(i)
    record: dict[str, object] = {
        "asctime": f"2025-07-15 {hour:02d}:{minute:02d}:{second:02d},{rng.randrange(1000):03d}",
        "levelname": "INFO", "name": "bot.commands",
        "message": f"Command /stats used by {rng.choice(_NAMES)}",
        "guild_id": rng.randrange(10**17, 10**19), "taskName": None}
    if i % 5 == 0:
        record |= {"levelname": "ERROR", "message": "Command failed", "exc_info": _TRACEBACK}
    return [_dumps(record)]


def structlog_json(rng: random.Random, i: int) -> list[str]:
    """structlog's JSON renderer (formats.md §5): constant events, the data in keys."""
    hour, minute, second = _clock(i)
    name, member_id = _member(rng)
    record: dict[str, object] = {
        "event": "member joined", "level": "info", "logger": "bot.members",
        "timestamp": f"2025-07-15T{hour:02d}:{minute:02d}:{second:02d}Z",
        "member_id": member_id, "username": name}
    if i % 5 == 0:
        record |= {"event": "cache miss", "level": "warning", "key": f"guild:{member_id}"}
    elif i % 5 == 1:
        record |= {"event": "command failed", "level": "error", "exception": _TRACEBACK}
    return [_dumps(record)]


# -- text formats -------------------------------------------------------------------------

def structured_text(rng: random.Random, i: int) -> list[str]:
    """StatsBot's StructuredLogger text (formats.md §3)."""
    hour, minute, second = _clock(i)
    prefix = f"[2025-07-15 {hour:02d}:{minute:02d}:{second:02d}]"
    name, member_id = _member(rng)
    choice = i % 6
    if choice == 0:
        return [f"{prefix} [INFO] Member joined: {name} (member_id={member_id} "
                f"guild_id=987654321098765432)"]
    if choice == 1:
        return [f"{prefix} [ERROR] [monitoring] Failed to update heartbeat [error=HTTPException:"
                " 503 Service Unavailable (error code: 0): upstream]", *_TRACEBACK.splitlines()]
    if choice == 2:
        return [f"{prefix} [WARNING] High memory usage: {rng.uniform(80, 120):.2f}MB "
                "(threshold: 80.00MB)"]
    if choice == 3:
        took = rng.uniform(1000, 5000)
        return [f"{prefix} [WARNING] [database] Slow operation detected: update_stats took "
                f"{took:.2f}ms [operation=update_stats, duration={took:.2f}ms]"]
    return [f"{prefix} [INFO] [monitoring] Heartbeat updated successfully "
            f"(cpu={rng.uniform(0, 5):.1f}% memory=2.1% threads=12 next_update=in 60 minutes)"]


def tree_log_text(rng: random.Random, i: int) -> list[str]:
    """StatsBot's tree_log text (formats.md §1): sections, errors, blank records."""
    hour, minute, _ = _clock(i)
    twelve, meridiem = _twelve(hour)
    info = f"[07/15 {twelve:02d}:{minute:02d} {meridiem} EST] [INFO] "
    error = f"[07/15 {twelve:02d}:{minute:02d} {meridiem} EST] [ERROR] "
    name, member_id = _member(rng)
    if i % 4 == 0:
        return [error + "❌ ERROR: Failed to update heartbeat",
                error + "└─ HTTPException: 503 Service Unavailable (error code: 0): upstream",
                error + '   File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line '
                        "265, in update_heartbeat",
                "    embed = await self.create_heartbeat_embed()", info]
    if i % 4 == 1:
        return [info + "💓 Heartbeat Update", info + "├─ status: online",
                info + f"├─ cpu: {rng.uniform(0, 5):.1f}%", info + "├─ threads: 12",
                info + "└─ next_update: in 60 minutes", info]
    return [info + "➡️ Member Join", info + f"├─ member: {name}", info + f"├─ id: {member_id}",
            info + "└─ date: 2025-07-15", info]


def sibling_tree(rng: random.Random, i: int) -> list[str]:
    """The sibling bots' tree logger (formats.md §4): time-only stamps, branch lines."""
    hour, minute, second = _clock(i)
    twelve, meridiem = _twelve(hour)
    stamp = f"[{twelve:02d}:{minute:02d}:{second:02d} {meridiem} EDT]"
    if i % 4 == 0:
        return [f"{stamp} 💥 Unhandled exception in on_message", *_TRACEBACK.splitlines(), ""]
    if i % 4 == 1:
        return [f"{stamp} ⚠️ Slow voice reconnect", f"  └─ Took: {rng.randrange(500, 2000)}ms",
                ""]
    return [f"{stamp} 🤖 Bot Ready", f"  ├─ Bot ID: {rng.randrange(10**17, 10**19)}",
            "  ├─ Guilds: 2", "  │   ├─ main: Quran HQ", "  │   └─ test: Sandbox",
            f"  └─ Latency: {rng.randrange(20, 200)}ms", ""]


def python_logging_text(rng: random.Random, i: int) -> list[str]:
    """Python logging's default and common formats (formats.md §5), with tracebacks."""
    hour, minute, second = _clock(i)
    stamp = f"2025-07-15 {hour:02d}:{minute:02d}:{second:02d},{rng.randrange(1000):03d}"
    if i % 5 == 0:
        return [f"{stamp} ERROR statsbot.db: query failed", *_TRACEBACK.splitlines()]
    if i % 5 == 1:
        return [f"WARNING:discord.gateway:Shard ID None heartbeat blocked for more than "
                f"{rng.randrange(10, 60)} seconds"]
    return [f"{stamp} - statsbot - INFO - Stats saved for {rng.randrange(1, 50)} guilds"]


FORMATS: dict[str, Maker] = {
    "StructuredLogger JSON": structured_json,
    "tree_log JSON": tree_log_json,
    "python-json-logger": python_json_logger,
    "structlog JSON": structlog_json,
    "StructuredLogger text": structured_text,
    "tree_log text": tree_log_text,
    "sibling tree logger": sibling_tree,
    "Python logging text": python_logging_text,
}


# -- the measure --------------------------------------------------------------------------

@dataclass
class Run:
    name: str
    lines: int
    events: int
    cpu: float
    wall: float
    cpu_fields: float  # the same, with every event's fields read

    @property
    def per_second(self) -> float:
        """Lines per CPU second: the throughput of one core."""
        return self.lines / self.cpu if self.cpu > 0 else float("inf")

    @property
    def cpu_per_million(self) -> float:
        return self.cpu * 1_000_000 / self.lines

    @property
    def per_second_fields(self) -> float:
        return self.lines / self.cpu_fields if self.cpu_fields > 0 else float("inf")


Batch = tuple[list[bytes], list[int]]


def sample(maker: Maker, lines: int, seed: int = 4) -> list[bytes]:
    """`lines` lines of one format: a block of up to BLOCK_LINES distinct lines, cycled."""
    rng = random.Random(seed)
    block: list[bytes] = []
    record = 0
    while len(block) < min(lines, BLOCK_LINES):
        block += [text.encode() for text in maker(rng, record)]
        record += 1
    repeats, rest = divmod(lines, len(block))
    return block * repeats + block[:rest]


def batches(lines: list[bytes]) -> list[Batch]:
    """The lines in ~BATCH_BYTES batches, each with the offset past each of its lines."""
    out: list[Batch] = []
    chunk: list[bytes] = []
    ends: list[int] = []
    offset = size = 0
    for line in lines:
        offset += len(line) + 1
        chunk.append(line)
        ends.append(offset)
        size += len(line) + 1
        if size >= BATCH_BYTES:
            out.append((chunk, ends))
            chunk, ends, size = [], [], 0
    if chunk:
        out.append((chunk, ends))
    return out


def parse_all(name: str, work: list[Batch], read_fields: bool = False) -> int:
    """What the tailer does with a file's batches: feed each, flush at the end; with
    `read_fields`, what each event routed somewhere then costs too."""
    parser = make_parser(PARSER_FORMAT, source="bench",
                         path=f"/opt/bots/logs/2025-07-15/{name.replace(' ', '-')}.log")
    events = 0
    for lines, ends in work:
        parsed = parser.feed(lines, ends)
        if read_fields:
            for event in parsed:
                event.fields  # noqa: B018 (reading is the work measured)
        events += len(parsed)
    return events + len(parser.flush())


def measure(name: str, maker: Maker, lines: int, repeat: int = 1) -> Run:
    """The best of `repeat` runs (least CPU) of each mode: on a shared machine, the
    others only add."""
    work = batches(sample(maker, lines))
    parse_all(name, work[:1])  # warm up: caches, regexes, the first plan
    best: dict[bool, tuple[float, float, int]] = {}
    for _ in range(max(1, repeat)):
        for read_fields in (False, True):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            events = parse_all(name, work, read_fields)
            timed = (time.process_time() - cpu0, time.perf_counter() - wall0, events)
            if read_fields not in best or timed < best[read_fields]:
                best[read_fields] = timed
    (cpu, wall, events), (cpu_fields, _, _) = best[False], best[True]
    return Run(name, lines, events, cpu, wall, cpu_fields)


def run(lines: int, repeat: int = 1) -> list[Run]:
    """One run per format of `lines` lines each (the best of `repeat`)."""
    return [measure(name, maker, lines, repeat) for name, maker in FORMATS.items()]


def report(runs: list[Run]) -> list[str]:
    rows = [f"{'format':<22} {'lines/s':>12}   {'CPU s/M lines':>13}   {'events':>9}   "
            f"{'lines/s, fields read':>20}"]
    rows += [f"{r.name:<22} {r.per_second:>12,.0f}   {r.cpu_per_million:>13.2f}   "
             f"{r.events:>9,}   {r.per_second_fields:>20,.0f}" for r in runs]
    return rows


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.parse", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 lines, not 1,000,000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per format; the best "
                        "is reported (default 3)")
    args = parser.parse_args()
    lines = 50_000 if args.quick else 1_000_000
    print(f"parse: {lines:,} lines per format, make_parser({PARSER_FORMAT!r}), one core, "
          f"best of {args.repeat}")
    for row in report(run(lines, args.repeat)):
        print(row)


if __name__ == "__main__":
    main()
