"""Rotation and crash torture: does logship lose or repeat lines? `python -m bench.torture`.

Each scenario runs the real daemon (`python -m logship run`) against the Discord emulator
on 127.0.0.1 while a writer appends JSON lines with unique ids (`line #N`), and then
counts, per id, how often it reached the emulator (or logship's spool):

- rotation with the real `logrotate` binary: rename+create, copytruncate with and
  without `delaycompress`, and copytruncate followed through `logs.log*`;
- the bot's own scheme: a new `logs/YYYY-MM-DD/` folder each day, the old one deleted;
- truncation in place (and truncation followed at once by more bytes than were there);
- SIGKILL at random moments while the emulator fails 20% of requests.

How the figures are counted:

- *lost*: ids that were in a file logship follows (or in a rotated copy of it: every file
  under the log folder at the end, `.gz` included, plus the content of folders and files
  just before the scenario deleted them) but were never delivered nor spooled. Must be 0.
- *in no file*: ids written but found in no file at the end: with copytruncate these are
  lines written between logrotate's copy and its truncate, which logrotate itself loses
  (documented logrotate behaviour); they count as lost only when they were nowhere else.
- *duplicated*: extra copies (an id delivered or spooled n times counts n - 1).

The scenario runners live here (the tests in tests/test_rotation.py and tests/test_crash.py
import them), so the benchmark does not depend on the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import tomli_w

from logship.emulator.server import FakeDiscord, Received
from logship.spool.store import segments

REPO = Path(__file__).resolve().parent.parent
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
SINK = "all"
WEBHOOK_ID = "300000000000000001"
TOKEN = "torture-token"
WAIT = 10.0  # seconds to wait for the last lines: only ever reached when lines are missing
ID = re.compile(r'line #(\d+)(?!["\d])')  # as logship shows a parsed line's message
GARBLED = re.compile(r'line #(\d+)"')  # the raw text of a partial line logship could not parse
ID_BYTES = re.compile(rb"line #(\d+)")


# --------------------------------------------------------------------------- pieces


class Collector:
    """The emulator's `on_message`: counts each delivered id, wakes whoever waits.

    By default an id is a `line #N` in an embed's title or description. `ids_of` counts
    other keys instead: whatever it returns for each accepted message (the chaos test
    counts (id, webhook) pairs found anywhere in a message, attachments included)."""

    def __init__(self, ids_of: Callable[[Received], Iterable[Hashable]] | None = None
                 ) -> None:
        self.counts: Counter[Hashable] = Counter()
        self.garbled: Counter[int] = Counter()  # ids seen only inside a cut, unparsed line
        self.requests = 0
        self.last = time.monotonic()
        self._changed = asyncio.Event()
        self._ids_of = ids_of

    def __call__(self, received: Received) -> None:
        if self._ids_of is not None:
            self.counts.update(self._ids_of(received))
        else:
            self._count_embeds(received)
        self.requests += 1
        self.last = time.monotonic()
        self._changed.set()

    def _count_embeds(self, received: Received) -> None:
        for embed in received.payload.get("embeds", []):
            # One event's embed names it in its title; a digest (a backlog sent in shared
            # embeds) lists one event per line of its description.
            text = f"{embed.get('title', '')}\n{embed.get('description', '')}"
            self.counts.update(int(n) for n in ID.findall(text))
            self.garbled.update(int(n) for n in GARBLED.findall(text))

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        """Wait until `predicate()` holds; False if it still does not after `timeout`."""
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_all(self, expected: set[int], timeout: float = WAIT,
                       quiet: float = 3.0) -> bool:
        """Wait until every id of `expected` arrived; False once `timeout` passed or nothing
        arrived for `quiet` s while some are still missing (they are not coming)."""
        began = time.monotonic()
        while not expected.issubset(self.counts):
            now = time.monotonic()
            if now - began > timeout or now - max(self.last, began) > quiet:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.1)
        return True

    async def settle(self, quiet: float = 0.5, timeout: float = 5.0) -> None:
        """Wait until nothing arrived for `quiet` s (late duplicates get their chance)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self.last < quiet:
            await asyncio.sleep(0.05)


