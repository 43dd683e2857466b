"""Reading one file from an offset, in large chunks, one complete line at a time.

`TailedFile` owns an open descriptor, so a file renamed or deleted while it is being
read can still be read to its end before it is let go. It hands out complete lines
only: a partial last line waits for its newline. A line longer than `max_line_bytes`
is cut at that length (the rest up to its newline is skipped) and reported, never fatal.

A file is recognised by its inode, its head and its *mark* (the bytes just before where
reading stopped, see `Mark`); its rotated copy (logrotate's copytruncate, or a renamed
file compressed since) by a rotated name of it in the same folder (`is_rotated_name`)
and the same head and mark (`find_copy`).
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import functools
import gzip
import hashlib
import lzma
import os
import re
import time
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from itertools import accumulate
from typing import BinaryIO

from logship.tail.checkpoint import FileIdentity, Mark

HEAD_BYTES = 256
MARK_BYTES = 1024
"""How many bytes before the read position a `Mark` covers."""
CHUNK_BYTES = 1 << 16
"""How much one read takes: large enough that a read costs nothing per line (~300 lines
of a JSON log), small enough that the events they become, alive together until routed,
stay in the CPU's own caches. Measured in turns (`python -m bench ingest`'s loop and
ingest, 9 pairs each): 16, 32 and 64 KiB made ingest cost 0.73-0.75 of the `json.loads`
loop's CPU, 256 KiB 0.88-0.98, 1 MiB (~4,600 events, several MB) 1.2-1.5, the larger
chunks also varying far more with the load on the machine. A line longer than a chunk is
read in reads that grow with it (see `read_lines`)."""


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_identity(fd: int, head_len: int = HEAD_BYTES) -> FileIdentity:
    """The identity of the open file `fd`: device, inode and a hash of its first bytes."""
    st = os.fstat(fd)
    head = os.pread(fd, head_len, 0)
    return FileIdentity(dev=st.st_dev, inode=st.st_ino, head_len=len(head),
                        head_hash=_digest(head))


def read_mark(fd: int, end: int) -> Mark:
    """The mark of the open file `fd` at offset `end`."""
    start = max(0, end - MARK_BYTES)
    return _mark(os.pread(fd, end - start, start), end)


def _mark(window: bytes, end: int) -> Mark:
    return Mark(end=end, length=len(window), hash=_digest(window))


def is_same_file(fd: int, saved: FileIdentity, mark: Mark | None = None) -> bool:
    """True when the open file `fd` is the one `saved` and `mark` describe: the same
    inode and head, and (with a mark) at least `mark.end` bytes whose last ones are the
    marked ones. Without a mark (an old checkpoint) the head alone decides."""
    if read_identity(fd, saved.head_len) != saved:
        return False
    if mark is None:
        return True
    if os.fstat(fd).st_size < mark.end:
        return False
    return _digest(os.pread(fd, mark.length, mark.end - mark.length)) == mark.hash


@dataclass(frozen=True)
class ReadContent:
    """What logship read of a file: its identity and where reading reached (`position`,
    the mark there). A rotated file holding it is that file's copy, whatever its inode
    (`compress` packs a renamed file under a new one): see `find_copy`'s `read_elsewhere`."""

    identity: FileIdentity
    mark: Mark
    position: int


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
        # the file's modification time when its head was last read (see `_identify`)
        self.mtime_ns: int | None = None
        self._identify()
        self._partial = b""
        self._skipping = False  # inside the rest of a cut line
        # the (up to MARK_BYTES) bytes consumed last, ending at _window_end
        self._window = b""
        self._window_end = 0
        self._given_mark: Mark | None = None  # a stand-in's, from its checkpoint
        # when the file was last seen empty (wall clock): what tells its copy (see
        # `find_copy`); None once it holds bytes
        self.empty_at: float | None = time.time() if self.identity.head_len == 0 else None
        if position:
            self.seek(position)

    def _identify(self, *, anew: bool = True) -> None:
        """Read the identity, and the modification time just before: a write in between
        makes the time older than the head read, never newer (what was written after
        that time is not taken for content the head stands for). `anew`: the file holds
        new content (opened, truncated); else the time only moves on."""
        mtime_ns = os.fstat(self.fd).st_mtime_ns
        self.identity = read_identity(self.fd)
        if anew or self.mtime_ns is None or mtime_ns > self.mtime_ns:
            self.mtime_ns = mtime_ns

    def seen_after(self, mtime_ns: int) -> None:
        """The file is known to have been current at `mtime_ns` (the file it replaced
        was written to then, and read): no rotation older than that is new to it."""
        if self.mtime_ns is None or mtime_ns > self.mtime_ns:
            self.mtime_ns = mtime_ns

    @classmethod
    def stand_in(cls, path: str, identity: FileIdentity, position: int, mark: Mark | None,
                 max_line_bytes: int, empty_at: float | None = None,
                 mtime_ns: int | None = None) -> TailedFile:
        """A closed reader for content known from a checkpoint that is no longer under
        its name (truncated, or renamed and compressed since): what its copy is read
        against and checkpointed as."""
        reader = cls.__new__(cls)
        reader.path, reader.fd, reader.position = path, -1, position
        reader.max_line_bytes = max_line_bytes
        reader.identity = identity
        reader._partial, reader._skipping = b"", False
        reader._window, reader._window_end = b"", 0
        reader._given_mark = mark if mark is not None else _mark(b"", 0)
        reader.empty_at = empty_at
        reader.mtime_ns = mtime_ns
        return reader

    def detached(self) -> TailedFile:
        """A closed stand-in for what this reader has read so far (its path, identity,
        position, mark and unfinished line), while this one goes on with other
        content (the file was truncated)."""
        old = copy.copy(self)
        old.fd = -1
        return old

    def skip_to(self, position: int) -> None:
        """A stand-in's content up to `position` was handed out from its copy."""
        self.position = position
        self._partial = b""

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

    def reopen(self) -> TailedFile:
        """A new descriptor on `path`, at this position, keeping what this one knows of
        the file it had open (identity, mark): a dormant file waking up."""
        reader = TailedFile.open(self.path, 0, self.max_line_bytes)
        reader.identity = self.identity
        reader.position = self.position
        reader._window, reader._window_end = self._window, self._window_end
        reader._given_mark = self._given_mark
        reader.empty_at = self.empty_at
        reader.mtime_ns = self.mtime_ns
        return reader

    def seek(self, position: int) -> None:
        """Read on from `position` (a checkpoint, the end at start), nothing held."""
        self.position = position
        self._partial = b""
        self._skipping = False
        start = max(0, position - MARK_BYTES)
        self._window = os.pread(self.fd, position - start, start)
        self._window_end = position

    def mark(self) -> Mark:
        """The mark at the last position reading reached."""
        if self._given_mark is not None:
            return self._given_mark
        return _mark(self._window, self._window_end)

    def read_content(self) -> ReadContent | None:
        """What has been read of the file, None while it showed no bytes."""
        mark = self.mark()
        if self.identity.head_len == 0 and mark.length == 0:
            return None
        return ReadContent(self.identity, mark, self.position)

    def close(self) -> None:
        """Let go of the descriptor. An unfinished line held is forgotten: it lies past
        the position, and a reader opened there again reads it as it is by then."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._partial = b""

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
        return _digest(os.pread(self.fd, identity.head_len, 0)) != identity.head_hash

    def rewind(self) -> None:
        """Start again from offset 0 (after truncation)."""
        self.position = 0
        self._partial = b""
        self._skipping = False
        self._window, self._window_end = b"", 0
        self._identify()
        self.empty_at = time.time() if self.identity.head_len == 0 else None

    def refresh_identity(self) -> None:
        """Re-read the head hash while the file is still shorter than HEAD_BYTES (and
        note the time when it is still empty)."""
        if self.identity.head_len < HEAD_BYTES:
            self._identify(anew=False)
            self.empty_at = time.time() if self.identity.head_len == 0 else None

    def read_lines(self, limit: int = CHUNK_BYTES) -> Lines | None:
        """The next complete lines from one read of at most `limit` bytes (or as many as
        the unfinished line held back already, when that is more); None at EOF.

        The chunk is split as read: the held partial line is joined to the first line
        only, so the chunk is not copied again (`partial + data`, then a slice).
        """
        held = len(self._partial)  # a long line: read as much again (linear, not quadratic)
        start = self.position + held
        data = os.pread(self.fd, max(limit, held), start)
        if not data:
            return None
        position, partial = self.position, self._partial
        batch = self._split(data)
        if self.position != position:
            self._slide_window(partial, data, start)
        return batch

    def _slide_window(self, partial: bytes, data: bytes, start: int) -> None:
        """The bytes consumed last, after a read of `data` (at offset `start`, right
        after the held `partial`) moved the position: one slice of the chunk, joined
        with what came before only when the read consumed less than a window."""
        taken = self.position - start  # bytes of `data` consumed
        if taken >= MARK_BYTES:
            self._window = data[taken - MARK_BYTES : taken]
        else:
            self._window = (self._window + partial + data[:taken])[-MARK_BYTES:]
        self._window_end = self.position

    def _split(self, data: bytes) -> Lines:
        """Hand out the complete lines of `data`, read right after the held partial."""
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
        """The unfinished last line as it is (its file is let go for good); reading
        goes on after it, so whatever completes it later comes as a line of its own."""
        line, self._partial = self._partial, b""
        self.position += len(line)
        self._window = (self._window + line)[-MARK_BYTES:]
        self._window_end = self.position
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


def find_by_inode(directory: str, identity: FileIdentity, mark: Mark | None = None
                  ) -> str | None:
    """The path in `directory` of the file `identity` and `mark` describe (after a
    rename), if any.

    `os.scandir` gives each entry's inode without a stat, so this is cheap even for a
    folder full of rotated logs; the device, the head and the mark are checked on the
    match.
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
            return entry.path if is_same_file(fd, identity, mark) else None
        finally:
            os.close(fd)
    return None


