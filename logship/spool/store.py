"""The on-disk spool: where events wait when they cannot be delivered now (or ever).

Layout: `<spool_dir>/<sink>/<segment>.jsonl`, one JSON object per line holding the
event, why it is here (`fallback`: transient failure or the sink is down; `dead`: Discord
refused it for good), the last error, the attempt count and the first and last failure
times. Segments are append-only and roll at `segment_bytes`.

Durability without an fsync per event: appends are written at once and fsynced when a
segment rolls and whenever `sync()` is called, which the daemon does right before it
writes checkpoints. A checkpoint that lets the source files forget an event is therefore
never on disk before the spool line that holds the event.

A segment being appended to is held with a shared `flock`; whoever rewrites or deletes a
segment (the drain, `logship replay`) takes it exclusively and without waiting, so the
two never touch the same file, even from two processes. How far a segment has been
drained is kept in a `<segment>.done` sidecar (a byte offset), so a restart does not
send it again, and what a replay delivered in a `<segment>.replayed` one (end offsets).
Both carry the segment's inode: a segment is only ever rewritten by an atomic rename of
a new file over it, so a sidecar that a crash left behind cannot apply to the new file.
A new segment (and a new sink folder) is fsynced into its folder. A torn last line (a
crash mid-write) is skipped and counted, never fatal; a segment with unreadable lines is
moved aside (`.corrupt`), never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from logship.event import Event

log = logging.getLogger("logship.spool.store")

SEGMENT_SUFFIX = ".jsonl"
DONE_SUFFIX = ".done"
REPLAYED_SUFFIX = ".replayed"
CORRUPT_SUFFIX = ".corrupt"
SEGMENT_BYTES = 8 << 20
REASONS = ("fallback", "dead")


class SpoolFull(OSError):
    """The spool reached `max_bytes`: the caller keeps its events and waits."""

    def __init__(self, limit: int) -> None:
        super().__init__(errno.ENOSPC, f"spool full ({limit} bytes, spool.max_bytes)")


@dataclass
class SpoolRecord:
    """One spooled event and why it is in the spool."""

    event: Event
    sink: str
    reason: str  # "fallback" | "dead"
    error: str
    route: str | None = None
    attempts: int = 0
    first_failure: str | None = None
    last_failure: str | None = None
    # It takes the place of an older record of the same event, which the drain deletes
    # once its segment is through: it is exempt from `max_bytes` (not written out).
    replaces: bool = field(default=False, compare=False, repr=False)

    def to_json(self) -> bytes:
        now = datetime.now(UTC).isoformat()
        return orjson.dumps(
            {
                "event": self.event.to_record(),
                "sink": self.sink,
                "route": self.route,
                "reason": self.reason,
                "error": self.error,
                "attempts": self.attempts,
                "first_failure": self.first_failure or now,
                "last_failure": self.last_failure or now,
            },
            option=orjson.OPT_NON_STR_KEYS,
            default=str,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpoolRecord:
        return cls(
            event=Event.from_record(data["event"]),
            sink=data["sink"],
            reason=data["reason"],
            error=data.get("error", ""),
            route=data.get("route"),
            attempts=data.get("attempts", 0),
            first_failure=data.get("first_failure"),
            last_failure=data.get("last_failure"),
        )


@dataclass
class _Open:
    path: Path
    fd: int
    size: int
    dirty: bool = False


class Spool:
    """Appends records to per-sink segment files under `root`, within `max_bytes`."""

    def __init__(self, root: Path, *, segment_bytes: int = SEGMENT_BYTES,
                 max_bytes: int | None = None) -> None:
        self.root = root
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.used_bytes = spool_bytes(root)
        self.on_freed: list[Callable[[], None]] = []  # told when space is given back
        self._open: dict[str, _Open] = {}

    def append(self, records: list[SpoolRecord], *, over_cap: bool = False) -> None:
        """Write `records` (not yet fsynced: see `sync`). Raises `SpoolFull` past
        `max_bytes` (unless `over_cap`), OSError when the disk refuses; nothing is
        half-written then. Records that replace an older one (`replaces`) do not count
        against the cap: a drain that fails again must never wait for room it alone
        could free."""
        by_sink: dict[str, list[bytes]] = {}
        incoming = 0
        for record in records:
            line = record.to_json() + b"\n"
            by_sink.setdefault(record.sink, []).append(line)
            incoming += 0 if record.replaces else len(line)
        data = {sink: b"".join(lines) for sink, lines in by_sink.items()}
        if (self.max_bytes is not None and incoming and not over_cap
                and self.used_bytes + incoming > self.max_bytes):
            raise SpoolFull(self.max_bytes)
        for sink, chunk in data.items():
            self._write(sink, chunk)

    def sync(self) -> None:
        """fsync every segment written since the last sync."""
        for current in self._open.values():
            if current.dirty:
                os.fsync(current.fd)
                current.dirty = False

    def roll(self, sink: str) -> None:
        """Close the sink's current segment: the next append starts a new one."""
        current = self._open.pop(sink, None)
        if current is not None:
            if current.dirty:
                os.fsync(current.fd)
            os.close(current.fd)  # also releases its shared lock

    def current(self, sink: str) -> Path | None:
        """The segment appends for `sink` go to now, if one is open."""
        current = self._open.get(sink)
        return current.path if current else None

    def freed(self, nbytes: int) -> None:
        """`nbytes` of segments were deleted or rewritten away."""
        self.used_bytes = max(0, self.used_bytes - nbytes)
        for callback in self.on_freed:
            callback()

    def recount(self) -> None:
        """Measure `used_bytes` again (another process may have drained segments)."""
        self.used_bytes = spool_bytes(self.root)

    def close(self) -> None:
        for sink in list(self._open):
            self.roll(sink)

    def _write(self, sink: str, data: bytes) -> None:
        current = self._segment_for(sink, len(data))
        written = os.write(current.fd, data)
        if written != len(data):  # a short write: the disk is full
            os.ftruncate(current.fd, current.size)
            raise OSError(errno.ENOSPC, "short write to the spool")
        current.size += written
        current.dirty = True
        self.used_bytes += written

    def _segment_for(self, sink: str, incoming: int) -> _Open:
        current = self._open.get(sink)
        if current is not None and current.size + incoming <= self.segment_bytes:
            return current
        self.roll(sink)
        folder = self.root / sink
        make_folder(folder)
        path = folder / f"{time.time_ns()}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        opened = self._open[sink] = _Open(path, fd, 0)
        fsync_folder(folder)  # the new name survives a crash as surely as its lines
        return opened


