"""Chaos test: what a host does to logship, in random order, checked after every step.

`python -m bench.chaos [--minutes N] [--seed S] [--steps K] [--without NAMES]
[--script NAMES] [--keep DIR] [--verbose]` runs the real daemon (`python -m logship run`)
against the Discord emulator (in this process, on 127.0.0.1), on real files, and takes
random steps: it writes lines (whole, in pieces with pauses longer than `idle_flush`,
longer than `max_line_bytes`, multi-line Python tracebacks, an identical banner at the top
of each new file), rotates with the real `logrotate` (rename+create, rename+nocreate,
copytruncate, copytruncate+compress) while logship runs and while it is stopped, opens a
new dated folder as the bot does each day and deletes old ones, truncates files in place,
kills logship with SIGKILL or stops it with SIGTERM and starts it again, reloads it with
SIGHUP after rewriting its config (a second source, a second sink, a changed route), makes
the webhooks answer 5xx, 429 and 404 for a while and recover, and runs `logship replay`
during and after outages. `--without` leaves steps out, `--script` takes the steps named
in that order (to aim at one path); `--keep` leaves a run's files for diagnosis.

After every step it checks the invariant. Each complete line ever written carries a unique
id (`line #N;`) and is, for the sink that takes every line ("main"):

- *delivered*: the emulator accepted (200) a message holding its id (title, description,
  fields, footer, content or an attached file), or
- *spooled*: a record still outstanding in the spool (`logship.spool.store.outstanding`), or
- *pending*: it still exists, in a file whose checkpoint (`checkpoints.json`: path,
  identity.dev, identity.inode, offset) is at or before it, so it will be read. A copy
  made by copytruncate is read on from where its original's checkpoint was when it was
  made, or from a checkpoint of its original saved since whose mark (the bytes where
  reading stopped) is the copy's (the old content of a file logship saw truncated); a
  file without any checkpoint is read from its start if a glob matches it.

A line that is none of these is LOST. A line found nowhere while logship runs gets a few
seconds to turn up (logship may have just read a file, or not yet saved the checkpoint
of a truncated one); found while it is stopped, it is looked at again once it runs. No
line is delivered twice to a sink, except what a SIGKILL allows: at each kill the test
notes, per (line, sink), the copies that may come again (delivered or spooled copies of a
line still pending, a record still spooled after it was delivered, a line spooled twice);
the duplicates of a pair must stay within the most any kill allowed it. Every failure
prints the seed, the steps, what was lost or duplicated, where it was written and where
it is now, and logship's own log (with the steps marked in it). The same seed takes the
same steps; the timing of the daemon's work between them still varies from run to run.

The config is chosen so that every line counts: `start_at = "beginning"` (a file without
a checkpoint is read from its start, so nothing is exempt for being written before the
first start), `format = "auto"` (JSON lines, and text tracebacks that join the line before
them), `max_line_bytes = 1024`, `idle_flush = 0.25`, no dedupe windows, storm mode out of
reach. Not owed (counted, reported as "not owed"): lines of a source the config does not
follow at the time, lines in files logship never had a checkpoint for that are no longer
under a matched name (made and rotated away while it was stopped or starting), and lines
the test destroyed (deleted folder, truncation) before logship was held to them; before
destroying a file while logship runs, the test waits (a while) until its lines are
shipped, as a host deletes old logs long after they were sent. The test keeps every file
it made open, so no inode number is reused within a run (checkpoints are read by device
and inode alone). Faults are scoped so that a run ends: after the last step the webhooks
heal, logship is stopped and started with every source and sink, everything must then be
delivered or spooled (nothing may be left only "pending"), and a final `logship replay`
must empty the spool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import orjson

from bench.torture import (
    LOGROTATE,
    REPO,
    TOKEN,
    Collector,
    Daemon,
    Writer,
    answered,
    emulator,
    logrotate,
    save_config,
    sink_table,
)
from logship.emulator.server import FakeDiscord, Received
from logship.spool.store import outstanding, segments
from logship.tail.reader import is_rotated_name, rotated_from

MAIN, SECOND = "main", "second"
WEBHOOKS = {MAIN: "300000000000000011", SECOND: "300000000000000012"}
SINK_OF_WEBHOOK = {webhook: sink for sink, webhook in WEBHOOKS.items()}
BOT, WORKER = "bot", "worker"  # the two sources
MAX_LINE_BYTES = 1024
IDLE_FLUSH = 0.25
KEEP_DAYS = 2  # day folders kept; older ones are deleted, as the bot does
FIRST_DAY = dt.date(2025, 7, 16)
MARK = re.compile(r"line #(\d+);")
STAMP = "2025-07-16T12:00:00+00:00"
BANNER_RULE = "=" * 300  # the banner's first 256 bytes are the same in every file

GRACE = 10.0  # seconds a line found nowhere gets to turn up while logship runs
SHIP_WAIT = 15.0  # seconds to wait for a file's lines to be shipped before deleting it
READY_WAIT = 30.0  # seconds for logship to log "running:" (or a reload) after a signal
NOTICE_WAIT = 5.0  # seconds for logship to save a checkpoint that fits a truncated file
STOP_WAIT = 30.0  # seconds for a SIGTERM to end logship before it is killed
FINAL_WAIT = 60.0  # seconds for the last run to deliver or spool every line
QUIET = 10.0  # ... unless nothing at all moved for this long
REPLAY_WAIT = 60.0  # seconds for `logship replay` to end

Key = tuple[int, int]  # (device, inode)
Marked = tuple[int, int, str]  # a checkpoint's mark: end, length, hash of those bytes


class HarnessError(Exception):
    """The test's own model of the files disagrees with the disk: a bug in the test."""


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Location:
    """Bytes `start`..`end` of the file `key`."""

    key: Key
    start: int
    end: int


@dataclass
class LogLine:
    """One record the test wrote: a line, or a traceback of several lines, with one id."""

    id: int
    kind: str  # line, pieces, long, traceback, banner, worker
    data: bytes
    source: str
    step: int  # the step that wrote it (0: before the first)
    path: str = ""  # where it was written
    first: Location | None = None
    complete: bool = False
    locations: set[Location] = field(default_factory=set)
    exempt: str | None = None  # destroyed before logship could be held to it: why

    def where(self) -> str:
        if self.first is None:
            return f"#{self.id} ({self.kind}) not yet written"
        return (f"#{self.id} ({self.kind}, step {self.step}) written to {self.path} "
                f"(inode {self.first.key[1]}, bytes {self.first.start}-{self.first.end})")


@dataclass
class LogFile:
    """A file the test made or logrotate made from one: its lines, where they came from.

    The test keeps a descriptor open on each (`pin`), so no inode number is reused while
    a run lasts: the check reads checkpoints by (device, inode) alone."""

    key: Key
    path: str | None  # None once deleted
    source: str
    pin: int
    lines: dict[int, Location] = field(default_factory=dict)
    origins: set[Key] = field(default_factory=set)  # the files it is a copy of
    # a copy: its original's checkpoint offsets on disk when the copy was made (the
    # copy's lines from there on are what logship must still read, from the copy)
    inherited: list[int] | None = None
    # the inode of checkpoints.json when this file was last truncated: until logship
    # writes that file again, its entries for this inode describe the old content
    truncated_under: int | None = None
    seen: bool = False  # a checkpoint named it once: logship knew this file