class Writer:
    """Appends `{"level": "INFO", "message": "line #N"}` lines, ids counting from 1.

    `reopen=True` behaves like Python's WatchedFileHandler: before each write it checks
    that its path still names the file it has open, and reopens it if not (rename+create
    rotation, a new day's file). `reopen=False` keeps one O_APPEND descriptor for good,
    the kind of writer copytruncate exists for: after a truncation its writes land at the
    new end of the file.
    """

    def __init__(self, path: Path, *, reopen: bool = True) -> None:
        self.path = path
        self.reopen = reopen
        self.next_id = 1
        self.ends: dict[int, int] = {}  # id -> offset just past its line, in its file
        self._fd = -1
        self._opened: tuple[Path, int, int] | None = None  # path, device, inode

    @property
    def written(self) -> int:
        return self.next_id - 1

    def ids(self) -> set[int]:
        return set(range(1, self.next_id))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> None:
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                           0o644)
        st = os.fstat(self._fd)
        self._opened = (self.path, st.st_dev, st.st_ino)

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file open now, if one is."""
        return self._opened[1:] if self._opened is not None else None

    def ensure_open(self) -> bool:
        """Open the file `path` names now if the one open is not it; True if it did."""
        if not self._stale():
            return False
        self._open()
        return True

    def append(self, data: bytes) -> tuple[int, int, int, int]:
        """Append `data` with one write: (device, inode, start, end) of where it went."""
        self.ensure_open()
        assert self._opened is not None
        os.write(self._fd, data)
        end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: the end of what we wrote
        return self._opened[1], self._opened[2], end - len(data), end

    def _stale(self) -> bool:
        if self._fd < 0 or self._opened is None or self._opened[0] != self.path:
            return True
        if not self.reopen:
            return False
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._opened[1:]

    def write(self, count: int = 1) -> None:
        """Append `count` lines with one write (whole lines, never a torn one)."""
        if count <= 0:
            return
        lines = []
        for n in range(self.next_id, self.next_id + count):
            lines.append(b'{"timestamp":"2025-07-16T12:00:00+00:00","level":"INFO",'
                         b'"message":"line #%d"}\n' % n)
        _, _, start, _ = self.append(b"".join(lines))
        for n, line in zip(range(self.next_id, self.next_id + count), lines, strict=True):
            start += len(line)
            self.ends[n] = start
        self.next_id += count

    async def write_for(self, seconds: float, rate: float) -> None:
        """Write `rate` lines a second for `seconds`, in small steps."""
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await self.write_until(stop, rate)

    async def write_until(self, stop: asyncio.Event, rate: float, step: float = 0.01) -> None:
        began, done = time.monotonic(), 0
        while not stop.is_set():
            due = int((time.monotonic() - began) * rate) - done
            self.write(due)
            done += max(due, 0)
            await asyncio.sleep(step)


class Daemon:
    """`python -m logship run --config CONFIG`, its stderr appended to `log`."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Daemon:
        with self.log.open("ab") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "logship", "run", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=err, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_logged(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.running:
                raise RuntimeError(f"logship exited before logging {text!r}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"logship did not log {text!r}:\n{self.output()}")
            await asyncio.sleep(0.02)

    def reload(self) -> None:
        """SIGHUP: logship reads its config file again."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGHUP)

    async def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    async def stop(self, timeout: float = WAIT) -> int:
        """SIGTERM (drain, spool, checkpoint); the exit status (-9 if it had to be killed)."""
        assert self.process is not None
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            return -9


def sink_table(fake: FakeDiscord, webhook_id: str = WEBHOOK_ID, **options: object
               ) -> dict[str, object]:
    """A Discord sink on the emulator with generous budgets (the tailer is measured, not
    the rate limiter) and short retries; `options` override."""
    return {"url": fake.webhook_url(webhook_id=webhook_id, token=TOKEN),
            "username": "torture", "webhook_requests": 1000, "webhook_window": 1.0,
            "channel_messages": 100_000, "channel_window": 1.0, "retry_base": 0.05,
            "retry_cap": 0.5, **options}


def save_config(root: Path, config: dict[str, object]) -> Path:
    """Write `config` as `root/config.toml` (private: it holds webhook URLs)."""
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


def write_config(root: Path, fake: FakeDiscord, paths: Iterable[Path | str], *,
                 exclude: Iterable[str] = (), sink: dict[str, object] | None = None,
                 **daemon: object) -> Path:
    """One source (JSON lines, from the beginning), one sink, one route taking every line.
    `sink` overrides sink options."""
    return save_config(root, {
        "daemon": {"state_dir": str(root / "state"), "drain_timeout": 5.0,
                   "checkpoint_interval": 0.2, **daemon},
        "sources": [{"name": "bot", "paths": [str(p) for p in paths], "exclude": list(exclude),
                     "format": "json", "start_at": "beginning"}],
        "sinks": {SINK: sink_table(fake, **(sink or {}))},
        "routes": [{"name": "all", "min_level": "debug", "sinks": [SINK]}],
    })


def emulator(collector: Collector, fail_rate: float = 0.0, seed: int | None = None
             ) -> FakeDiscord:
    """The emulator on 127.0.0.1 without rate limits (they are not what is measured)."""
    return FakeDiscord(host="127.0.0.1", port=0, on_message=collector, fail_rate=fail_rate,
                       webhook_limit=None, channel_limit=None, seed=seed)


def ids_in(data: bytes) -> set[int]:
    return {int(n) for n in ID_BYTES.findall(data)}


def ids_in_files(folder: Path) -> set[int]:
    """Every id in every file under `folder` (`.gz` files decompressed)."""
    found: set[int] = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):  # logrotate is still writing it: read what is there
                continue
        found |= ids_in(data)
    return found


def spooled(spool_dir: Path) -> Counter[int]:
    """Ids in the spool (a torn last line after a SIGKILL is skipped, as logship does)."""
    counts: Counter[int] = Counter()
    for path in segments(spool_dir):
        for line in path.read_bytes().splitlines():
            try:
                message = orjson.loads(line)["event"]["message"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            found = ID.search(str(message))
            if found:
                counts[int(found.group(1))] += 1
    return counts


def open_files(pid: int) -> list[str]:
    """Where the descriptors of process `pid` point (files only)."""
    targets = []
    folder = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(folder):
            with contextlib.suppress(OSError):
                targets.append(os.readlink(folder / fd))
    return [t for t in targets if t.startswith("/")]


def held_under(pid: int, folder: Path) -> list[str]:
    """The files under `folder` that process `pid` holds open."""
    return sorted(t for t in open_files(pid) if t.startswith(f"{folder}{os.sep}"))


def deleted_held(pid: int, under: Path) -> list[str]:
    return [t for t in held_under(pid, under) if t.endswith(" (deleted)")]


async def released(pid: int, under: Path, timeout: float = 3.0) -> list[str]:
    """Wait (up to `timeout`) until `pid` holds no deleted file under `under`; what it
    still holds then."""
    deadline = time.monotonic() + timeout
    while (held := deleted_held(pid, under)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return held


async def logrotate(conf: Path, state: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        LOGROTATE, "-f", "-s", str(state), str(conf),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace").strip()


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """What one scenario measured."""

    mode: str
    written: int = 0
    on_disk: int = 0  # distinct ids found in files (incl. rotated copies and snapshots)
    delivered: int = 0  # distinct ids delivered or spooled
    lost: int = 0  # in a file, never delivered nor spooled
    duplicated: int = 0  # extra copies delivered or spooled
    in_no_file: int = 0  # written, but in no file at the end (logrotate's own loss)
    spooled: int = 0
    kills: int | None = None
    dup_bound: int | None = None  # crash: delivered-but-not-checkpointed at each kill
    held_deleted: list[str] = field(default_factory=list)
    exit_status: int | None = None
    lost_ids: list[int] = field(default_factory=list)
    duplicated_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log: str = ""  # logship's own stderr, for diagnosis

    def figure(self) -> str:
        text = (f"{self.mode}: written {self.written}, lost {self.lost}, "
                f"duplicated {self.duplicated}")
        if self.in_no_file:
            text += f", in no file (logrotate's own loss) {self.in_no_file}"
        if self.kills is not None:
            text += (f", kills {self.kills}, spooled {self.spooled}, "
                     f"duplicate bound {self.dup_bound}")
        return text

    def explain(self) -> str:
        """Everything a failing test should show."""
        parts = [self.figure()]
        if self.lost_ids:
            parts.append(f"lost ids: {_runs(self.lost_ids)}")
        if self.duplicated_ids:
            parts.append(f"duplicated ids: {_runs(self.duplicated_ids)}")
        if self.held_deleted:
            parts.append(f"deleted files still held open: {self.held_deleted}")
        parts += self.notes
        parts.append(f"exit status {self.exit_status}; logship's log (last 60 lines):")
        parts += self.log.splitlines()[-60:]
        return "\n".join(parts)


def _runs(ids: list[int]) -> str:
    """Sorted ids as runs, so a report says "#301-#350 (50)" rather than 50 numbers."""
    runs: list[tuple[int, int]] = []
    for n in ids:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    text = ", ".join(f"#{a}-#{b} ({b - a + 1})" if a != b else f"#{a}" for a, b in runs[:20])
    return text + (", ..." if len(runs) > 20 else "")


def account(result: Result, written: set[int], on_disk: set[int], got: Counter[int],
            garbled: Counter[int] | None = None) -> Result:
    """Fill in the figures from what was written, found on disk, and delivered/spooled
    (`garbled`: ids that reached the emulator only inside an unparsed piece of a line)."""
    result.written = len(written)
    result.on_disk = len(on_disk)
    result.delivered = len(got)
    lost = sorted(on_disk - set(got))
    result.lost, result.lost_ids = len(lost), lost
    result.in_no_file = len(written - on_disk)
    dup = sorted(n for n, c in got.items() if c > 1)
    result.duplicated = sum(got[n] - 1 for n in dup)
    result.duplicated_ids = dup
    mangled = sorted(set(garbled or ()) & set(lost))
    if mangled:
        result.notes.append(f"{len(mangled)} lost ids arrived only as a piece of a line that "
                            f"logship read from its middle (a parse-error event): {mangled[:20]}")
    return result


@dataclass(frozen=True)
class Scale:
    """How hard: lines per second, seconds between rotations, number of rotations."""

    rate: float = 300.0
    interval: float = 0.8
    rounds: int = 4


QUICK = Scale()
FULL = Scale(rate=500.0, interval=1.0, rounds=10)


# --------------------------------------------------------------------------- rotation


@dataclass(frozen=True)
class Rotation:
    directives: tuple[str, ...]
    reopen: bool  # the writer reopens by path (create) or keeps its descriptor (copytruncate)
    glob: str = "logs.log"  # what the source follows, in the log folder
    exclude: tuple[str, ...] = ()


async def wind_down(daemon: Daemon, result: Result, collector: Collector, writer: Writer,
                    writing: asyncio.Task[None], stop: asyncio.Event, root: Path, logs: Path,
                    *, gone: frozenset[int] | set[int] = frozenset()) -> set[int]:
    """Stop the writer, wait until logship delivered every id still on disk (and `gone`:
    those of files already deleted), check it holds no deleted file, stop it; the ids
    that were on disk."""
    stop.set()
    await writing
    writer.close()
    on_disk = ids_in_files(logs) | gone
    await collector.wait_all(on_disk)
    await collector.settle()
    result.held_deleted = await released(daemon.pid, root)
    result.notes.append(f"log files held open at the end: {held_under(daemon.pid, logs)}")
    result.exit_status = await daemon.stop()
    return on_disk


def received(root: Path, result: Result, collector: Collector) -> Counter[int]:
    """Each id's count at the emulator plus in the spool (noted in `result`)."""
    in_spool = spooled(root / "state" / "spool")
    result.spooled = sum(in_spool.values())
    return collector.counts + in_spool


ROTATIONS = {
    # rename, create a new file; the writer reopens; the rotated file is gzipped at once
    # (and so deleted): logship must read it to its end through its open descriptor.
    "rename+create": Rotation(("create", "compress"), reopen=True),
    # copy, then truncate in place; the copy is gzipped at once.
    "copytruncate": Rotation(("copytruncate", "compress"), reopen=False),
    # copy, then truncate; the copy stays plain until the next rotation.
    "copytruncate+delaycompress": Rotation(("copytruncate", "compress", "delaycompress"),
                                           reopen=False),
    # the same, with the source following the copies too (`logs.log*`, not `*.gz`).
    "copytruncate+delaycompress logs.log*": Rotation(
        ("copytruncate", "compress", "delaycompress"), reopen=False, glob="logs.log*",
        exclude=("*.gz",)),
}


async def run_rotation(mode: str, root: Path, scale: Scale = QUICK) -> Result:
    """Write at `scale.rate` while `logrotate -f` rotates `scale.rounds` times."""
    rotation = ROTATIONS[mode]
    logs = root / "logs"
    logs.mkdir(parents=True)
    live = logs / "logs.log"
    live.touch()
    conf = root / "logrotate.conf"
    conf.write_text(f"{live} {{\n    rotate 1000\n    missingok\n    ifempty\n    nomail\n"
                    + "".join(f"    {d}\n" for d in rotation.directives) + "}\n")
    conf.chmod(0o644)
    result = Result(mode)
    collector = Collector()
    writer = Writer(live, reopen=rotation.reopen)
    async with emulator(collector) as fake:
        config = write_config(root, fake, [logs / rotation.glob], exclude=rotation.exclude)
        daemon = await Daemon(config, root / "logship.log").start()
        stop = asyncio.Event()
        writing: asyncio.Task[None] | None = None
        try:
            await daemon.wait_logged("running:")
            writing = asyncio.create_task(writer.write_until(stop, scale.rate))
            for _ in range(scale.rounds):
                await asyncio.sleep(scale.interval)
                status, out = await logrotate(conf, root / "logrotate.status")
                if status or out:
                    result.notes.append(f"logrotate exit {status}: {out}")
            await asyncio.sleep(scale.interval)
            on_disk = await wind_down(daemon, result, collector, writer, writing, stop,
                                      root, logs)
        finally:
            stop.set()
            if writing is not None:
                await writing
            await daemon.kill()
        result.log = daemon.output()
    rotated = sorted(p.name for p in logs.iterdir() if p.name != live.name)
    result.notes.append(f"files after {scale.rounds} rotations: {len(rotated)} rotated "
                        f"({', '.join(rotated[:3])}{', ...' if len(rotated) > 3 else ''})")
    got = received(root, result, collector)
    nowhere = writer.ids() - on_disk
    if nowhere:
        result.notes.append(f"{len(nowhere)} lines were in no file at the end (written between "
                            f"logrotate's copy and its truncate); logship had read and "
                            f"delivered {len(nowhere & set(got))} of them before the truncate")
    return account(result, writer.ids(), on_disk, got,
                   collector.garbled)


# --------------------------------------------------------------------------- the bot's days


async def run_daily(root: Path, scale: Scale = QUICK) -> Result:
    """`logs/YYYY-MM-DD/logs.json`: each "day" the writer moves to a new folder, and a
    moment later the old folder is deleted (shutil.rmtree) while logship may still be
    reading it."""
    logs = root / "logs"
    days = [f"2025-07-{16 + n:02d}" for n in range(scale.rounds + 1)]
    result = Result("daily folders")
    collector = Collector()
    writer = Writer(logs / days[0] / "logs.json")
    writer.write()  # the first day's file exists before logship starts
    on_disk: set[int] = set()
    async with emulator(collector) as fake:
        config = write_config(root, fake, [logs / "*" / "logs.json"])
        daemon = await Daemon(config, root / "logship.log").start()
        stop = asyncio.Event()
        writing: asyncio.Task[None] | None = None
        try:
            await daemon.wait_logged("running:")
            writing = asyncio.create_task(writer.write_until(stop, scale.rate))
            for yesterday, today in itertools.pairwise(days):
                await asyncio.sleep(scale.interval)
                writer.path = logs / today / "logs.json"  # midnight: the next write goes here
                await asyncio.sleep(min(0.3, scale.interval / 2))
                old = logs / yesterday
                on_disk |= ids_in_files(old)  # what it held, just before it goes
                shutil.rmtree(old)
            await asyncio.sleep(scale.interval)
            on_disk = await wind_down(daemon, result, collector, writer, writing, stop,
                                      root, logs, gone=on_disk)
        finally:
            stop.set()
            if writing is not None:
                await writing
            await daemon.kill()
        result.log = daemon.output()
    got = received(root, result, collector)
    return account(result, writer.ids(), on_disk, got,
                   collector.garbled)


# --------------------------------------------------------------------------- truncation


async def run_truncate(root: Path, scale: Scale = QUICK, *, refill: bool = False) -> Result:
    """Truncation in place (`os.truncate(path, 0)`) of a file a writer keeps open with
    O_APPEND. Before each truncation the test waits until logship delivered every line
    so far, so nothing is destroyed unread and every line written counts.

    `refill=False`: the writer goes on at its pace, so the file is shorter than before
    when logship looks. `refill=True`: at once, before logship can look, the writer puts
    more bytes in the file than it held before the truncation (a size check alone cannot
    see that truncation; the head of the file changed)."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    live = logs / "logs.log"
    mode = "truncate+refill" if refill else "truncate"
    result = Result(mode)
    collector = Collector()
    writer = Writer(live, reopen=False)
    writer.write()
    async with emulator(collector) as fake:
        config = write_config(root, fake, [live])
        daemon = await Daemon(config, root / "logship.log").start()
        try:
            await daemon.wait_logged("running:")
            failed = False
            first_in_file = 1  # the id of the first line the file now holds
            for round_ in range(1, scale.rounds + 1):
                await writer.write_for(scale.interval, scale.rate)
                everything = writer.ids()
                if not await collector.wait_all(everything):
                    failed = True
                    missing = len(everything - collector.counts.keys())
                    result.notes.append(f"round {round_}: {missing} lines written since "
                                        "the start were not delivered; no more rounds")
                    break
                held = writer.next_id - first_in_file
                os.truncate(live, 0)
                first_in_file = writer.next_id
                if refill:
                    writer.write(held + 50)  # more bytes than the file held, at once
                result.notes.append(f"round {round_}: truncated after line "
                                    f"#{first_in_file - 1} (the file held {held} lines)")
            if not failed:
                await writer.write_for(scale.interval, scale.rate)
                await collector.wait_all(writer.ids())
            writer.close()
            await collector.settle()
            result.exit_status = await daemon.stop()
        finally:
            await daemon.kill()
        result.log = daemon.output()
    got = received(root, result, collector)
    return account(result, writer.ids(), writer.ids(), got, collector.garbled)


# --------------------------------------------------------------------------- crash


async def run_crash(root: Path, *, kills: int = 6, rate: float = 200.0,
                    seed: int | None = None, fail_rate: float = 0.2,
                    max_attempts: int = 2) -> Result:
    """SIGKILL `logship run` at random moments while lines are written and the emulator
    fails `fail_rate` of requests; restart it each time; at the end a graceful SIGTERM.
    A batch that fails `max_attempts` times in a row goes to the spool, so both ways an
    event can be done are exercised.

    Every id must be delivered or spooled. Duplicates are expected only for events that
    were delivered (or spooled) but not yet covered by the checkpoint on disk when the
    process died. After each kill (once the requests it had in flight were answered)
    this counts the ids that run delivered or spooled whose line ends past the offset
    saved in checkpoints.json: the restart reads them again; and the ids it delivered
    from the spool that are still in it (the drain notes its progress per chunk, so
    the restart drains them again). The sum over the kills is
    `dup_bound`. (An id delivered in an earlier run and still past the checkpoint was
    counted at that run's kill: re-reading it again without delivering it in between
    adds no copy.) The checkpoint only moves forward in this scenario (no truncation),
    which is what makes the sum a bound."""
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    logs = root / "logs"
    live = logs / "logs.log"
    spool_dir = root / "state" / "spool"
    result = Result("crash (SIGKILL)", kills=0, dup_bound=0)
    result.notes.append(f"seed {seed}, fail rate {fail_rate:.0%}, "
                        f"spooled after {max_attempts} failed attempts")
    collector = Collector()
    writer = Writer(live, reopen=False)
    writer.write()
    async with emulator(collector, fail_rate=fail_rate, seed=seed) as fake:
        config = write_config(root, fake, [live], sink={"max_attempts": max_attempts})
        stop = asyncio.Event()
        writing = asyncio.create_task(writer.write_until(stop, rate))
        daemon = await Daemon(config, root / "logship.log").start()
        delivered_before_kills = 0
        before: Counter[int] = Counter()  # delivered or spooled when this run started
        delivered_before: Counter[int] = Counter()  # delivered when this run started
        abandoned = 0  # requests the emulator never answered (the client died mid-body)
        try:
            for _ in range(kills):
                await asyncio.sleep(rng.uniform(0.4, 2.0))
                await daemon.kill()
                result.kills = (result.kills or 0) + 1
                abandoned = await answered(fake, abandoned)
                committed = _checkpoint_offset(root / "state" / "checkpoints.json", live)
                in_spool = spooled(spool_dir)
                now = collector.counts + in_spool
                this_run = [n for n in now if now[n] > before[n]]
                # Read again from the file (past the checkpoint), or drained again from the
                # spool (delivered from it, but still in it: the kill came before the drain
                # noted its progress).
                at_risk = sum(1 for n in this_run if writer.ends[n] > committed
                              or (in_spool[n] and collector.counts[n] > delivered_before[n]))
                result.dup_bound = (result.dup_bound or 0) + at_risk
                result.notes.append(
                    f"kill {result.kills}: checkpoint at byte {committed}; this run delivered "
                    f"or spooled {len(this_run)} ids, {at_risk} of them past the checkpoint")
                delivered_before_kills, before = len(now), now
                delivered_before = Counter(collector.counts)
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                daemon = await Daemon(config, root / "logship.log").start()
            await asyncio.sleep(0.5)
            stop.set()
            await writing
            writer.close()
            everything = writer.ids()
            deadline = time.monotonic() + 2 * WAIT
            while time.monotonic() < deadline:
                if everything <= set(collector.counts) | set(spooled(spool_dir)):
                    break
                await asyncio.sleep(0.1)
            await collector.settle()
            result.exit_status = await daemon.stop()
        finally:
            stop.set()
            await writing
            await daemon.kill()
        result.log = daemon.output()
    in_spool = spooled(spool_dir)
    result.spooled = sum(in_spool.values())
    result.notes.append(f"ids delivered or spooled before the last kill: "
                        f"{delivered_before_kills} (a looser bound on duplicates)")
    result.notes.append(f"emulator: {fake.stats.requests} requests, "
                        f"{sum(v for k, v in fake.stats.by_status.items() if k >= 500)} failed")
    return account(result, writer.ids(), writer.ids(), collector.counts + in_spool,
                   collector.garbled)


async def answered(fake: FakeDiscord, abandoned: int, timeout: float = 1.0) -> int:
    """Wait until the emulator answered what a killed process had sent (a request it
    received in full is still recorded after the sender died); the requests it will
    never answer."""
    def unanswered() -> int:
        stats = fake.stats
        return stats.requests - sum(stats.by_status.values()) - stats.dropped

    deadline = time.monotonic() + timeout
    await asyncio.sleep(0.05)
    while unanswered() > abandoned and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return unanswered()


def _checkpoint_offset(path: Path, live: Path) -> int:
    """The offset saved for `live` (0 when there is no checkpoint for it yet)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return 0
    offsets = [int(f["offset"]) for f in data.get("files", []) if f.get("path") == str(live)]
    return max(offsets, default=0)


# --------------------------------------------------------------------------- idle CPU


@dataclass
class Idle:
    files: int
    folders: int
    seconds: float
    cpu: float  # CPU seconds used by the logship process while idle
    fds: int  # descriptors it holds on the log files
    rss_mb: float
    wakeups: int  # voluntary context switches of all its threads: how often it woke up

    def row(self) -> str:
        return (f"idle: {self.files} quiet files in {self.folders} folders for "
                f"{self.seconds:.0f} s: {self.cpu:.3f} CPU s = "
                f"{100 * self.cpu / self.seconds:.2f}% of a core, "
                f"{self.wakeups / self.seconds:.0f} wakeups/s; "
                f"{self.fds} log-file descriptors; RSS {self.rss_mb:.0f} MB")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _wakeups(pid: int) -> int:
    """Voluntary context switches summed over the threads of `pid`."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run_idle(root: Path, seconds: float, files: int = 200, folders: int = 30) -> Idle:
    """logship following `files` quiet files in `folders` folders: CPU over `seconds`."""
    logs = root / "logs"
    for n in range(files):
        path = logs / f"service-{n % folders:02d}" / f"app-{n}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        Writer(path).write(3)
    collector = Collector()
    async with emulator(collector) as fake:
        # The default checkpoint interval: the scenarios above use 0.2 s.
        config = write_config(root, fake, [logs / "*" / "*.log"], checkpoint_interval=1.0)
        daemon = await Daemon(config, root / "logship.log").start()
        try:
            await daemon.wait_logged("running:")
            await collector.wait_for(lambda: len(collector.counts) >= files * 3)
            await collector.settle(quiet=1.0)
            before, woke = _cpu_seconds(daemon.pid), _wakeups(daemon.pid)
            await asyncio.sleep(seconds)
            cpu = _cpu_seconds(daemon.pid) - before
            wakeups = _wakeups(daemon.pid) - woke
            fds = sum(1 for t in open_files(daemon.pid) if t.startswith(str(logs)))
            rss = _rss_mb(daemon.pid)
            await daemon.stop()
        finally:
            await daemon.kill()
    return Idle(files, folders, seconds, cpu, fds, rss, wakeups)


# --------------------------------------------------------------------------- main


def table(results: list[Result]) -> list[str]:
    head = ("mode", "written", "lost", "duplicated", "in no file", "kills", "spooled")
    rows = [head] + [(r.mode, str(r.written), str(r.lost), str(r.duplicated),
                      str(r.in_no_file), "-" if r.kills is None else str(r.kills),
                      str(r.spooled)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


async def torture(scale: Scale, idle_seconds: float, kills: int) -> None:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="logship-torture-") as tmp:
        base = Path(tmp)
        runs: list[tuple[str, Callable[[Path], object]]] = [
            *((mode, lambda p, m=mode: run_rotation(m, p, scale)) for mode in ROTATIONS),
            ("daily", lambda p: run_daily(p, scale)),
            ("truncate", lambda p: run_truncate(p, scale)),
            ("truncate+refill", lambda p: run_truncate(p, scale, refill=True)),
            ("crash", lambda p: run_crash(p, kills=kills)),
        ]
        for n, (name, run) in enumerate(runs):
            folder = base / f"{n:02d}-{re.sub(r'[^a-z0-9+]+', '-', name)}"
            folder.mkdir()
            result: Result = await run(folder)  # type: ignore[misc]
            results.append(result)
            print(result.figure(), flush=True)
            if result.lost:  # what a diagnosis needs: which ids, and logship's own words
                print("  " + result.explain().replace("\n", "\n  "), flush=True)
            if result.held_deleted:
                print(f"  deleted files still held open: {result.held_deleted}")
            if result.exit_status not in (0, None):
                print(f"  logship exited with {result.exit_status}")
        print()
        for line in table(results):
            print(line)
        crash = results[-1]
        print(f"\ncrash: {crash.duplicated} duplicates, bound {crash.dup_bound} "
              "(delivered or spooled past the saved checkpoint at each kill)")
        idle_root = base / "idle"
        idle_root.mkdir()
        print()
        print((await run_idle(idle_root, idle_seconds)).row())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.torture", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (for CI)")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    idle = 5.0 if args.quick else 60.0
    kills = 6 if args.quick else 12
    print(f"# logship torture on {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, {LOGROTATE}"
          f"{' (quick)' if args.quick else ''}: {scale.rate:.0f} lines/s, "
          f"{scale.rounds} rotations {scale.interval} s apart\n", flush=True)
    asyncio.run(torture(scale, idle, kills))


if __name__ == "__main__":
    main()