_OPENERS: dict[str, Callable[[str, str], BinaryIO]] = {
    ".gz": gzip.GzipFile,  # type: ignore[dict-item]
    ".bz2": bz2.BZ2File,  # type: ignore[dict-item]
    ".xz": lzma.LZMAFile,  # type: ignore[dict-item]
}
"""Compressed copies read here (the standard library's); a copy packed otherwise
(.zst, .zip) cannot be read and is never taken for one."""
COPY_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)  # gzip's BadGzipFile: OSError
"""What reading a damaged or unfinished compressed copy may raise."""
_PACKED = re.compile(r"\.(gz|bz2|xz|zst|zip)$")
_ROTATION_TAG = r"[._-]\d(?:[\d._:T-]*\d)?"
"""What logrotate puts after a name: `.1`, `-20250716`, `.2025-07-16`, `-2025071612`."""
_BACKUP = r"(?:\.backup)?"
"""Where logrotate's `create` found the name taken (a writer made the file again between
the rename and the create), it moves that file to `NAME-YYYYMMDDHH.backup` first."""


@functools.lru_cache(maxsize=1024)
def _rotated_names(name: str) -> re.Pattern[str]:
    forms = [re.escape(name) + _ROTATION_TAG + _BACKUP]
    stem, dot, ext = name.rpartition(".")
    if dot and stem:  # logrotate's `extension .json`: the tag goes before it
        forms.append(re.escape(stem) + _ROTATION_TAG + re.escape(dot + ext))
    return re.compile(f"(?:{'|'.join(forms)})(?:\\.(?:gz|bz2|xz|zst|zip))?")