class Model:
    """What was written where: every line with the places it exists now."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: dict[int, LogLine] = {}
        self.files: dict[Key, LogFile] = {}
        self.next_id = 1

    def new_line(self, kind: str, source: str, step: int,
                 build: Callable[[int], bytes]) -> LogLine:
        line = LogLine(self.next_id, kind, build(self.next_id), source, step)
        self.lines[line.id] = line
        self.next_id += 1
        return line

    def complete(self) -> list[LogLine]:
        return [line for line in self.lines.values() if line.complete]

    def register(self, key: Key, path: str, source: str) -> LogFile:
        """A file the test just saw made (by its writer or by logrotate)."""
        if key in self.files:
            raise HarnessError(f"inode {key} reused by {path}: it should be pinned")
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != key:
            os.close(fd)
            raise HarnessError(f"{path} is no longer inode {key}")
        made = self.files[key] = LogFile(key, path, source, fd)
        return made

    def place(self, line: LogLine, location: Location) -> None:
        """`line` is complete, written at `location`."""
        line.first, line.complete = location, True
        line.path = self.files[location.key].path or ""
        line.locations.add(location)
        self.files[location.key].lines[line.id] = location

    def copy(self, source: LogFile, copy: LogFile, content: bytes,
             lines: dict[int, Location], checkpoint: list[int]) -> None:
        """`copy` holds `content`, a copy of what `source` held (`lines`), at the same
        offsets (logrotate's copy, plain or compressed); `checkpoint`: the offsets
        saved for `source` when the copy was made."""
        covered = 0
        for line_id, where in lines.items():
            line = self.lines[line_id]
            if content[where.start:where.end] != line.data:
                raise HarnessError(f"{copy.path} lacks line #{line_id} at {where.start}")
            location = Location(copy.key, where.start, where.end)
            line.locations.add(location)
            copy.lines[line_id] = location
            covered += where.end - where.start
        if covered != len(content):
            raise HarnessError(f"{copy.path} holds {len(content)} bytes, the lines of "
                               f"{source.path} only {covered}")
        copy.origins |= {source.key} | source.origins
        copy.inherited = list(checkpoint)

    def destroy(self, key: Key) -> list[LogLine]:
        """The file `key` is deleted: its lines no longer exist there. The lines that
        existed nowhere else."""
        gone = self.files[key]
        gone.path = None
        return self._drop(gone)

    def truncate(self, key: Key, checkpoints_inode: int | None) -> list[LogLine]:
        """The file `key` was truncated to 0: its old lines no longer exist there."""
        cut = self.files[key]
        cut.truncated_under = checkpoints_inode
        return self._drop(cut)

    def _drop(self, file: LogFile) -> list[LogLine]:
        orphans = []
        for line_id, location in file.lines.items():
            line = self.lines[line_id]
            line.locations.discard(location)
            if not line.locations:
                orphans.append(line)
        file.lines.clear()
        return orphans

    def scan(self) -> dict[Key, str]:
        """Every file under the test's log folders now, by (device, inode)."""
        found: dict[Key, str] = {}
        for folder in (self.root / "logs", self.root / "worker"):
            for parent, _, names in os.walk(folder):
                for name in names:
                    path = os.path.join(parent, name)
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(path)
                        found[(st.st_dev, st.st_ino)] = path
        return found

    def verify(self) -> None:
        """The model matches the disk: every file it knows exists under its name and
        holds its lines' bytes where the model says, and no file is unknown."""
        on_disk = self.scan()
        for key, path in on_disk.items():
            known = self.files.get(key)
            if known is None or known.path != path:
                raise HarnessError(f"{path} (inode {key[1]}) is not where the model has it")
        for key, known in self.files.items():
            if known.path is None:
                continue
            if key not in on_disk:
                raise HarnessError(f"{known.path} (inode {key[1]}) is gone from the disk")
            content = read_content(known.path, known.pin)
            for line_id, where in known.lines.items():
                if content[where.start:where.end] != self.lines[line_id].data:
                    raise HarnessError(f"{known.path} lacks line #{line_id} at {where.start}")

    def close(self) -> None:
        for known in self.files.values():
            with contextlib.suppress(OSError):
                os.close(known.pin)


def read_content(path: str, fd: int) -> bytes:
    """A file's content through its pinned descriptor (a `.gz` decompressed)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    return gzip.decompress(data) if path.endswith(".gz") else data


# --------------------------------------------------------------------------- lines


def json_line(n: int, level: str, text: str, **extra: str) -> bytes:
    fields = "".join(f'"{k}":"{v}",' for k, v in extra.items())
    return (f'{{"timestamp":"{STAMP}","level":"{level}",{fields}'
            f'"message":"line #{n}; {text}"}}\n').encode()


def banner_line(n: int) -> bytes:
    """The bot's start banner: its first 256 bytes are the same in every file."""
    return json_line(n, "INFO", "StatsBot started", banner=BANNER_RULE)


def long_line(rng: random.Random) -> Callable[[int], bytes]:
    size = rng.randint(MAX_LINE_BYTES + 1, 3 * MAX_LINE_BYTES)
    return lambda n: json_line(n, "WARNING", "x" * size)


def traceback_lines(n: int) -> bytes:
    """A Python traceback as the logging module prints it: one record, five lines."""
    return (f"2025-07-16 12:00:00,000 ERROR bot: line #{n}; crashed\n"
            "Traceback (most recent call last):\n"
            '  File "/opt/StatsBot/cogs/stats.py", line 42, in refresh\n'
            "    await self.update_channel()\n"
            f"ValueError: refresh {n} failed\n").encode()


def worker_line(n: int) -> bytes:
    return f"2025-07-16 12:00:00,000 INFO worker: line #{n}; job done\n".encode()


def ids_in(text: str) -> set[int]:
    return {int(n) for n in MARK.findall(text)}


def delivered_ids(received: Received) -> set[tuple[int, str]]:
    """(id, sink) for each id anywhere in one accepted message (once per message)."""
    sink = SINK_OF_WEBHOOK.get(received.webhook_id, received.webhook_id)
    text = json.dumps(received.payload) + received.attachment_text()
    return {(n, sink) for n in ids_in(text)}


# --------------------------------------------------------------------------- config


ROUTES = {  # the second sink's route, as a reload may change it
    "warnings": {"min_level": "warning"},
    "errors": {"min_level": "error"},
    "crashes": {"match": {"message": "crashed"}},
}


@dataclass
class Setup:
    """Which sources, sinks and routes the config has (the "main" sink takes all)."""

    worker_source: bool = False
    second_sink: bool = False
    second_route: str = "warnings"

    def config(self, root: Path, fake: FakeDiscord) -> dict[str, object]:
        source = {"format": "auto", "start_at": "beginning", "max_line_bytes": MAX_LINE_BYTES,
                  "idle_flush": IDLE_FLUSH}
        sources = [{"name": BOT, "paths": [str(root / "logs" / "*" / "logs.json")], **source}]
        if self.worker_source:
            sources.append({"name": WORKER, "paths": [str(root / "worker" / "*.log")],
                            **source})
        sink = {"username": "chaos", "max_attempts": 3, "retry_base": 0.05,
                "retry_cap": 0.3, "circuit_failures": 4, "circuit_cooldown": 1.0}
        sinks = {MAIN: sink_table(fake, WEBHOOKS[MAIN], **sink)}
        routes: list[dict[str, object]] = [{"name": "all", "min_level": "debug",
                                            "sinks": [MAIN]}]
        if self.second_sink:
            sinks[SECOND] = sink_table(fake, WEBHOOKS[SECOND], **sink)
            routes.append({"name": SECOND, "sinks": [SECOND], **ROUTES[self.second_route]})
        return {"daemon": {"state_dir": str(root / "state"), "drain_timeout": 3.0,
                           "checkpoint_interval": 0.2},
                "sources": sources, "sinks": sinks, "routes": routes}

    def follows(self, source: str) -> bool:
        return source == BOT or self.worker_source

    def matches(self, path: str, root: Path) -> bool:
        """A glob of the config matches `path`: a file logship reads from its start when
        it has no checkpoint for it."""
        pure = PurePath(path)
        globs = [root / "logs" / "*" / "logs.json"]
        if self.worker_source:
            globs.append(root / "worker" / "*.log")
        return any(pure.match(str(glob)) for glob in globs)

    def describe(self) -> str:
        parts = ["sources bot" + (", worker" if self.worker_source else ""), "sinks main"]
        if self.second_sink:
            parts[-1] += f", second (route {self.second_route})"
        return "; ".join(parts)


# --------------------------------------------------------------------------- the invariant


# where a line is (the first three are where it must be)
DELIVERED, SPOOLED, PENDING = "delivered", "spooled", "pending"
UNSEEN, NOT_FOLLOWED, NOWHERE = "in no file logship knew", "in an unfollowed source", "LOST"
COVERED = "behind its checkpoint"  # of a location: logship says it is done with it


@dataclass
class Observation:
    """Checkpoints, spool and deliveries, read in that order (see `Invariant.observe`)."""

    entries: dict[Key, list[int]]  # checkpoint offsets by (device, inode)
    checkpoints_inode: int | None
    # when checkpoints.json was written (its modification time; None without one)
    saved_at_ns: int | None
    marks: dict[Key, list[tuple[int, Marked]]]  # offsets with the bytes they were read at
    spooled: Counter[tuple[int, str]]  # outstanding spool records by (id, sink)
    delivered: Counter[tuple[int, str]]  # accepted messages holding each (id, sink)


class Invariant:
    """Where each line is, and whether that is allowed."""

    def __init__(self, model: Model, root: Path, collector: Collector) -> None:
        self.model = model
        self.root = root
        self.collector = collector
        self.state_dir = root / "state"
        self.spool_dir = root / "state" / "spool"
        self._copies: dict[Key, bytes] = {}  # the content of copies, read once

    def observe(self) -> Observation:
        """Read the checkpoints, then the spool, then the deliveries.

        The order is what makes the check sound while logship runs. A line only moves
        forward: from "pending in a file" to spooled or delivered (the checkpoint passes
        an event only once it is delivered or spooled), and from spooled to delivered
        (the drain and `logship replay` let a record go only after Discord took it, and
        a record that fails again is written anew before the old one is let go). Read in
        the order of those moves, a line that moves while we look is found in its later
        state: seen pending by the checkpoint, then in the spool or delivered. Read the
        other way round, a line delivered from the spool just after we looked at the
        deliveries, or checkpointed just after we looked at the spool, would be found
        nowhere. The deliveries are recorded by this process's event loop, which does not
        run while this (synchronous) function does."""
        entries, marks, inode, saved_at_ns = self._checkpoints()
        spooled = self._spool()
        delivered: Counter[tuple[int, str]] = Counter()
        for key, count in self.collector.counts.items():
            if isinstance(key, tuple):
                delivered[key] = count
        for key in entries:  # a file a checkpoint names is one logship knew
            if key in self.model.files:
                self.model.files[key].seen = True
        return Observation(entries, inode, saved_at_ns, marks, spooled, delivered)

    def _checkpoints(self) -> tuple[dict[Key, list[int]], dict[Key, list[tuple[int, Marked]]],
                                    int | None, int | None]:
        path = self.state_dir / "checkpoints.json"
        for _ in range(20):  # written by rename: a read may meet the old file or the new
            try:
                with path.open("rb") as f:
                    inode = os.fstat(f.fileno()).st_ino
                    data = orjson.loads(f.read())
                    saved_at_ns = os.fstat(f.fileno()).st_mtime_ns
            except FileNotFoundError:
                return {}, {}, None, None
            except orjson.JSONDecodeError:
                time.sleep(0.01)
                continue
            entries: dict[Key, list[int]] = {}
            marks: dict[Key, list[tuple[int, Marked]]] = {}
            for entry in data.get("files", []):
                identity = entry["identity"]
                key = (int(identity["dev"]), int(identity["inode"]))
                entries.setdefault(key, []).append(int(entry["offset"]))
                if (mark := entry.get("mark")) is not None:
                    marks.setdefault(key, []).append(
                        (int(entry["offset"]), (int(mark["end"]), int(mark["length"]),
                                                str(mark["hash"]))))
            return entries, marks, inode, saved_at_ns
        raise HarnessError(f"{path} stays unreadable")

    def _spool(self) -> Counter[tuple[int, str]]:
        """Outstanding records by (id, sink), as `logship.spool.store` reads them."""
        for _ in range(20):
            found: Counter[tuple[int, str]] = Counter()
            try:
                for path in segments(self.spool_dir):
                    for _, record in outstanding(path)[0]:
                        text = orjson.dumps(record.event.to_record(), default=str).decode()
                        found.update((n, record.sink) for n in ids_in(text))
            except FileNotFoundError:  # a segment rewritten or deleted while we read
                time.sleep(0.01)
                continue
            return found
        raise HarnessError("the spool keeps changing under the check")

    # -- one line

    def location_state(self, location: Location, obs: Observation, setup: Setup) -> str:
        """PENDING (logship will read it), COVERED (a checkpoint says it is done with
        it), or why logship is not held to it (UNSEEN, NOT_FOLLOWED)."""
        file = self.model.files[location.key]
        if not setup.follows(file.source):
            return NOT_FOLLOWED
        # a copy (copytruncate) is read on from where its original's checkpoint was
        offsets = (self.own_offsets(file, obs) + (file.inherited or [])
                   + self.carried_offsets(file, obs))
        if offsets:
            return PENDING if min(offsets) <= location.start else COVERED
        if self.rotated_from_a_new_file(file, obs, setup):
            return PENDING
        if file.inherited is not None:
            return UNSEEN  # a copy of a file logship had no checkpoint for
        assert file.path is not None
        if setup.matches(file.path, self.root):
            return PENDING  # no checkpoint: read from its start (start_at = "beginning")
        return COVERED if file.seen else UNSEEN  # renamed: forgotten, or never known

    def rotated_from_a_new_file(self, file: LogFile, obs: Observation, setup: Setup
                                ) -> bool:
        """`file` is under a rotated name of a matched path whose file has no checkpoint
        (or that names no file: rotated away with `nocreate`), and was modified after
        checkpoints.json was written: logship takes that file for one created while it
        was stopped and reads, at its next start, every generation rotated from it since
        its last save, whole (`Tailer._note_new_file`). Such a file was made after the
        last save (else that save would name it), so its lines were delivered since:
        what a kill allows to come again."""
        if file.path is None or obs.saved_at_ns is None:
            return False
        folder, name = os.path.split(file.path)
        with contextlib.suppress(OSError):
            if os.stat(file.path).st_mtime_ns <= obs.saved_at_ns:
                return False
            if any(setup.matches(path, self.root) and not os.path.lexists(path)
                   for path in (os.path.join(folder, n) for n in rotated_from(name))):
                return not file.seen
            for entry in os.scandir(folder):
                if (is_rotated_name(entry.name, name) and setup.matches(entry.path, self.root)
                        and entry.is_file()):
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) not in obs.entries:
                        return True
        return False

    def carried_offsets(self, file: LogFile, obs: Observation) -> list[int]:
        """The offsets of a copy's originals' checkpoints that describe the copy's
        content: the bytes marked where it was read are the copy's. logship keeps the
        old content of a file it saw truncated (copytruncate while it runs) under its
        own checkpoint until that content's events are done, saved after the copy was
        made (maybe before logship had saved any checkpoint of the file), and after a
        restart reads the copy on from there."""
        offsets = []
        for origin in file.origins:
            for offset, (end, length, digest) in obs.marks.get(origin, []):
                if self._marked(file, end, length) == digest:
                    offsets.append(offset)
        return offsets

    def _marked(self, file: LogFile, end: int, length: int) -> str | None:
        """The hash logship's checkpoint marks take (blake2b, 16 bytes) of the bytes of
        `file` (decompressed) from `end - length` to `end`; None if it is shorter. A
        copy's content never changes: it is read once."""
        if file.key not in self._copies:
            self._copies[file.key] = read_content(file.path or "", file.pin)
        content = self._copies[file.key]
        if len(content) < end:
            return None
        return hashlib.blake2b(content[end - length:end], digest_size=16).hexdigest()

    def own_offsets(self, file: LogFile, obs: Observation) -> list[int]:
        """The checkpoint offsets of `file` that describe its content now: not those
        saved before it was truncated, nor any past its end, nor any whose mark (the
        bytes before where reading stopped) it no longer holds. logship takes such a
        checkpoint for another content's (the old content of a file truncated since,
        kept while its events were in flight) and reads this file by a checkpoint of its
        own, or from its start."""
        if file.truncated_under is not None and file.truncated_under == obs.checkpoints_inode:
            return []
        size = os.fstat(file.pin).st_size
        marks = obs.marks.get(file.key, [])
        held = {o for o, (end, length, digest) in marks if self._holds(file, end, length, digest)}
        stale = {o for o, _ in marks} - held
        return [o for o in obs.entries.get(file.key, []) if o <= size and o not in stale]

    def _holds(self, file: LogFile, end: int, length: int, digest: str) -> bool:
        """`file` holds now the bytes a checkpoint's mark describes."""
        if (file.path or "").endswith(".gz"):
            return self._marked(file, end, length) == digest
        window = os.pread(file.pin, length, end - length) if end >= length else b""
        return (len(window) == length
                and hashlib.blake2b(window, digest_size=16).hexdigest() == digest)

    def state(self, line: LogLine, obs: Observation, setup: Setup) -> str:
        if obs.delivered[(line.id, MAIN)]:
            return DELIVERED
        if obs.spooled[(line.id, MAIN)]:
            return SPOOLED
        states = {self.location_state(where, obs, setup) for where in line.locations}
        for state in (PENDING, NOT_FOLLOWED, UNSEEN):
            if state in states:
                return state
        return NOWHERE

    def explain(self, line: LogLine, obs: Observation, setup: Setup) -> str:
        """A lost or duplicated line: where it was written and where it is now."""
        parts = [line.where()]
        if line.exempt:
            parts.append(f"exempt: {line.exempt}")
        for where in sorted(line.locations, key=lambda w: w.key):
            file = self.model.files[where.key]
            offsets = obs.entries.get(where.key, [])
            parts.append(f"in {file.path} (inode {where.key[1]}) at {where.start}: "
                         f"checkpoints {offsets or 'none'}"
                         + (f", a copy of inode {sorted(k[1] for k in file.origins)} made "
                            f"at its checkpoint {file.inherited or 'none'}"
                            if file.origins else "")
                         + f" -> {self.location_state(where, obs, setup)}")
        if not line.locations:
            parts.append("in no file any more")
        counts = {sink: (obs.delivered[(line.id, sink)], obs.spooled[(line.id, sink)])
                  for sink in (MAIN, SECOND)}
        parts.append("delivered/spooled: " + ", ".join(f"{s} {d}/{p}"
                                                      for s, (d, p) in counts.items()))
        return "; ".join(parts)

    # -- all lines

    def lost(self, obs: Observation, setup: Setup) -> list[LogLine]:
        return [line for line in self.model.complete()
                if not line.exempt and self.state(line, obs, setup) == NOWHERE]

    def pending(self, line: LogLine, obs: Observation, setup: Setup) -> bool:
        return any(self.location_state(w, obs, setup) == PENDING for w in line.locations)

    def excess(self, obs: Observation, setup: Setup) -> dict[tuple[int, str], int]:
        """Copies per (id, sink) beyond one that may still come: what a kill right now
        allows. Each delivered copy, each outstanding spool record, and one more if the
        line is pending (the next run reads it again)."""
        allowed: dict[tuple[int, str], int] = {}
        for line in self.model.complete():
            again = self.pending(line, obs, setup)
            for sink in (MAIN, SECOND):
                copies = obs.delivered[(line.id, sink)] + obs.spooled[(line.id, sink)]
                if copies and copies + again > 1:
                    allowed[(line.id, sink)] = copies + again - 1
        return allowed

    @staticmethod
    def duplicates(obs: Observation) -> dict[tuple[int, str], int]:
        return {key: count - 1 for key, count in obs.delivered.items() if count > 1}


