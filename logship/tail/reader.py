"""Reading one file from an offset, in large chunks, one complete line at a time.

`TailedFile` owns an open descriptor, so a file renamed or deleted while it is being
read can still be read to its end before it is let go. It hands out complete lines
only: a partial last line waits for its newline. A line longer than `max_line_bytes`
is cut at that length (the rest up to its newline is skipped) and reported, never fatal.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from itertools import accumulate
from typing import BinaryIO

from logship.tail.checkpoint import FileIdentity

HEAD_BYTES = 256
CHUNK_BYTES = 1 << 16
"""How much one read takes: large enough that a read costs nothing per line (~300 lines
of a JSON log), small enough that the events they become, alive together until routed,
stay in the CPU's own caches. Measured in turns (`python -m bench ingest`'s loop and
ingest, 9 pairs each): 16, 32 and 64 KiB made ingest cost 0.73-0.75 of the `json.loads`
loop's CPU, 256 KiB 0.88-0.98, 1 MiB (~4,600 events, several MB) 1.2-1.5, the larger
chunks also varying far more with the load on the machine. A line longer than a chunk is
read in reads that grow with it (see `read_lines`)."""


def read_identity(fd: int, head_len: int = HEAD_BYTES) -> FileIdentity:
    """The identity of the open file `fd`: device, inode and a hash of its first bytes."""
    st = os.fstat(fd)
    head = os.pread(fd, head_len, 0)
    return FileIdentity(
        dev=st.st_dev,
        inode=st.st_ino,
        head_len=len(head),
        head_hash=hashlib.blake2b(head, digest_size=16).hexdigest(),
    )


def is_same_file(fd: int, saved: FileIdentity) -> bool:
    """True when the open file `fd` is the one `saved` describes (same inode, same head)."""
    current = read_identity(fd, saved.head_len)
    return current == saved


@dataclass
class Lines:
    """A batch of complete lines and the offset just past each one's newline."""

    lines: list[bytes]
    ends: list[int]
    cut: list[int] = field(default_factory=list)  # indexes of lines cut at max_line_bytes