def is_rotated_name(name: str, candidate: str) -> bool:
    """`candidate` is a name logrotate gives a rotated `name`: `name.1`, `name.1.gz`,
    `name-20250716[.gz]`, `name.2025-07-16`, or with `extension`, `stem.1.ext[.gz]`;
    or the one it moves a file made under `name` meanwhile to, `name-2025071612.backup`.

    >>> [is_rotated_name("logs.json", n) for n in ("logs.json.1.gz", "logs.1.json",
    ...                                            "other.json", "logs.json.bak",
    ...                                            "logs.json-2025071612.backup")]
    [True, True, False, False, True]
    """
    return _rotated_names(name).fullmatch(candidate) is not None


@functools.lru_cache(maxsize=4096)
def rotated_from(candidate: str) -> frozenset[str]:
    """The names `candidate` is a rotated name of (see `is_rotated_name`); a dated name
    may be read several ways (`bot-2025-07-19.log-20250720`: of `bot-2025-07-19.log`,
    and with `extension`, of `bot.log-20250720`). Cached: the watcher's filter asks it
    of every change to a file no glob matches, and a scan of every file in a folder.

    >>> sorted(rotated_from("logs.json.1.gz")), sorted(rotated_from("logs.1.json"))
    (['logs.json'], ['logs.json'])
    >>> sorted(rotated_from("logs.json-20250716")), sorted(rotated_from("logs.json"))
    (['logs.json'], [])
    """
    base = _PACKED.sub("", candidate)
    _, dot, ext = base.rpartition(".")
    names = set()
    for i in range(1, len(base) - 1):
        if base[i] in "._-" and base[i + 1].isdigit():
            names.add(base[:i])
            if dot:
                names.add(f"{base[:i]}.{ext}")
    return frozenset(name for name in names if is_rotated_name(name, candidate))