# --------------------------------------------------------------------------- the runner


@dataclass
class RunResult:
    seed: int
    steps: list[str]
    lines: int = 0
    lost: list[int] = field(default_factory=list)
    duplicates: int = 0
    bound: int = 0
    exempt: Counter[str] = field(default_factory=Counter)
    violation: str | None = None  # the report of the first failure
    harness_error: bool = False  # the failure is the test's own (its model was wrong)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.violation is None

    def row(self) -> str:
        exempt = sum(self.exempt.values())
        return (f"seed {self.seed}: {len(self.steps)} steps, {self.lines} lines, "
                f"lost {len(self.lost)}, duplicates {self.duplicates} (bound {self.bound})"
                + (f", not owed {exempt}" if exempt else "")
                + f", {self.seconds:.0f} s: "
                + ("ok" if self.ok else "HARNESS ERROR" if self.harness_error else "FAILED"))


class Violation(Exception):
    """The invariant broke: the message is the whole report."""


class Runner:
    """One seeded run: `await Runner(root, seed, steps).run()`."""

    def __init__(self, root: Path, seed: int, steps: int, *,
                 echo: Callable[[str], None] | None = None,
                 without: frozenset[str] = frozenset(), script: list[str] | None = None
                 ) -> None:
        self.root = root
        self.seed = seed
        self.script = list(script) if script else None  # these steps, in this order
        self.wanted = len(self.script) if self.script else steps
        self.steps = [step for step in STEPS if step.name not in without]
        self.rng = random.Random(seed)
        self.echo = echo
        self.model = Model(root)
        self.collector = Collector(ids_of=delivered_ids)
        self.invariant = Invariant(self.model, root, self.collector)
        self.setup = Setup()
        self.fake: FakeDiscord | None = None
        self.daemon: Daemon | None = None
        self.log = root / "logship.log"
        self.config = root / "config.toml"
        self.started_at = 0  # where this run of logship's lines begin in its log
        self.expect_running = False  # logship was started and not stopped since
        self.abandoned = 0  # requests the emulator will never answer (killed mid-body)
        self.bound: dict[tuple[int, str], int] = {}
        self.faults: set[str] = set()
        self.suspects: dict[int, int] = {}  # ids found nowhere while stopped: step
        self.day = 0
        self.bot = Writer(self._day_file(0))
        self.worker = Writer(root / "worker" / "worker.log")
        self.result = RunResult(seed, [])
        self.step_no = 0

    # -- the run

    async def run(self) -> RunResult:
        began = time.monotonic()
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        (self.root / "worker").mkdir(parents=True, exist_ok=True)
        self.invariant.spool_dir.mkdir(parents=True, exist_ok=True)  # replay wants it
        try:
            async with emulator(self.collector, seed=self.seed) as fake:
                self.fake = fake
                try:
                    await self._steps()
                    await self._finish()
                except Violation as exc:
                    self.result.violation = str(exc)
                except HarnessError as exc:  # the test's fault, reported as such
                    self.result.harness_error = True
                    self.result.violation = str(self.violation(f"HARNESS ERROR: {exc}"))
                finally:
                    if self.daemon is not None:
                        await self.daemon.kill()
        finally:
            self.bot.close()
            self.worker.close()
            self.model.close()
        self.result.lines = len(self.model.complete())
        self.result.exempt = Counter(line.exempt for line in self.model.lines.values()
                                     if line.exempt)
        self.result.bound = sum(self.bound.values())
        self.result.seconds = time.monotonic() - began
        return self.result

    async def _steps(self) -> None:
        self.save_config()
        await self.write_bot(self.rng.randint(1, 5))  # before the first start: owed too
        await self.start(wait=True)
        self.note_step("start logship (the bot's first lines are already written)")
        await self.check()
        for _ in range(self.wanted):
            step = self.choose()
            with self.log.open("a") as out:
                out.write(f"--- chaos step {self.step_no + 1} begins: {step.name}\n")
            began = time.monotonic()
            description = await step.run(self)
            self.note_step(f"{step.name}: {description}", time.monotonic() - began)
            self.model.verify()
            await self.check()
            await asyncio.sleep(self.rng.uniform(0.0, 0.3))  # logship's turn to work

    def choose(self) -> Step:
        possible = [step for step in self.steps if step.when(self)]
        if self.script:
            name = self.script[len(self.result.steps) - 1]
            chosen = [step for step in possible if step.name == name]
            if not chosen:
                raise HarnessError(f"scripted step {name!r} cannot be taken now")
            return chosen[0]
        return self.rng.choices(possible, [step.weight for step in possible])[0]

    def note_step(self, text: str, seconds: float | None = None) -> None:
        self.step_no += 1
        running = "running" if self.running else "stopped"
        took = f", {seconds:.1f} s" if seconds is not None else ""
        line = f"{self.step_no}. {text} [logship {running} after it{took}]"
        self.result.steps.append(line)
        with self.log.open("a") as out:  # between logship's own lines, for diagnosis
            out.write(f"--- chaos step {line}\n")
        if self.echo is not None:
            self.echo(line)

    # -- logship

    @property
    def running(self) -> bool:
        return self.daemon is not None and self.daemon.running

    def save_config(self) -> None:
        assert self.fake is not None
        save_config(self.root, self.setup.config(self.root, self.fake))

    async def start(self, wait: bool) -> None:
        self.started_at = len(self.log.read_text(errors="replace")) if self.log.exists() else 0
        self.daemon = await Daemon(self.config, self.log).start()
        self.expect_running = True
        if wait:
            await self.ready()

    def logged(self, text: str, since: int) -> bool:
        assert self.daemon is not None
        return self.daemon.output().find(text, since) >= 0

    async def ready(self) -> None:
        """Wait until this run of logship logged "running:" (its signal handlers are in
        place from then on: a SIGHUP or SIGTERM before would end it at once)."""
        assert self.daemon is not None
        deadline = time.monotonic() + READY_WAIT
        while not self.logged("daemon: running:", self.started_at):
            if not self.daemon.running:
                raise self.violation(f"logship exited while starting (status "
                                     f"{self.daemon.process and self.daemon.process.returncode})")
            if time.monotonic() > deadline:
                raise self.violation("logship did not log 'running:' within "
                                     f"{READY_WAIT:.0f} s of its start")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL; then count what the next run may send again."""
        assert self.daemon is not None and self.fake is not None
        self.expect_running = False
        await self.daemon.kill()
        self.abandoned = await answered(self.fake, self.abandoned)
        obs = self.invariant.observe()
        for key, allowed in self.invariant.excess(obs, self.setup).items():
            self.bound[key] = max(self.bound.get(key, 0), allowed)

    async def stop(self) -> str:
        """SIGTERM, once logship is ready for it; how it ended."""
        assert self.daemon is not None
        await self.ready()
        self.expect_running = False
        status = await self.daemon.stop(STOP_WAIT)
        if status == -9:  # it had to be killed: count it as a kill
            self.abandoned = await answered(self.fake, self.abandoned)  # type: ignore[arg-type]
            obs = self.invariant.observe()
            for key, allowed in self.invariant.excess(obs, self.setup).items():
                self.bound[key] = max(self.bound.get(key, 0), allowed)
            self.result.notes.append(f"step {self.step_no + 1}: SIGTERM did not end logship "
                                     f"within {STOP_WAIT:.0f} s; killed")
            return "did not stop; killed"
        if status != 0:
            raise self.violation(f"logship exited with status {status} after SIGTERM")
        return "exit 0"

    async def reload(self) -> None:
        """Rewrite the config, SIGHUP, wait until logship says it reloaded."""
        assert self.daemon is not None
        await self.ready()
        self.save_config()
        since = len(self.daemon.output())
        self.daemon.reload()
        deadline = time.monotonic() + READY_WAIT
        while True:
            if self.logged("reload refused", since):
                raise self.violation("logship refused a valid config on SIGHUP")
            if self.logged("daemon: reloaded ", since):
                return
            if time.monotonic() > deadline or not self.daemon.running:
                raise self.violation("logship did not reload its config on SIGHUP")
            await asyncio.sleep(0.05)

    async def replay(self) -> str:
        """`logship replay SPOOL_DIR` as a user runs it: its exit status and summary."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "logship", "replay", str(self.invariant.spool_dir),
            "--config", str(self.config), cwd=REPO, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            out, _ = await asyncio.wait_for(process.communicate(), REPLAY_WAIT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise self.violation(f"logship replay did not end within {REPLAY_WAIT:.0f} s"
                                 ) from None
        lines = out.decode(errors="replace").strip().splitlines()
        with self.log.open("a") as log:
            log.writelines(f"--- replay: {line}\n" for line in lines)
        return f"exit {process.returncode}: {lines[-1] if lines else '(no output)'}"

    # -- writing

    def _day_file(self, day: int) -> Path:
        return self.root / "logs" / str(FIRST_DAY + dt.timedelta(days=day)) / "logs.json"

    def _opened(self, writer: Writer, source: str) -> list[LogLine]:
        """Open the writer's file if it must; a banner for a bot file that is new."""
        opened = writer.ensure_open()
        key = writer.identity
        assert key is not None
        if key not in self.model.files:
            self.model.register(key, str(writer.path), source)
        elif self.model.files[key].path != str(writer.path):
            raise HarnessError(f"the writer opened {writer.path}, which the model has "
                               f"at {self.model.files[key].path}")
        if opened and source == BOT and os.fstat(self.model.files[key].pin).st_size == 0:
            return [self.model.new_line("banner", BOT, self.step_no + 1, banner_line)]
        return []

    def write(self, writer: Writer, source: str, lines: list[LogLine]) -> None:
        """`lines` (made with `new_line`) in one write, after a banner if the file is new."""
        lines = self._opened(writer, source) + lines
        data = b"".join(line.data for line in lines)
        dev, inode, start, _ = writer.append(data)
        for line in lines:
            self.model.place(line, Location((dev, inode), start, start + len(line.data)))
            start += len(line.data)

    def new_line(self, kind: str, build: Callable[[int], bytes], source: str = BOT
                 ) -> LogLine:
        return self.model.new_line(kind, source, self.step_no + 1, build)

    async def write_bot(self, count: int) -> None:
        levels = self.rng.choices(["INFO", "WARNING", "ERROR"], [6, 3, 1], k=count)
        lines = [self.new_line("line", lambda n, lv=level: json_line(n, lv, "all fine"))
                 for level in levels]
        self.write(self.bot, BOT, lines)

    async def write_in_pieces(self, pauses: list[float]) -> str:
        """One line in len(pauses) + 1 writes, a pause after each. The first cut is inside
        its id, so no piece on its own names it: only the whole line can be delivered."""
        line = self.new_line("pieces", lambda n: json_line(n, "WARNING", "written in pieces"))
        head = self._opened(self.bot, BOT)
        if head:
            self.write(self.bot, BOT, head)
        mark = line.data.index(b"line #") + len(b"line #")
        cuts = [self.rng.randint(mark, line.data.index(b";", mark))]
        cuts += sorted(self.rng.sample(range(cuts[0] + 1, len(line.data)), len(pauses) - 1))
        pieces = [line.data[a:b] for a, b in zip([0, *cuts], [*cuts, len(line.data)],
                                                 strict=True)]
        where: list[tuple[int, int, int, int]] = []
        for piece, pause in zip(pieces, [*pauses, 0.0], strict=True):
            where.append(self.bot.append(piece))
            if pause:
                await asyncio.sleep(pause)
        (dev, inode, start, _), end = where[0], where[-1][3]
        if {w[:2] for w in where} != {(dev, inode)} or end - start != len(line.data):
            raise HarnessError(f"the pieces of line #{line.id} did not land together")
        self.model.place(line, Location((dev, inode), start, end))
        return f"line #{line.id} in {len(pieces)} writes, pauses {_seconds(pauses)}"

    # -- files

    def files_under(self, folder: Path) -> list[LogFile]:
        prefix = f"{folder}{os.sep}"
        return [f for f in self.model.files.values()
                if f.path is not None and (f.path.startswith(prefix) or f.path == str(folder))]

    async def shipped(self, files: list[LogFile]) -> list[LogLine]:
        """Before the test destroys `files`: wait (while logship runs) until their lines
        are delivered or spooled, as a host deletes logs long after they were shipped;
        the lines still not shipped when they are destroyed."""
        deadline = time.monotonic() + SHIP_WAIT
        while True:
            obs = self.invariant.observe()
            lines = [self.model.lines[i] for f in files for i in f.lines]
            unshipped = [line for line in lines
                         if self.invariant.state(line, obs, self.setup) not in (DELIVERED,
                                                                                SPOOLED)]
            waiting = [line for line in unshipped
                       if self.invariant.state(line, obs, self.setup) == PENDING]
            if not waiting or not self.running or time.monotonic() > deadline:
                return unshipped
            await asyncio.sleep(0.1)

    def destroyed(self, orphans: Iterable[LogLine], before: dict[int, str], how: str
                  ) -> int:
        """Lines that no longer exist anywhere: those not shipped, which logship had not
        been held to (pending, in a file it never knew or did not follow), are no longer
        owed. How many."""
        count = 0
        for line in orphans:
            state = before.get(line.id, DELIVERED)
            if state in (PENDING, UNSEEN, NOT_FOLLOWED):
                line.exempt = (f"{how} while {state} "
                               f"(logship {'running' if self.running else 'stopped'})")
                count += 1
        return count

    async def rotate(self, mode: str) -> str:
        folder = self.bot.path.parent
        live = self.bot.path
        conf = self.root / "logrotate.conf"
        directives = {"rename+create": ("create",), "rename+nocreate": ("nocreate",),
                      "copytruncate": ("copytruncate",),
                      "copytruncate+compress": ("copytruncate", "compress")}[mode]
        conf.write_text(f"{live} {{\n    rotate 1000\n    missingok\n    ifempty\n"
                        "    nomail\n" + "".join(f"    {d}\n" for d in directives) + "}\n")
        conf.chmod(0o644)
        known = {k: f for k, f in self.model.files.items() if f.path == str(live)}
        if not known:
            return f"{mode}: nothing to rotate"
        before = {k: dict(f.lines) for k, f in known.items()}
        obs = self.invariant.observe()  # what a copy is read on from: saved before it
        checkpoint = [o for f in known.values() for o in self.invariant.own_offsets(f, obs)]
        status, out = await logrotate(conf, self.root / "logrotate.status")
        if status:
            raise HarnessError(f"logrotate exited {status}: {out}")
        if self._after_rotation(folder, known, before, checkpoint, obs.checkpoints_inode):
            await self.noticed_truncation(next(iter(known)))
        return f"{mode} of {live.relative_to(self.root)}"

    def _after_rotation(self, folder: Path, live: dict[Key, LogFile],
                        before: dict[Key, dict[int, Location]], checkpoint: list[int],
                        checkpoints_inode: int | None) -> bool:
        """Bring the model up to date with what logrotate did in `folder`: renames keep
        inodes; new files are copies of the live file (or the new empty live file); a
        copytruncated live file lost its lines (they are in the copy now). Whether the
        live file was truncated."""
        (live_key, original), = live.items()
        on_disk = {k: p for k, p in self.model.scan().items()
                   if os.path.dirname(p) == str(folder)}
        for key, path in on_disk.items():
            if key in self.model.files:
                self.model.files[key].path = path
                continue
            made = self.model.register(key, path, BOT)
            content = read_content(path, made.pin)
            if content:
                self.model.copy(original, made, content, before[live_key], checkpoint)
        for known in self.files_under(folder):
            if known.key not in on_disk:
                self.model.destroy(known.key)  # never holds the last copy of a line
        if os.fstat(original.pin).st_size < max((w.end for w in before[live_key].values()),
                                              default=0):
            orphans = self.model.truncate(live_key, checkpoints_inode)
            if orphans:
                raise HarnessError(f"logrotate lost lines {[o.id for o in orphans]}")
            return True
        return False

    async def noticed_truncation(self, key: Key) -> None:
        """While logship runs, wait (up to `NOTICE_WAIT`) until it saved a checkpoint for
        the truncated file `key` that fits its new size: until then its entry for that
        inode may describe the old content, and lines written meanwhile could be judged
        by it. (Stopped, its entries are ignored until it writes them again.)"""
        file = self.model.files[key]
        deadline = time.monotonic() + NOTICE_WAIT
        while self.running and time.monotonic() < deadline:
            obs = self.invariant.observe()
            if not obs.entries.get(key) or not self.setup.follows(file.source):
                return  # no entry of the old content to misjudge by
            if (obs.checkpoints_inode != file.truncated_under
                    and all(o <= os.fstat(file.pin).st_size
                            for o in obs.entries.get(key, []))):
                return
            await asyncio.sleep(0.05)

    async def truncate(self, writer: Writer) -> str:
        """Truncate the file the writer's path names (the bot's live file: the writer
        may still hold a rotated one until its next write)."""
        if not writer.path.exists():  # rotated away (nocreate), not written to since
            return f"nothing to truncate: {writer.path.relative_to(self.root)} is not there"
        st = os.stat(writer.path)
        key = (st.st_dev, st.st_ino)
        file = self.model.files[key]
        unshipped = await self.shipped([file])
        obs = self.invariant.observe()
        before = {line.id: self.invariant.state(line, obs, self.setup) for line in unshipped}
        assert file.path is not None
        os.truncate(file.path, 0)
        orphans = self.model.truncate(key, obs.checkpoints_inode)
        exempt = self.destroyed(orphans, before, "truncated")
        await self.noticed_truncation(key)
        return (f"{Path(file.path).relative_to(self.root)} (inode {key[1]}) to 0"
                + (f"; {exempt} lines not shipped by then" if exempt else ""))

    async def delete_old_days(self) -> str:
        folders = sorted(p for p in (self.root / "logs").iterdir() if p.is_dir())
        old = folders[:-KEEP_DAYS]
        exempt = 0
        for folder in old:
            files = self.files_under(folder)
            unshipped = await self.shipped(files)
            obs = self.invariant.observe()
            before = {line.id: self.invariant.state(line, obs, self.setup)
                      for line in unshipped}
            shutil.rmtree(folder)
            for file in files:
                exempt += self.destroyed(self.model.destroy(file.key), before, "deleted")
        names = ", ".join(p.name for p in old)
        return f"rmtree {names}" + (f"; {exempt} lines not shipped by then" if exempt else "")

    # -- the webhooks

    def heal(self) -> str:
        assert self.fake is not None
        self.fake.configure(fail_rate=0.0, webhook_limit=None)
        for fault in sorted(self.faults):
            if fault.startswith("404:"):
                self.fake.add_webhook(WEBHOOKS[fault[4:]], TOKEN)
        healed = ", ".join(sorted(self.faults))
        self.faults.clear()
        return healed

    # -- the checks

    def _without_option(self) -> str:
        if self.script:
            return f" --script '{','.join(self.script)}'"
        left_out = sorted(step.name for step in STEPS if step not in self.steps)
        return f" --without '{','.join(left_out)}'" if left_out else ""

    def violation(self, what: str, lines: Iterable[LogLine] = (),
                  obs: Observation | None = None) -> Violation:
        """The report of a failure: seed, steps, the lines and logship's log."""
        parts = [f"chaos seed {self.seed}: {what} (after step {self.step_no})",
                 f"replay it: python -m bench.chaos --seed {self.seed} "
                 f"--steps {self.wanted}{self._without_option()} (same steps; the "
                 "daemon's timing varies)",
                 "steps:", *(f"  {s}" for s in self.result.steps)]
        lines = list(lines)
        if lines:
            obs = obs or self.invariant.observe()
            parts.append(f"lines ({len(lines)}):")
            parts += [f"  {self.invariant.explain(line, obs, self.setup)}"
                      for line in lines[:30]]
            if len(lines) > 30:
                parts.append(f"  ... and {len(lines) - 30} more")
        log = self.daemon.output() if self.daemon else ""
        parts.append(f"logship's log ({self.log}), last 150 lines:")
        parts += [f"  {line}" for line in log.splitlines()[-150:]]
        return Violation("\n".join(parts))

    async def check(self, *, final: bool = False) -> None:
        """The invariant now. A line found nowhere while logship runs gets `GRACE`
        seconds to turn up (a file logship has just read, a checkpoint it is about to
        write again after a truncation); found nowhere while it is stopped, it is looked
        at again once it runs. Duplicates need no grace: they never go away."""
        if self.expect_running and self.daemon is not None and not self.daemon.running:
            status = self.daemon.process.returncode if self.daemon.process else None
            raise self.violation(f"logship exited by itself with status {status}")
        obs = self.invariant.observe()
        self._check_duplicates(obs)
        lost = {line.id for line in self.invariant.lost(obs, self.setup)}
        candidates = lost | set(self.suspects)
        if not candidates:
            return
        if not self.running and not final:
            for line_id in lost:
                self.suspects.setdefault(line_id, self.step_no)
            return
        deadline = time.monotonic() + (GRACE if self.running else 0.0)
        while True:
            obs = self.invariant.observe()
            still = [self.model.lines[i] for i in sorted(candidates)
                     if self.invariant.state(self.model.lines[i], obs, self.setup) == NOWHERE
                     and not self.model.lines[i].exempt]
            if not still:
                self.suspects.clear()
                return
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        self.result.lost = [line.id for line in still]
        first = {line.id: self.suspects.get(line.id, self.step_no) for line in still}
        raise self.violation(f"{len(still)} lines LOST (first found nowhere after step "
                             f"{min(first.values())})", still, obs)

    def _check_duplicates(self, obs: Observation) -> None:
        duplicates = self.invariant.duplicates(obs)
        self.result.duplicates = sum(duplicates.values())
        over = {key: n for key, n in duplicates.items() if n > self.bound.get(key, 0)}
        if over:
            lines = [self.model.lines[i] for i, _ in sorted(over) if i in self.model.lines]
            detail = ", ".join(f"#{i} to {sink} {n + 1}x (allowed {self.bound.get((i, sink), 0)}"
                               " extra)" for (i, sink), n in sorted(over.items())[:20])
            raise self.violation(f"{sum(over.values())} duplicates beyond what the kills "
                                 f"allow: {detail}", lines, obs)

    # -- the end

    async def _finish(self) -> None:
        """Heal, restart with everything followed, let it deliver or spool every line,
        stop it: nothing may be left pending. Then a replay must empty the spool."""
        healed = self.heal()
        self.setup = Setup(worker_source=True, second_sink=True,
                           second_route=self.setup.second_route)
        self.save_config()
        if self.running:
            await self.stop()
        await self.start(wait=True)
        self.note_step(f"final: webhooks healed ({healed or 'none broken'}), logship "
                       f"restarted with {self.setup.describe()}")
        await self.check()
        began = moved = time.monotonic()
        last: object = None
        while time.monotonic() < min(began + FINAL_WAIT, moved + QUIET):
            obs = self.invariant.observe()
            if all(self.invariant.state(line, obs, self.setup) != PENDING
                   for line in self.model.complete() if not line.exempt):
                break
            now = (obs.entries, obs.spooled, obs.delivered)
            if now != last:
                last, moved = now, time.monotonic()
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # late duplicates get their chance
        outcome = await self.stop()
        self.note_step(f"final: SIGTERM ({outcome})")
        obs = self.invariant.observe()
        left = [line for line in self.model.complete()
                if not line.exempt and self.invariant.state(line, obs, self.setup) == PENDING]
        if left:
            self.result.lost = [line.id for line in left]
            raise self.violation(f"{len(left)} lines LOST: still only pending when the "
                                 "final healthy run had nothing more to do (logship never "
                                 "read them)", left, obs)
        await self.check(final=True)
        summary = await self.replay()
        self.note_step(f"final: logship replay with healthy webhooks: {summary}")
        obs = self.invariant.observe()
        if obs.spooled:
            ids = sorted({i for i, _ in obs.spooled})
            raise self.violation(f"the final replay left {sum(obs.spooled.values())} records "
                                 "in the spool", [self.model.lines[i] for i in ids
                                                  if i in self.model.lines], obs)
        await self.check(final=True)
        unseen = [line for line in self.model.complete() if not line.exempt
                  and self.invariant.state(line, obs, self.setup) != DELIVERED]
        for line in unseen:
            line.exempt = self.invariant.state(line, obs, self.setup)


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class Step:
    """A thing a host does: `run` does it and says what it did."""

    name: str
    weight: float
    run: Callable[[Runner], Awaitable[str]]
    when: Callable[[Runner], bool] = lambda r: True


def _seconds(values: Iterable[float]) -> str:
    return ", ".join(f"{v:.2f} s" for v in values)


async def write_lines(r: Runner) -> str:
    count = r.rng.randint(1, 30)
    first = r.model.next_id
    await r.write_bot(count)
    return f"{count} lines from #{first} to {r.bot.path.relative_to(r.root)}"


async def write_pieces(r: Runner) -> str:
    pauses = [round(r.rng.uniform(IDLE_FLUSH + 0.1, 0.7), 2)
              for _ in range(r.rng.randint(1, 2))]
    return await r.write_in_pieces(pauses)


async def write_long(r: Runner) -> str:
    lines = [r.new_line("long", long_line(r.rng)) for _ in range(r.rng.randint(1, 3))]
    r.write(r.bot, BOT, lines)
    return ", ".join(f"#{line.id} ({len(line.data)} bytes)" for line in lines)


async def write_traceback(r: Runner) -> str:
    lines = [r.new_line("traceback", traceback_lines) for _ in range(r.rng.randint(1, 2))]
    r.write(r.bot, BOT, lines)
    return ", ".join(f"#{line.id}" for line in lines)


async def write_worker(r: Runner) -> str:
    lines = [r.new_line("worker", worker_line, WORKER) for _ in range(r.rng.randint(1, 10))]
    r.write(r.worker, WORKER, lines)
    return f"{len(lines)} text lines from #{lines[0].id} to worker/worker.log"


async def rotate(r: Runner) -> str:
    modes = ["rename+create", "rename+nocreate", "copytruncate"]
    if not (r.bot.path.parent / "logs.json.1").exists():  # compress would copy onto it
        modes.append("copytruncate+compress")
    return await r.rotate(r.rng.choice(modes))


async def new_day(r: Runner) -> str:
    r.day += 1
    r.bot.path = r._day_file(r.day)
    await r.write_bot(r.rng.randint(1, 5))
    return f"the bot writes to {r.bot.path.relative_to(r.root)} (banner first)"


async def delete_old_days(r: Runner) -> str:
    return await r.delete_old_days()


async def truncate(r: Runner) -> str:
    worker = r.worker.identity is not None and r.rng.random() < 0.3
    return await r.truncate(r.worker if worker else r.bot)


def _restart_how(r: Runner) -> bool:
    """Most restarts wait until logship is running; some go on while it starts."""
    return r.rng.random() < 0.7


async def kill_restart(r: Runner) -> str:
    pause = round(r.rng.uniform(0.0, 0.5), 2)
    wait = _restart_how(r)
    await r.kill()
    await asyncio.sleep(pause)
    await r.start(wait=wait)
    return f"kill -9, start again {pause:.2f} s later" + ("" if wait else ", no wait")


async def term_restart(r: Runner) -> str:
    wait = _restart_how(r)
    outcome = await r.stop()
    await r.start(wait=wait)
    return f"SIGTERM ({outcome}), start again" + ("" if wait else ", no wait")


async def stop(r: Runner) -> str:
    if r.rng.random() < 0.5:
        await r.kill()
        how = "kill -9"
    else:
        how = f"SIGTERM ({await r.stop()})"
    return f"{how}; logship stays stopped"


async def start(r: Runner) -> str:
    wait = _restart_how(r)
    await r.start(wait=wait)
    return "start logship" + ("" if wait else ", no wait")


async def reload(r: Runner) -> str:
    choices = ["worker source", "second sink"] + (["second route"] if r.setup.second_sink
                                                  else [])
    change = r.rng.choice(choices)
    if change == "worker source":
        r.setup.worker_source = not r.setup.worker_source
    elif change == "second sink":
        r.setup.second_sink = not r.setup.second_sink
    else:
        r.setup.second_route = r.rng.choice([n for n in ROUTES if n != r.setup.second_route])
    await r.reload()
    return f"{change} changed, SIGHUP: now {r.setup.describe()}"


async def break_5xx(r: Runner) -> str:
    assert r.fake is not None
    rate = r.rng.choice([1.0, 0.6])
    r.fake.configure(fail_rate=rate)
    r.faults.add("5xx")
    return f"the emulator fails {rate:.0%} of requests with 5xx"


async def break_429(r: Runner) -> str:
    assert r.fake is not None
    window = round(r.rng.uniform(0.5, 1.5), 2)
    retry_after = [round(r.rng.uniform(0.1, 1.0), 2) for _ in range(r.rng.randint(1, 4))]
    r.fake.configure(webhook_limit=1, webhook_window=window)
    r.fake.script(*({"status": 429, "body": {"message": "You are being rate limited.",
                                             "retry_after": s, "global": False}}
                    for s in retry_after))
    r.faults.add("429")
    return (f"1 request per {window} s per webhook, and 429s with retry_after "
            f"{_seconds(retry_after)}")


async def break_404(r: Runner) -> str:
    assert r.fake is not None
    sink = r.rng.choice([MAIN, SECOND])
    r.fake.delete_webhook(WEBHOOKS[sink])
    r.faults.add(f"404:{sink}")
    return f"the {sink} webhook is deleted (404, 10015)"


async def heal(r: Runner) -> str:
    return f"healed {r.heal()}"


async def replay(r: Runner) -> str:
    faults = ", ".join(sorted(r.faults)) or "healthy webhooks"
    return f"({faults}) {await r.replay()}"


async def pause(r: Runner) -> str:
    seconds = round(r.rng.uniform(0.2, 1.5), 2)
    await asyncio.sleep(seconds)
    return f"{seconds:.2f} s"


def _has_old_days(r: Runner) -> bool:
    return sum(1 for p in (r.root / "logs").iterdir() if p.is_dir()) > KEEP_DAYS


STEPS = [
    Step("write", 10, write_lines),
    Step("write in pieces", 2, write_pieces),
    Step("write long lines", 1.5, write_long),
    Step("write a traceback", 1.5, write_traceback),
    Step("write the worker's log", 2, write_worker),
    Step("logrotate", 3, rotate),
    Step("new day", 1.5, new_day),
    Step("delete old days", 1, delete_old_days, _has_old_days),
    Step("truncate", 1, truncate),
    Step("kill -9 and restart", 2, kill_restart, lambda r: r.running),
    Step("SIGTERM and restart", 1, term_restart, lambda r: r.running),
    Step("stop", 1, stop, lambda r: r.running),
    Step("start", 4, start, lambda r: not r.running),
    Step("reload", 1.5, reload, lambda r: r.running),
    Step("5xx", 1, break_5xx, lambda r: "5xx" not in r.faults),
    Step("429", 1, break_429, lambda r: "429" not in r.faults),
    Step("404", 0.7, break_404, lambda r: not any(f.startswith("404") for f in r.faults)),
    Step("heal", 1.5, heal, lambda r: bool(r.faults)),
    Step("replay", 1, replay),
    Step("pause", 2, pause),
]


# --------------------------------------------------------------------------- main


async def run_one(seed: int, steps: int, *, keep: Path | None = None,
                  echo: Callable[[str], None] | None = None,
                  without: frozenset[str] = frozenset(), script: list[str] | None = None
                  ) -> RunResult:
    """One seeded run in a temporary folder (or in `keep`, left in place)."""
    options = {"echo": echo, "without": without, "script": script}
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return await Runner(keep, seed, steps, **options).run()  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="logship-chaos-") as tmp:
        return await Runner(Path(tmp), seed, steps, **options).run()  # type: ignore[arg-type]


