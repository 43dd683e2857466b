"""Where each file has been read to, and how far of that is safe to remember.

`FileProgress` is the acknowledgement watermark of one file: events complete out of
order (different sinks, retries), but the offset it reports only moves to the end of
the longest prefix whose events are all done. `CheckpointStore` keeps those offsets in
`state_dir/checkpoints.json`, written atomically (temp file, fsync, rename) and only
when something changed, with the names of the sources whose files have been looked at
(`start_at` applies to the others only).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from logship.event import Ack

log = logging.getLogger("logship.checkpoint")

CHECKPOINT_FILE = "checkpoints.json"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileIdentity:
    """Who a file is: device + inode, plus a hash of its first bytes.

    The head hash tells a recreated file (or a reused inode) from the one checkpointed;
    `head_len` records how many bytes it covers, since a young file's head still grows.
    """

    dev: int
    inode: int
    head_len: int
    head_hash: str


@dataclass(frozen=True)
class Mark:
    """A hash of the bytes just before a read position: the up to `length` (1 KiB)
    bytes ending at offset `end`.

    The head tells files apart only when their first bytes differ; a bot that opens
    every day's file with the same banner makes them all alike. The mark covers the
    content where reading stopped, so a file is taken for the one checkpointed (or for
    its copy) only when its bytes there are the ones that were read."""

    end: int
    length: int
    hash: str


@dataclass
class Checkpoint:
    """One file's saved position. `mark` (None in checkpoints saved before marks
    existed: the head alone decides then) lies at or past `offset`. `source` names the
    source the file was read for: a file read under a rotated name (found by its inode
    after a rotation while logship was stopped) may match no glob, and is still that
    source's to finish after a crash."""

    path: str
    identity: FileIdentity
    offset: int
    mark: Mark | None = None
    source: str | None = None
    empty_at: float | None = None  # the file was empty then (wall clock): see find_copy
    # the file's modification time when its head was last read: rotated files modified
    # later hold what was written after this checkpoint (see `later_generations`)
    mtime_ns: int | None = None


class FileProgress:
    """The acknowledgement watermark of one file.

    >>> progress = FileProgress(0)
    >>> first, second = progress.track(10, shares=1), progress.track(20, shares=1)
    >>> second.resolve(); progress.committed      # the first is still pending
    0
    >>> first.resolve(); progress.committed
    20
    """

    __slots__ = ("_inflight", "changed", "committed")

    def __init__(self, committed: int) -> None:
        self.committed = committed
        self._inflight: deque[Ack] = deque()
        self.changed = False

    @property
    def pending(self) -> int:
        """How many tracked events are not yet done."""
        return sum(1 for ack in self._inflight if not ack.done)

    def track(self, offset: int, shares: int) -> Ack:
        """A handle for an event ending at `offset` that `shares` sinks must resolve."""
        ack = Ack(offset, self._on_done)
        ack.expect(shares)
        self._inflight.append(ack)
        return ack

    def read_through(self, offset: int) -> None:
        """Everything before `offset` that was not tracked needs no delivery."""
        if not self._inflight:
            self._advance_to(offset)
        elif offset > self._inflight[-1].offset:
            self._inflight.append(Ack(offset))

    def _on_done(self, _ack: Ack) -> None:
        inflight = self._inflight
        while inflight and inflight[0].done:
            self._advance_to(inflight.popleft().offset)

    def _advance_to(self, offset: int) -> None:
        if offset > self.committed:
            self.committed = offset
            self.changed = True


@dataclass
class SavedState:
    """What checkpoints.json holds: the files' checkpoints, and the sources known (a
    file written before `sources` existed has none: every source counts as new).
    `saved_at_ns` is when it was written (its modification time, by the file system's
    clock, the one the logs are stamped with; None without a file): what logship saw
    last before it stopped. A rotated file modified later was written while logship was
    stopped (see `Tailer`'s `saved_at_ns`)."""

    files: list[Checkpoint]
    sources: list[str]
    saved_at_ns: int | None = field(default=None, compare=False)


class CheckpointStore:
    """checkpoints.json: read once at start, written atomically when asked."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / CHECKPOINT_FILE

    def load(self) -> SavedState:
        """The checkpoints on disk; a missing file is an empty state, a corrupt one is
        moved aside (so the evidence is kept) and logged."""
        try:
            with self.path.open("rb") as f:
                saved_at_ns = os.fstat(f.fileno()).st_mtime_ns
                data = orjson.loads(f.read())
            entries = [_entry(e) for e in data["files"]]
            sources = [str(name) for name in data.get("sources", [])]
        except FileNotFoundError:
            return SavedState([], [])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            aside = self.path.with_suffix(".corrupt")
            os.replace(self.path, aside)
            log.error("checkpoint file %s is unreadable (%s); moved to %s, starting fresh",
                      self.path, exc, aside)
            return SavedState([], [])
        return SavedState(entries, sources, saved_at_ns)

    def save(self, checkpoints: list[Checkpoint], sources: Iterable[str] = ()) -> None:
        """Write all `checkpoints` and the `sources` known atomically: temp file, fsync,
        rename, fsync the folder."""
        body = orjson.dumps(
            {"version": _FORMAT_VERSION, "sources": sorted(sources),
             "files": [asdict(c) for c in checkpoints]},
            option=orjson.OPT_INDENT_2,
        )
        atomic_write(self.path, body)


def _entry(e: dict[str, Any]) -> Checkpoint:
    mark = e.get("mark")
    return Checkpoint(e["path"], FileIdentity(**e["identity"]), int(e["offset"]),
                      mark=Mark(**mark) if mark is not None else None,
                      source=e.get("source"), empty_at=e.get("empty_at"),
                      mtime_ns=e.get("mtime_ns"))


def atomic_write(path: Path, body: bytes) -> None:
    """Replace `path` with `body` all at once: temp file, fsync, rename, fsync the folder.
    A crash leaves the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