def fsync_folder(folder: Path) -> None:
    """Make the names created, renamed or removed in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(folder: Path) -> None:
    """Create `folder` (and missing parents), each made durable in its parent."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True, mode=0o700)
        fsync_folder(created.parent)


class MemorySpool:
    """Stands in for the spool where nothing is to be written (`logship replay` writes
    what failed again back into its segment; `logship test-webhook` only reports it):
    keeps what a worker would spool, in memory, by event (`failed`)."""

    def __init__(self) -> None:
        self.failed: dict[int, SpoolRecord] = {}  # id(event) -> its record
        self.on_freed: list[Callable[[], None]] = []

    def append(self, records: list[SpoolRecord], *, over_cap: bool = False) -> None:
        """Take `records`; never full, so `over_cap` is moot."""
        for record in records:
            self.failed[id(record.event)] = record

    def recount(self) -> None:
        """Nothing to measure: this spool lives in memory."""


# -- reading ----------------------------------------------------------------------------


@dataclass
class SegmentRead:
    """What reading a segment found besides its records."""

    torn: int = 0  # an incomplete last line: a crash mid-write
    unreadable: int = 0  # complete lines that are not a record: the segment is corrupt
    records: list[tuple[int, SpoolRecord]] = field(default_factory=list)  # (end, record)


def segments(root: Path, sink: str | None = None) -> list[Path]:
    """Every segment file under `root` (or of one sink), oldest first."""
    if not root.is_dir():
        return []
    folders = [root / sink] if sink else sorted(p for p in root.iterdir() if p.is_dir())
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += sorted(folder.glob(f"*{SEGMENT_SUFFIX}"), key=lambda p: p.name)
    return found


def scan_segment(path: Path, start: int = 0) -> SegmentRead:
    """The records of `path` from byte `start`, each with the offset just past it."""
    found = SegmentRead()
    with path.open("rb") as f:
        f.seek(start)
        offset = start
        for line in f:
            offset += len(line)
            if not line.endswith(b"\n"):
                found.torn += 1
                log.warning("%s: its last line is incomplete (torn write); skipped", path)
                continue
            try:
                found.records.append((offset, SpoolRecord.from_json(orjson.loads(line))))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                found.unreadable += 1
                log.warning("%s: a line at offset %d is unreadable (%s); skipped", path,
                            offset - len(line), exc)
    return found


def read_segment(path: Path) -> Iterator[SpoolRecord]:
    """The records of one segment; torn and unreadable lines are skipped and logged."""
    for _, record in scan_segment(path).records:
        yield record


def spool_bytes(root: Path) -> int:
    """Bytes the spool's segments take on disk."""
    total = 0
    for path in segments(root):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


# -- draining, rewriting, removing ---------------------------------------------------------


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Hold `path` exclusively if no one appends to it or drains it now; yields whether
    it could (a busy segment is simply left for later)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _inode(path: Path) -> int | None:
    """The segment's inode (None when it is gone): what its sidecars apply to. A rewrite
    replaces the segment with a new file, so a sidecar of the old one can never apply to
    it, even if a crash left the sidecar behind."""
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _stamp(path: Path) -> str:
    return f"inode={_inode(path)}"