def find_copy(path: str, identity: FileIdentity, mark: Mark | None, position: int, *,
              empty_since: float | None = None, current: int | None = None,
              exclude: Collection[tuple[int, int, int]] = (),
              known: Collection[int] = (),
              read_elsewhere: Collection[ReadContent] = ()) -> str | None:
    """The rotated copy of the file at `path` that `identity` and `mark` describe,
    holding at least its first `position` bytes: what logrotate's copytruncate leaves
    before it truncates (plain or compressed), or a renamed file compressed since.

    A copy is a file of the same folder under a rotated name of `path` (never another
    log that starts with the same banner) whose head and marked bytes are the ones
    read, and at least `position` (and `mark.end`) bytes long, decompressed. Plain
    files are tried first, then the most recent: the first that matches is the one.
    (It may even carry `identity`'s inode: a generation read whole from a compressed
    file is checkpointed under that file's own, see `read_generation`.)

    A file last seen empty (`identity` has no head, `mark` no bytes) has no content to
    compare: its copy is one written since then (`empty_since`, wall-clock seconds),
    holding bytes, that the file itself (`current`, a descriptor) does not still begin
    with (logrotate's `copy` leaves the file as it was), and neither one of `exclude`
    (copies read already, by `copy_key`) nor a file logship follows or has a checkpoint
    of (`known`, their inodes: a file rotated away just before this one was created is
    no copy of it), nor a file holding what was read of another one (`read_elsewhere`:
    the file rotated away before this one, renamed and compressed since, under a new
    inode with its modification time kept, which a late write may have made later than
    when this one was seen empty). Without `empty_since` there is none.
    """
    entries = _rotated_files(path)
    if identity.head_len == 0 and (mark is None or mark.length == 0):
        return _written_since([e for e in entries if copy_key(e) not in exclude
                               and e.inode() not in known and e.inode() != identity.inode],
                              empty_since, current, read_elsewhere)
    for entry in sorted(entries, key=_copy_order):
        if is_copy(entry.path, identity, mark, position):
            return entry.path
    return None