class TailedFile:
    """An open file and the position up to which its lines have been handed out."""

    def __init__(self, path: str, fd: int, position: int, max_line_bytes: int) -> None:
        self.path = path
        self.fd = fd
        self.position = position  # just past the last byte consumed (complete lines)
        self.max_line_bytes = max_line_bytes
        self.identity = read_identity(fd)
        self._partial = b""
        self._skipping = False  # inside the rest of a cut line

    @classmethod
    def open(cls, path: str, position: int | None, max_line_bytes: int) -> TailedFile:
        """Open `path` at `position`; None means at the end of its last complete line."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if position is None:
                position = end_of_last_line(fd)
            return cls(path, fd, position, max_line_bytes)
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def was_truncated(self) -> bool:
        """The file was truncated in place: it is now shorter than what was read, or
        its first bytes changed (truncated and written past our position already)."""
        if self.size() < self.position + len(self._partial):
            return True
        identity = self.identity
        if identity.head_len == 0:
            return False
        head = os.pread(self.fd, identity.head_len, 0)
        return hashlib.blake2b(head, digest_size=16).hexdigest() != identity.head_hash

    def rewind(self) -> None:
        """Start again from offset 0 (after truncation)."""
        self.position = 0
        self._partial = b""
        self._skipping = False
        self.identity = read_identity(self.fd)

    def refresh_identity(self) -> None:
        """Re-read the head hash while the file is still shorter than HEAD_BYTES."""
        if self.identity.head_len < HEAD_BYTES:
            self.identity = read_identity(self.fd)

    def read_lines(self, limit: int = CHUNK_BYTES) -> Lines | None:
        """The next complete lines from one read of at most `limit` bytes (or as many as
        the unfinished line held back already, when that is more); None at EOF.

        The chunk is split as read: the held partial line is joined to the first line
        only, so the chunk is not copied again (`partial + data`, then a slice).
        """
        held = len(self._partial)  # a long line: read as much again (linear, not quadratic)
        data = os.pread(self.fd, max(limit, held), self.position + held)
        if not data:
            return None
        base = self.position
        if self._skipping:  # discard the rest of a line already handed out cut
            newline = data.find(b"\n")  # (nothing is held while skipping)
            if newline < 0:
                self.position = base + len(data)
                return Lines([], [])
            self._skipping = False
            base, data = base + newline + 1, data[newline + 1 :]
        lines = data.split(b"\n")
        rest = lines.pop()  # after the last newline: the new partial line
        partial = self._partial
        if partial:
            if lines:
                lines[0] = partial + lines[0]
            else:
                rest = partial + rest
        batch = Lines(lines, [])
        if lines:
            ends = list(accumulate((len(line) + 1 for line in lines), initial=base))
            del ends[0]
            batch.ends = ends
            base = ends[-1]
            if max(map(len, lines)) > self.max_line_bytes:
                self._cut_long_lines(batch)
        self.position, self._partial = base, rest
        if len(rest) > self.max_line_bytes:
            self._cut_partial(batch)
        return batch

    @property
    def has_partial(self) -> bool:
        """Bytes of an unfinished last line are waiting for their newline."""
        return bool(self._partial)

    def take_partial(self) -> Lines:
        """The unfinished last line as it is (its writer went quiet); reading goes on
        after it, so whatever completes it later comes as a line of its own."""
        line, self._partial = self._partial, b""
        self.position += len(line)
        return Lines([line], [self.position])

    def _cut_long_lines(self, batch: Lines) -> None:
        limit = self.max_line_bytes
        for i, line in enumerate(batch.lines):
            if len(line) > limit:
                batch.lines[i] = line[:limit]
                batch.cut.append(i)

    def _cut_partial(self, batch: Lines) -> None:
        """A partial line already over the limit goes out cut; the rest of it is skipped."""
        self.position += len(self._partial)
        batch.lines.append(self._partial[: self.max_line_bytes])
        batch.ends.append(self.position)
        batch.cut.append(len(batch.lines) - 1)
        self._partial = b""
        self._skipping = True


def find_by_inode(directory: str, identity: FileIdentity) -> str | None:
    """The path in `directory` of the file `identity` describes (after a rename), if any.

    `os.scandir` gives each entry's inode without a stat, so this is cheap even for a
    folder full of rotated logs; the device and the head hash are checked on the match.
    """
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        if entry.inode() != identity.inode:
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return entry.path if is_same_file(fd, identity) else None
        finally:
            os.close(fd)
    return None


def find_copy(directory: str, identity: FileIdentity, size: int) -> str | None:
    """A copy of the file `identity` describes, at least `size` bytes long: what
    logrotate's copytruncate leaves (plain, or gzip-compressed) before it truncates.

    A copy is another inode whose first `head_len` bytes hash the same. Only names that
    extend the original's (`app.log.1`, `app.log-20250716.gz`) are considered.
    """
    if identity.head_len == 0:
        return None
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        if entry.inode() == identity.inode or not entry.is_file():
            continue
        head = _read_head(entry.path, identity.head_len)
        if head is None or len(head) != identity.head_len:
            continue
        if hashlib.blake2b(head, digest_size=16).hexdigest() == identity.head_hash and (
                _copy_size(entry.path) >= size):
            return entry.path
    return None


def read_copy(path: str, start: int) -> bytes:
    """The bytes of a (possibly gzipped) copy from `start` to its end."""
    with _open_copy(path) as f:
        f.seek(start)
        return f.read()


def split_lines(data: bytes, base: int, max_line_bytes: int) -> Lines:
    """The complete lines of `data`, which starts at file offset `base`; long lines cut."""
    last = data.rfind(b"\n")
    if last < 0:
        return Lines([], [])
    lines = data[:last].split(b"\n")
    ends = list(accumulate((len(line) + 1 for line in lines), initial=base))[1:]
    cut = [i for i, line in enumerate(lines) if len(line) > max_line_bytes]
    for i in cut:
        lines[i] = lines[i][:max_line_bytes]
    return Lines(lines, ends, cut)


def _open_copy(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read_head(path: str, length: int) -> bytes | None:
    try:
        with _open_copy(path) as f:
            return f.read(length)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


def _copy_size(path: str) -> int:
    try:
        if not path.endswith(".gz"):
            return os.stat(path).st_size
        with gzip.open(path, "rb") as f:
            return f.seek(0, os.SEEK_END)
    except (OSError, EOFError, gzip.BadGzipFile):
        return -1


def end_of_last_line(fd: int, window: int = 65536, size: int | None = None) -> int:
    """The offset just past the last newline of the open file (0 when it has none);
    with `size`, the last newline within its first `size` bytes."""
    size = os.fstat(fd).st_size if size is None else min(size, os.fstat(fd).st_size)
    start = max(0, size - window)
    tail = os.pread(fd, size - start, start)
    newline = tail.rfind(b"\n")
    return start + newline + 1 if newline >= 0 else (0 if start == 0 else size)