def summary(results: list[RunResult]) -> list[str]:
    failed = [r for r in results if not r.ok]
    lost = sum(len(r.lost) for r in results)
    return [f"runs {len(results)}, steps {sum(len(r.steps) for r in results)}, "
            f"lines {sum(r.lines for r in results)}, lost {lost}, duplicates "
            f"{sum(r.duplicates for r in results)} (bound {sum(r.bound for r in results)}), "
            f"not owed {sum(sum(r.exempt.values()) for r in results)}",
            f"failed seeds: {', '.join(str(r.seed) for r in failed) or 'none'}"]


async def chaos(minutes: float, steps: int, seed: int | None, verbose: bool,
                print_: Callable[[str], None] = print, keep: Path | None = None,
                without: frozenset[str] = frozenset(), script: list[str] | None = None
                ) -> list[RunResult]:
    """Runs one after another (new seeds) until `minutes` passed; one line per run, the
    report of each failure, a summary."""
    deadline = time.monotonic() + minutes * 60
    results: list[RunResult] = []
    seeds = random.Random(seed)
    while True:
        this = seed if seed is not None and not results else seeds.randrange(1 << 31)
        result = await run_one(this, steps, echo=print_ if verbose else None,
                               keep=keep / str(this) if keep else None, without=without,
                               script=script)
        results.append(result)
        print_(result.row())
        if result.violation:
            print_(result.violation)
        for note in result.notes:
            print_(f"  note: {note}")
        for why, count in sorted(result.exempt.items()):
            print_(f"  not owed: {count} lines {why}")
        if time.monotonic() >= deadline:
            break
    for line in summary(results):
        print_(line)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="keep starting new runs until this many minutes passed "
                             "(default: one run)")
    parser.add_argument("--seed", type=int, help="the first run's seed (default: random)")
    parser.add_argument("--steps", type=int, default=60, help="steps per run (default 60)")
    parser.add_argument("--verbose", action="store_true", help="print each step as it runs")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR/SEED and leave the files there (diagnosis)")
    parser.add_argument("--without", default="", metavar="NAMES",
                        help="leave out these steps (comma-separated names: "
                             f"{', '.join(step.name for step in STEPS)})")
    parser.add_argument("--script", default="", metavar="NAMES",
                        help="take these steps in this order instead of random ones "
                             "(comma-separated names; their details still come from the seed)")
    args = parser.parse_args()
    without = frozenset(name.strip() for name in args.without.split(",") if name.strip())
    script = [name.strip() for name in args.script.split(",") if name.strip()]
    if unknown := (without | set(script)) - {step.name for step in STEPS}:
        parser.error(f"no step named {', '.join(sorted(unknown))}")
    if not Path(LOGROTATE).exists():
        parser.error(f"logrotate is needed ({LOGROTATE})")
    # SIGTERM as Ctrl-C: the run ends through its `finally`, which kills its logship
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    results = asyncio.run(chaos(args.minutes, args.steps, args.seed, args.verbose,
                                lambda text: print(text, flush=True), args.keep,
                                without, script or None))
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