def _rotated_files(path: str) -> list[os.DirEntry[str]]:
    """The files of `path`'s folder under a rotated name of it."""
    directory, name = os.path.split(path)
    try:
        return [e for e in os.scandir(directory) if is_rotated_name(name, e.name)
                and e.is_file()]
    except OSError:
        return []


def later_generations(path: str, since_ns: int, *, current: int | None = None,
                      exclude: Collection[tuple[int, int, int]] = (),
                      known: Collection[int] = (),
                      read_elsewhere: Collection[ReadContent] = ()) -> list[str]:
    """The files under rotated names of `path` modified after `since_ns` (the file's
    modification time, in nanoseconds, when logship last looked at it), oldest first:
    what rotations made while logship was stopped of content written since.

    Each rotation leaves its file as it was when the next one began, so none of the
    generations before the one logship knew was modified later than it: a renamed file
    keeps its time, logrotate stamps a plain copy when it makes it (before it truncates
    the original) and `compress` keeps the time of what it packs. The generations that
    came after were written later. Left out: files holding nothing, copies read
    already (`exclude`, by `copy_key`), files logship follows or has a checkpoint of
    (`known`, their inodes), files holding what was read of another one (`read_elsewhere`:
    a file followed, renamed and compressed since under a new inode), and copies the file
    `current` (a descriptor) still begins with (logrotate's `copy` leaves the file as it
    was). The file systems' clock is
    coarse (a few milliseconds): a generation written within the same tick as the last
    look is taken for an older one.
    """
    later = []
    for entry in _rotated_files(path):
        with contextlib.suppress(OSError):
            st = entry.stat()
            if (st.st_size and st.st_mtime_ns > since_ns and st.st_ino not in known
                    and copy_key(st) not in exclude):
                later.append((st.st_mtime_ns, entry.path))
    return [p for _, p in sorted(later)
            if (current is None or not _begins_with_copy(current, p))
            and not _holds_any(p, read_elsewhere)]


@dataclass
class Generation:
    """A rotated file read whole (decompressed): its bytes, and the identity and mark
    a checkpoint of it carries (its own device and inode; the head and the marked end
    of what it holds, so a copy compressed later is still known by its content)."""

    data: bytes
    identity: FileIdentity
    mark: Mark
    mtime_ns: int


def read_generation(path: str) -> Generation:
    """The file at `path`, read whole and decompressed (raises COPY_ERRORS, KeyError)."""
    st = os.stat(path)
    with _open_copy(path) as f:
        data = f.read()
    head = data[:HEAD_BYTES]
    identity = FileIdentity(dev=st.st_dev, inode=st.st_ino, head_len=len(head),
                            head_hash=_digest(head))
    end = len(data)
    return Generation(data, identity, _mark(data[max(0, end - MARK_BYTES):], end),
                      st.st_mtime_ns)


CLOCK_SLACK = 0.05
"""Seconds a file's modification time may lag the wall clock: the kernel stamps files
with a coarse clock (a few milliseconds behind `time.time()`)."""


def _written_since(entries: list[os.DirEntry[str]], since: float | None,
                   current: int | None, read_elsewhere: Collection[ReadContent] = ()
                   ) -> str | None:
    """The newest of `entries` written after `since` that holds bytes the file
    `current` does not begin with, and none of `read_elsewhere` (another file's)."""
    if since is None:
        return None
    fresh = []
    for entry in entries:
        with contextlib.suppress(OSError):
            st = entry.stat()
            if st.st_size > 0 and st.st_mtime > since - CLOCK_SLACK:
                fresh.append((st.st_mtime, entry.path))
    for _, path in sorted(fresh, reverse=True):
        if _holds_any(path, read_elsewhere):
            continue
        if current is None or not _begins_with_copy(current, path):
            return path
    return None


def _holds_any(path: str, contents: Collection[ReadContent]) -> bool:
    """The file at `path` (decompressed) holds one of `contents`: it is that file's."""
    return any(is_copy(path, c.identity, c.mark, c.position) for c in contents)