def _applies(path: Path, stamp: str | None) -> bool:
    """A sidecar stamped `stamp` belongs to `path` as it is now (an unstamped one, from
    the previous version, to the segment it sits beside)."""
    return stamp is None or stamp == _stamp(path)


def drained_offset(path: Path) -> int:
    """How far `path` has been drained (0 when never). `.done` holds "OFFSET inode=N"."""
    try:
        words = _sidecar(path, DONE_SUFFIX).read_text().split()
        offset = int(words[0])
    except (FileNotFoundError, ValueError, IndexError):
        return 0
    stamp = next((w for w in words[1:] if w.startswith("inode=")), None)
    return offset if _applies(path, stamp) else 0


def mark_drained(path: Path, offset: int, *, inode: int | None = None) -> None:
    """Record, atomically and durably, that everything before `offset` in `path` is
    taken care of: in `path` as it is now, or in the file `inode` if given (the one read,
    which a rewrite by another process may have replaced since)."""
    done = _sidecar(path, DONE_SUFFIX)
    tmp = done.with_suffix(".tmp")
    stamp = _stamp(path) if inode is None else f"inode={inode}"
    with tmp.open("w") as f:
        f.write(f"{offset} {stamp}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, done)
    fsync_folder(path.parent)


def _read_replayed(path: Path) -> tuple[str | None, set[int]] | None:
    """The `.replayed` sidecar's stamp and offsets; None when there is none."""
    try:
        words = _sidecar(path, REPLAYED_SUFFIX).read_text().split()
    except FileNotFoundError:
        return None
    stamp = next((w for w in words if w.startswith("inode=")), None)
    return stamp, {int(word) for word in words if word.isdigit()}


def replayed_offsets(path: Path) -> set[int]:
    """End offsets of the records of `path` a replay delivered before it was stopped.
    `.replayed` holds "inode=N", then one offset a line."""
    found = _read_replayed(path)
    if found is None or not _applies(path, found[0]):
        return set()
    return found[1]


def outstanding(path: Path) -> tuple[list[tuple[int, SpoolRecord]], bool]:
    """The records of `path` (each with its end offset) still to deliver, and whether it
    holds any already delivered: those a replay sent before it was stopped (`.replayed`)
    and the `fallback` ones the drain got through (up to `.done`; the drain never sends
    `dead` records, so the offset does not cover them)."""
    replayed = replayed_offsets(path)
    drained = drained_offset(path)
    found = scan_segment(path).records
    left = [(end, r) for end, r in found
            if end not in replayed and not (r.reason == "fallback" and end <= drained)]
    return left, len(left) < len(found)


def mark_replayed(path: Path, offsets: list[int]) -> None:
    """Record, durably, that the records of `path` ending at `offsets` were delivered,
    so a replay killed before it rewrote the segment does not send them again."""
    if not offsets:
        return
    replayed = _sidecar(path, REPLAYED_SUFFIX)
    found = _read_replayed(path)
    if found is not None and not _applies(path, found[0]):
        replayed.unlink()  # left by a crash after a rewrite: of another file
        found = None
    with replayed.open("a") as f:
        header = f"{_stamp(path)}\n" if found is None else ""
        f.write(header + "".join(f"{offset}\n" for offset in offsets))
        f.flush()
        os.fsync(f.fileno())
    if found is None:
        fsync_folder(path.parent)


def _remove_sidecars(path: Path) -> None:
    _sidecar(path, DONE_SUFFIX).unlink(missing_ok=True)
    _sidecar(path, REPLAYED_SUFFIX).unlink(missing_ok=True)


def rewrite_segment(path: Path, keep: list[SpoolRecord]) -> int:
    """Replace `path` with only the records in `keep` (remove it when none are left);
    the bytes this gave back. The sidecars go only after the new file is in place: a
    crash before leaves the old segment with its progress, a crash after leaves sidecars
    of the old file, which its inode tells apart from the new one."""
    before = path.stat().st_size if path.exists() else 0
    if not keep:
        path.unlink(missing_ok=True)
        fsync_folder(path.parent)
        _remove_sidecars(path)
        return before
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(b"".join(r.to_json() + b"\n" for r in keep))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)
    _remove_sidecars(path)
    return before - path.stat().st_size


def set_aside(path: Path) -> Path:
    """Move a corrupt segment out of the way, keeping it for inspection."""
    aside = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, aside)
    fsync_folder(path.parent)
    _remove_sidecars(path)
    log.error("%s has unreadable lines; moved to %s (nothing deleted)", path, aside)
    return aside