def _begins_with_copy(fd: int, copy: str) -> bool:
    """The open file `fd` starts with the whole (decompressed) content of `copy`."""
    try:
        data = read_copy(copy, 0)
    except COPY_ERRORS:
        return False
    return bool(data) and os.pread(fd, len(data), 0) == data


def copy_key(entry: os.DirEntry[str] | os.stat_result) -> tuple[int, int, int]:
    """What tells a copy read already from another file (an inode may be reused once
    the copy is deleted): device, inode and modification time."""
    try:
        st = entry.stat() if isinstance(entry, os.DirEntry) else entry
    except OSError:
        return -1, -1, -1
    return st.st_dev, st.st_ino, st.st_mtime_ns


def is_copy(path: str, identity: FileIdentity, mark: Mark | None, position: int) -> bool:
    """The file at `path` (decompressed) holds the content `identity` and `mark`
    describe, at least `position` bytes of it (its name is not judged here)."""
    try:
        with _open_copy(path) as f:
            return _holds(f, identity, mark, position)
    except (*COPY_ERRORS, KeyError):
        return False


def _copy_order(entry: os.DirEntry[str]) -> tuple[bool, float]:
    try:
        mtime = entry.stat().st_mtime
    except OSError:
        mtime = 0.0
    return _PACKED.search(entry.name) is not None, -mtime


def _holds(f: BinaryIO, identity: FileIdentity, mark: Mark | None, position: int) -> bool:
    """The (decompressed) stream `f` starts with the head, has the marked bytes and is
    at least `position` bytes long."""
    head = f.read(identity.head_len)
    if len(head) != identity.head_len or _digest(head) != identity.head_hash:
        return False
    if mark is not None:
        f.seek(mark.end - mark.length)
        if _digest(f.read(mark.length)) != mark.hash:
            return False
        position = max(position, mark.end)
    return f.seek(0, os.SEEK_END) >= position


def read_copy(path: str, start: int) -> bytes:
    """The bytes of a (possibly compressed) copy from `start` to its end."""
    with _open_copy(path) as f:
        f.seek(start)
        return f.read()


def split_lines(data: bytes, base: int, max_line_bytes: int, *, whole: bool = False
                ) -> Lines:
    """The complete lines of `data`, which starts at file offset `base`; long lines cut.
    `whole`: `data` is all there will ever be, so an unfinished last line is a line too.

    >>> split_lines(b"a\\nbc\\nd", 10, 100, whole=True)
    Lines(lines=[b'a', b'bc', b'd'], ends=[12, 15, 16], cut=[])
    """
    lines = data.split(b"\n")
    rest = lines.pop()
    ends = list(accumulate((len(line) + 1 for line in lines), initial=base))[1:]
    if whole and rest:
        lines.append(rest)
        ends.append(base + len(data))
    cut = [i for i, line in enumerate(lines) if len(line) > max_line_bytes]
    for i in cut:
        lines[i] = lines[i][:max_line_bytes]
    return Lines(lines, ends, cut)


def _open_copy(path: str) -> BinaryIO:
    """`path` opened for reading, decompressed; KeyError when packed in a way the
    standard library cannot read."""
    packed = _PACKED.search(path)
    if packed is None:
        return open(path, "rb")
    return _OPENERS[packed.group(0)](path, "rb")


def end_of_last_line(fd: int, window: int = 65536, size: int | None = None) -> int:
    """The offset just past the last newline of the open file (0 when it has none);
    with `size`, the last newline within its first `size` bytes."""
    size = os.fstat(fd).st_size if size is None else min(size, os.fstat(fd).st_size)
    start = max(0, size - window)
    tail = os.pread(fd, size - start, start)
    newline = tail.rfind(b"\n")
    return start + newline + 1 if newline >= 0 else (0 if start == 0 else size)
