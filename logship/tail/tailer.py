"""Find the sources' files, follow them live with watchfiles, and hand their events on.

One `Tailer` serves every source. It watches the static root of each glob recursively
(so `logs/2025-07-16/` created at midnight is seen), reads each changed file in large
chunks, parses complete lines into events and awaits `dispatch(events, progress)` for
each batch. `dispatch` (the daemon's) routes the events and registers the ones that need
delivery with `progress.track`; everything else counts as done at once. Awaiting
dispatch is the backpressure: when the sinks' queues are full, reading pauses.

Files are followed across rename+create rotation (the old descriptor is read to its end,
and again `ROTATED_LINGER` later, before it is let go), deletion, and truncation in place
(read again from 0, after the lines not reached yet are read from the copy logrotate's
copytruncate made first). A checkpoint belongs to a file's identity, not its name: a
file renamed while logship was stopped is found again in its folder (by inode, head and
mark) and read to its end, or read from its compressed copy; a file truncated while
logship was stopped is caught up from its copy, then read from 0. However many
rotations came while it was stopped, every later generation (a file under a rotated
name modified after the checkpointed file was last seen, see `later_generations`) is
read too, from its start, oldest first, once (see `_Rotated`); so is every generation
rotated, since logship's last save, from a file a known source has without a checkpoint
at start (created while logship was stopped: a new day's file). Equal heads alone
prove nothing (a bot may open every day's file with the same banner): a checkpoint or a
followed file is taken for a file only when the bytes where reading stopped (the mark)
match too, and a copy must carry a rotated name of the file (see `reader`).

The old content of a truncated file keeps its own checkpoint (old identity, offset,
mark) as a retired stand-in until its events are done, so a crash meanwhile finds it
at the next start and reads the copy from there. `start_at` is for the files of a
source never seen before (`known_sources`): any later file without a checkpoint is new
and read from its beginning. Checkpoints no followed file claims (a source a reload
removed, an unreadable file) are kept while their file is there.

A glob that matches no file is named at start (a warning with the nearest existing
folder: a wrong path is never silent), and once more `UNMATCHED_AGAIN` seconds later if
it still matches none (a one-off timer).

Descriptors stay bounded: past `MAX_OPEN_FILES`, the files quiet the longest are closed
("dormant") and opened again when they change. A record a parser holds back (a traceback
may still follow) goes out after `idle_flush` seconds of quiet; the wait for that is a
timeout on the watcher, not a polling loop. A line the writer has not finished waits for
its newline, however long: it is handed out as it is only when its file is let go for
good (rotated away and done lingering, deleted, or no longer matched after a reload),
and at a stop it is simply not checkpointed (it is read whole next time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from logship.config import SourceConfig
from logship.event import Event
from logship.parse import RecordParser, make_parser
from logship.tail.checkpoint import Checkpoint, FileIdentity, FileProgress
from logship.tail.globs import PathMatcher
from logship.tail.own_log import OwnLog, own_log_file
from logship.tail.reader import (
    CLOCK_SLACK,
    COPY_ERRORS,
    Lines,
    ReadContent,
    TailedFile,
    copy_key,
    end_of_last_line,
    find_by_inode,
    find_copy,
    is_copy,
    is_rotated_name,
    is_same_file,
    later_generations,
    read_copy,
    read_generation,
    rotated_from,
    split_lines,
)

log = logging.getLogger("logship.tail")

Dispatch = Callable[[list[Event], FileProgress], Awaitable[None]]

# watchfiles: report a change once no new one came for STEP ms, at most DEBOUNCE ms late.
WATCH_STEP_MS = 50
WATCH_DEBOUNCE_MS = 100
# Descriptors held at most; beyond that the longest-quiet files are closed until they change.
MAX_OPEN_FILES = 64
ROTATED_LINGER = 1.0
"""Seconds a file renamed or deleted away stays open after it was read to its end: a
writer that checked its path just before the rename (Python's WatchedFileHandler does so
before each record) still writes once more into the old file, and those lines are read
before the file is let go."""

UNMATCHED_AGAIN = 600.0
"""Seconds after the start (or a reload) when a glob that matched no file then and still
matches none is reported once more."""


@dataclass(eq=False)
class TrackedFile:
    """A file being followed: its reader, its parser and its acknowledgement watermark."""

    source: SourceConfig
    reader: TailedFile
    parser: RecordParser
    progress: FileProgress
    active_at: float = field(default_factory=time.monotonic)  # last time it had news
    flush_at: float | None = None  # when held-back data goes out if nothing else comes
    linger_until: float | None = None  # rotated away: when to read it a last time, close it
    dropped: bool = False  # a reload let go of it: its position is kept once it is done
    # a generation of a file rotated while logship was stopped, read at start: the
    # generations of that file read then (see `_Rotated`)
    chain: _Rotated | None = None
    # what was read of the file its path named before (see `Tailer._replaced_content`)
    replaced: ReadContent | None = None

    @property
    def path(self) -> str:
        return self.reader.path

    @property
    def holding_record(self) -> bool:
        """The parser holds back a record that more lines may still join."""
        return self.parser.buffered_from is not None

    def checkpoint(self) -> Checkpoint:
        since = self.chain.since_ns if self.chain is not None else None
        return Checkpoint(self.path, self.reader.identity, self.progress.committed,
                          self.reader.mark(), self.source.name, self.reader.empty_at,
                          since if since is not None else self.reader.mtime_ns)


@dataclass(eq=False)
class _Rotated:
    """A followed path whose file was rotated (renamed, copied and truncated,
    compressed) while logship was stopped, perhaps several times: the generations of it
    read at start. The one that holds a checkpoint's position is read from there (the
    checkpointed file under another name, or its copy); every later one, written after
    the checkpoint (`since_ns`, see `later_generations`), from its start, oldest first.

    Each generation read is checkpointed as a member of the chain, under the path, with
    the chain's `since_ns`, and every member's checkpoint is kept until all of them are
    done and every generation has been read: a crash meanwhile finds the same chain at
    the next start, reads each member on from its checkpoint (a done one from its end)
    and the generations not read yet from their start, and no done one again."""

    source: SourceConfig
    since_ns: int | None  # the earliest time its checkpoints saw their files (None: unknown)
    members: list[TrackedFile] = field(default_factory=list)
    reading: bool = True  # generations are still being looked for and read
    # what was read of files under the path: no generation of it (see `later_generations`)
    read_elsewhere: tuple[ReadContent, ...] = ()
    while_stopped: bool = True  # else a new file took the place of one followed live

    def join(self, tracked: TrackedFile) -> None:
        tracked.chain = self
        self.members.append(tracked)

    @property
    def done(self) -> bool:
        return not self.reading and not any(m.progress.pending or m.linger_until is not None
                                            for m in self.members)


@dataclass(frozen=True)
class _LastLook:
    """What logship saw last of a file under a path before it let go of it."""

    # a modification time logship saw it at (when its head was last read: it may have
    # been written to since, so `read` tells it apart, not this time)
    mtime_ns: int
    read: tuple[ReadContent, ...]  # what was read of it (and of the file it replaced)


@dataclass
class _Source:
    config: SourceConfig
    matcher: PathMatcher = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = PathMatcher(self.config.paths, self.config.exclude)


class Tailer:
    """Follows every source's files and feeds their events to `dispatch`."""

    def __init__(
        self,
        sources: Sequence[SourceConfig],
        saved: Iterable[Checkpoint],
        dispatch: Dispatch,
        *,
        max_open: int = MAX_OPEN_FILES,
        own_log: OwnLog | None = None,
        known_sources: Iterable[str] = (),
        unmatched_again: float = UNMATCHED_AGAIN,
        saved_at_ns: int | None = None,
    ) -> None:
        # sources whose files were looked at already: `start_at` is for the others only
        self._known = set(known_sources)
        # when `saved` was saved (the file system's clock): see `_note_new_file`; None
        # once the startup scan is over
        self._saved_at_ns = saved_at_ns
        self._known_saved = set(self._known)
        self._sources = [_Source(s) for s in sources]
        # by inode: one inode may have two (its old content's, still in flight when a
        # truncation was seen, and its new content's)
        saved = list(saved)
        self._saved: dict[tuple[int, int], list[Checkpoint]] = {}
        for checkpoint in saved:
            key = (checkpoint.identity.dev, checkpoint.identity.inode)
            self._saved.setdefault(key, []).append(checkpoint)
        self._saved_paths = {c.path for c in saved}
        self._dispatch = dispatch
        self._max_open = max_open
        # logship's own log (stderr as a file) is never read, whatever its name
        self._own_log = own_log if own_log is not None else own_log_file()
        self._own_log_refused: set[str] = set()  # reported once per name
        self._files: dict[str, TrackedFile] = {}
        self._retired: list[TrackedFile] = []
        self._dropped: list[TrackedFile] = []  # unmatched after a reload, not let go yet
        self._unreadable: set[str] = set()  # reported once, retried on their next change
        # start_at = "end" files that could not be opened at start: (dev, inode, size) then
        self._unopened_at_start: dict[str, tuple[int, int, int]] = {}
        self._copies_read: dict[tuple[int, int], int] = {}  # copytruncate copies: how far
        self._copied: set[tuple[int, int, int]] = set()  # copies read (`copy_key`)
        # paths whose rotations logship did not see (made while it was stopped, or
        # before it looked) and reads first, by path
        self._rotated: dict[str, _Rotated] = {}
        # when logship last looked at the file under a path, by its checkpoint found at
        # start: see `_note_current`
        self._looked_at: dict[str, int] = {}
        # when logship started looking (the file system's clock, a little early): see
        # `_note_new_file`
        self._live_since_ns = time.time_ns() - int(CLOCK_SLACK * 1e9)
        # paths whose files were let go of, and nothing under them opened since: what
        # logship saw last there (see `_note_new_file`)
        self._last_look: dict[str, _LastLook] = {}
        self.lines_read = 0
        self.lines_cut = 0
        # The files found at start are open (and followed): a slow webhook holding back
        # their reading must not hold back systemd's READY=1.
        self.watching = asyncio.Event()
        self._rewatch = asyncio.Event()  # the sources changed: watch their folders anew
        self._stop: asyncio.Event | None = None  # run's: once set, reading stops
        # a glob that matched nothing at start is looked at once more this much later
        self._unmatched_again = unmatched_again
        self._unmatched_timer: asyncio.TimerHandle | None = None

    # -- public -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the files until `stop` is set. Returns once reading has stopped.

        Reading stops between chunks as soon as `stop` is set, even in a big backlog:
        what was read is handed out, the rest is not checkpointed and is read next time.
        """
        self._stop = stop
        initial = True
        while initial or not stop.is_set():  # the files found at start are read at least
            self._rewatch.clear()
            await self._watch(stop, initial)
            await self._let_go_dropped()
            initial = False

    def set_sources(self, sources: Sequence[SourceConfig]) -> None:
        """A reload: follow these sources from now on. Files still matched keep their
        place (nothing is read again); files no longer matched are let go once their
        events are done, and their position is kept (a source added back resumes
        there); new matches start as at startup (`start_at` for a source never seen).

        A file no longer matched may be in the middle of a read (paused in `dispatch`):
        it is only set aside here, and `run` reads it to its end, flushes what it holds
        and closes it between reads."""
        self._sources = [_Source(s) for s in sources]
        for tracked in list(self._files.values()):
            source = self._source_for(tracked.path)
            if source is None:
                del self._files[tracked.path]
                self._dropped.append(tracked)
            else:
                tracked.source = source
        self._rewatch.set()

    async def _watch(self, stop: asyncio.Event, initial: bool) -> None:
        """One watcher over the current sources' folders, until stop or a reload."""
        watch_stop = asyncio.Event()  # ends this watcher: on stop, or to watch anew
        relay = asyncio.create_task(_first_of(stop, self._rewatch, then=watch_stop.set))
        changes = awatch(
            *sorted({str(root) for s in self._sources for root in s.matcher.roots()}),
            watch_filter=self._relevant,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            stop_event=watch_stop,
            recursive=True,
            ignore_permission_denied=True,
        )
        # The first __anext__ sets up the inotify watches before it first awaits, so the
        # scan below cannot miss a line written in between.
        next_batch = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0)
        try:
            if initial:
                await self._recover_renamed()
            await self._scan(initial=True)
            self._saved_at_ns = None  # only a file found at start was created while stopped
            while not watch_stop.is_set():
                done, _ = await asyncio.wait({next_batch, relay}, timeout=self._until_flush(),
                                             return_when=asyncio.FIRST_COMPLETED)
                if next_batch in done:
                    try:
                        batch = next_batch.result()
                    except StopAsyncIteration:
                        break
                    await self._apply(batch)
                    next_batch = asyncio.ensure_future(anext(changes))
                elif not done:
                    await self._flush_idle()
        finally:
            watch_stop.set()
            relay.cancel()
            next_batch.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_batch
            await changes.aclose()

    def known_sources(self) -> list[str]:
        """The sources whose files have been looked at (at start, or when a reload added
        them): a file of theirs without a checkpoint is new since, and read whole."""
        return sorted(self._known)

    def checkpoints(self) -> list[Checkpoint]:
        """The committed position of every file still followed or still in flight, and
        the saved positions not claimed (yet) by a followed file, as long as their file
        is still there: a source a reload removed may come back, and a file unreadable
        now may be readable later."""
        self._forget_finished()
        return [f.checkpoint() for f in self._all()] + self._kept_checkpoints()

    def _kept_checkpoints(self) -> list[Checkpoint]:
        """The saved checkpoints not claimed, those whose inode is gone pruned."""
        kept = []
        for key, entries in list(self._saved.items()):
            entries[:] = [c for c in entries if _names(c.path, c.identity)]
            kept += entries
            if not entries:
                del self._saved[key]
        return kept

    @property
    def changed(self) -> bool:
        return self._known != self._known_saved or any(f.progress.changed for f in self._all())

    def mark_saved(self) -> None:
        self._known_saved = set(self._known)
        for f in self._all():
            f.progress.changed = False

    def close(self) -> None:
        if self._unmatched_timer is not None:
            self._unmatched_timer.cancel()
            self._unmatched_timer = None
        for f in self._all():
            f.reader.close()

    def _all(self) -> tuple[TrackedFile, ...]:
        return (*self._files.values(), *self._dropped, *self._retired)

    def files(self) -> list[TrackedFile]:
        return list(self._files.values())

    @property
    def open_files(self) -> int:
        return sum(not f.reader.closed for f in self._files.values())

    # -- discovery ----------------------------------------------------------------

    def _relevant(self, change: Change, path: str) -> bool:
        """watchfiles filter: matched files, folders (a new one may hold matches), and
        files under a rotated name of a matched one (it may have been rotated away before
        logship could open it)."""
        if any(s.matcher.matches(path) for s in self._sources):
            return True
        if change == Change.added and os.path.isdir(path):
            return True
        return bool(self._rotated_from(path))

    async def _scan(self, initial: bool = False) -> None:
        """Open every matched file not followed yet, then read each one's news.

        Descriptors are let go as the scan goes (past `max_open` the longest-quiet
        files turn dormant), so a folder of a thousand days' logs never runs into the
        open-file limit and today's log, last in order, is opened like the others."""
        scanned: dict[str, list[str]] = {}
        for source in self._sources:
            scanned[source.config.name] = found = source.matcher.scan()
            for path in found:
                if path not in self._files:
                    await self._open(source.config, path, initial)
                    self._release_descriptors()
        for source in self._sources:
            for path in self._rotated_away(source):
                await self._read_rotated_away(path, source.config, initial)
        for path in list(self._rotated):  # rotated away with nothing under its name now
            await self._read_later_generations(path, current=None)
        if initial:  # from now on, a file of theirs without a checkpoint is a new one
            self._known.update(s.config.name for s in self._sources)
            self._report_unmatched_at_start(scanned)
        self.watching.set()
        for tracked in list(self._files.values()):
            if self._stopping:
                break
            if tracked.reader.closed:
                await self._follow(tracked)  # dormant since it was opened: wake it
            else:
                await self._pump(tracked)
            self._release_descriptors()

    def _report_unmatched_at_start(self, scanned: dict[str, list[str]]) -> None:
        """Say which globs match no file (a wrong path is otherwise silent), and look
        once more `unmatched_again` seconds later (a timer, not a polling loop)."""
        if self._unmatched_timer is not None:
            self._unmatched_timer.cancel()
            self._unmatched_timer = None
        unmatched = [(source, pattern) for source in self._sources
                     for pattern in source.matcher.unmatched(scanned[source.config.name])]
        for source, pattern in unmatched:
            log.warning("source %s: no file matches %s (%s); watching for one",
                        source.config.name, pattern, source.matcher.why_unmatched(pattern))
        if unmatched:
            self._unmatched_timer = asyncio.get_running_loop().call_later(
                self._unmatched_again, self.report_unmatched, True)

    def report_unmatched(self, again: bool = False) -> list[str]:
        """Log a warning for each glob that matches no file now; those globs."""
        self._unmatched_timer = None
        reported = []
        for source in self._sources:
            for pattern in source.matcher.unmatched(source.matcher.scan()):
                log.warning("source %s: %s %s (%s)", source.config.name,
                            "still no file matches" if again else "no file matches",
                            pattern, source.matcher.why_unmatched(pattern))
                reported.append(pattern)
        return reported

    def _source_for(self, path: str) -> SourceConfig | None:
        for source in self._sources:
            if source.matcher.matches(path):
                return source.config
        return None

    def _source_of(self, saved: Checkpoint) -> SourceConfig | None:
        """The source a checkpointed file belongs to: the one whose globs match its
        path, else the one it was read for (a rotated name no glob matches)."""
        found = self._source_for(saved.path)
        if found is None and saved.source is not None:
            found = next((s.config for s in self._sources if s.config.name == saved.source),
                         None)
        return found

    async def _open(self, source: SourceConfig, path: str, initial: bool
                    ) -> TrackedFile | None:
        """Start following `path`: at its checkpoint if it is a file we know (by identity,
        under any name), else from its beginning (a file that appears while running,
        one that took the place of a checkpointed file, or any new file of a source
        known already), else (a source never seen, at its first scan) per `start_at`."""
        reader = self._open_reader(path, source.max_line_bytes)
        starts_at_end = (initial and source.start_at == "end" and source.name not in self._known
                         and path not in self._saved_paths)
        if reader is None:
            if starts_at_end:
                self._remember_unopened(path)
            return None
        saved = self._claim_checkpoint(reader)
        if saved is not None and not _has_content(saved):
            self._note_rotated(saved, source)  # its lines may be in rotated files only
        if saved is not None and saved.path == path:
            self._note_current(saved)
        replaced = None if initial else self._latest_retired(path)
        if await self._recover_replaced(reader, source):
            starts_at_end = False  # a file we knew, truncated: its new content is read
        elif saved is None:
            self._note_new_file(path, source, initial, replaced)
        elif replaced is not None:
            self._note_replaced(replaced, source)
        await self._read_later_generations(path, current=reader.fd)
        if saved is not None:
            reader.seek(min(saved.offset, reader.size()))
            how = f"at checkpoint {reader.position}"
            if saved.path != path:
                how += f" (renamed from {saved.path})"
        elif (copied := self._copies_read.pop(_inode(reader), None)) is not None:
            reader.seek(min(copied, reader.size()))
            how = f"at {reader.position} (a copy, read that far already)"
        elif (earlier := await self._renamed_from(reader)) is not None:
            reader.seek(earlier.reader.position)
            how = f"at {reader.position} (renamed from {earlier.path})"
        elif (twin := self._copied_from(reader)) is not None:
            reader.seek(twin.reader.position)
            how = f"at {reader.position}, as a copy of {twin.path} (read that far there)"
        elif (size := self._size_at_start(reader)) is not None:
            reader.seek(end_of_last_line(reader.fd, size=size))
            how = f"at {reader.position}, its end when logship started"
        elif starts_at_end:
            reader.seek(end_of_last_line(reader.fd))
            how = f"at its end ({reader.position})"
        else:
            how = "from the beginning"
        tracked = self._track(source, reader)
        if replaced is not None:
            tracked.replaced = _content_of(replaced)
        log.info("following %s %s (source %s)", path, how, source.name)
        return tracked

    def _latest_retired(self, path: str) -> TrackedFile | None:
        """The file let go of last under `path`, if it is still in flight or lingering:
        the one a new file under `path` replaced."""
        return next((t for t in reversed(self._retired) if t.path == path), None)

    def _note_replaced(self, replaced: TrackedFile, source: SourceConfig) -> None:
        """A new file took the place of `replaced`, followed live. A file that was under
        the name only between two looks is one of its later generations, read from its
        start (see `_read_later_generations`): a writer that reopens by path found no
        file between logrotate's rename and its `create` and made one, which logrotate
        moved to `NAME-YYYYMMDDHH.backup`. Later means written after `replaced` last
        was; a file holding what was read of `replaced` (compressed since, under a new
        inode) is `replaced`'s. Unknown for a dormant file (closed): nothing is looked
        for then."""
        if replaced.reader.closed or replaced.path in self._rotated:
            return
        last_written = os.fstat(replaced.reader.fd).st_mtime_ns
        self._rotated[replaced.path] = _Rotated(source, last_written,
                                                read_elsewhere=_read_of(replaced),
                                                while_stopped=False)

    def _remember_unopened(self, path: str) -> None:
        """A start_at = "end" file found at start could not be opened (EMFILE, EACCES):
        its size then is where reading starts once it can be opened."""
        with contextlib.suppress(OSError):
            st = os.stat(path)
            self._unopened_at_start[path] = (st.st_dev, st.st_ino, st.st_size)

    def _size_at_start(self, reader: TailedFile) -> int | None:
        """The size at start of a file `_remember_unopened` noted, if it is that file."""
        noted = self._unopened_at_start.pop(reader.path, None)
        if noted is None or noted[:2] != _inode(reader):
            return None
        return noted[2]

    def _open_reader(self, path: str, max_line_bytes: int) -> TailedFile | None:
        try:
            reader = TailedFile.open(path, 0, max_line_bytes)
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            if path not in self._unreadable:
                self._unreadable.add(path)
                log.error("cannot open %s: %s; will retry when it changes", path,
                          exc.strerror or exc)
            return None
        if path in self._unreadable:
            self._unreadable.discard(path)
            log.info("%s is readable now", path)
        if self._is_own_log(reader):
            reader.close()
            return None
        return reader

    def _is_own_log(self, reader: TailedFile) -> bool:
        """`reader` has logship's own log open (defence in depth: `logship run` refuses
        a config whose sources match it, but a glob can match it later, or a rename)."""
        own = self._own_log
        if own is None or (own.dev, own.inode) != _inode(reader):
            return False
        if reader.path not in self._own_log_refused:
            self._own_log_refused.add(reader.path)
            log.error("not following %s: it is logship's own log (its stderr); shipping it "
                      "would loop", reader.path)
        return True

    def _claim_checkpoint(self, reader: TailedFile) -> Checkpoint | None:
        """The saved checkpoint of the very file `reader` has open (inode, head and
        mark), taken out of the saved ones. Of two (a file renamed while its old name's
        events were in flight), the earlier: what lies past it may not be done."""
        entries = self._saved.get(_inode(reader), [])
        matching = [c for c in entries if is_same_file(reader.fd, c.identity, c.mark)]
        for saved in matching:
            self._forget_saved(saved)
        return min(matching, key=lambda c: c.offset, default=None)

    async def _recover_replaced(self, reader: TailedFile, source: SourceConfig) -> bool:
        """Saved checkpoints of `reader`'s inode whose content is no longer there (a
        claimed one is gone from them already): the file was truncated since
        (copytruncate while logship was stopped; or its old content's events were
        still in flight at a crash), or the inode now holds another file. What was
        written past each checkpoint is read from the file's rotated copy, when there
        is one. True when such a checkpoint was there for this very path."""
        truncated = False
        for saved in self._saved.pop(_inode(reader), []):
            if saved.path != reader.path:
                continue  # that file is gone; its inode now names another
            truncated = True
            if not await self._read_past_checkpoint(
                    saved, source, "was truncated or replaced since its checkpoint",
                    self._note_rotated(saved, source)):
                log.warning("%s was truncated or replaced since its checkpoint at offset "
                            "%d and no rotated copy of it was found: lines written after "
                            "that offset and before the truncation may be lost",
                            saved.path, saved.offset)
        return truncated

    async def _read_past_checkpoint(self, saved: Checkpoint, source: SourceConfig,
                                    what: str, rotated: _Rotated) -> bool:
        """Read what was written past `saved` from a rotated copy of its file (under
        its checkpoint, as a retired stand-in and a member of `rotated`, so that a crash
        meanwhile does it again next time). False when there is no copy. A file last
        seen empty has none: every copy of it holds later generations."""
        if not _has_content(saved):
            return False
        copy = find_copy(saved.path, saved.identity, saved.mark, saved.offset,
                         exclude=self._copied)
        if copy is None:
            return False
        if self._follows(copy):
            return True  # a glob matches the copy: it is read as a file of its own
        old = TrackedFile(
            source=source,
            reader=TailedFile.stand_in(saved.path, saved.identity, saved.offset, saved.mark,
                                       source.max_line_bytes, saved.empty_at,
                                       saved.mtime_ns),
            parser=make_parser(source.format, source=source.name, path=saved.path),
            progress=FileProgress(saved.offset),
        )
        rotated.join(old)
        self._retired.append(old)
        log.info("%s %s; reading its copy %s from offset %d", saved.path, what, copy,
                 saved.offset)
        await self._read_copy(old, copy)
        await self._flush_record(old)
        return True

    def _forget_saved(self, saved: Checkpoint) -> None:
        key = (saved.identity.dev, saved.identity.inode)
        entries = self._saved.get(key, [])
        if saved in entries:
            entries.remove(saved)
        if not entries:
            self._saved.pop(key, None)

    async def _renamed_from(self, reader: TailedFile) -> TrackedFile | None:
        """A file followed under another name that is this very file (a rename the
        watcher reported under its new name first, or a retired file renamed again).
        The new name takes over from where the old one was. The head and the mark must
        match too: a deleted file's inode may be reused by a new file (with the same
        banner, even) while the old one's events are still in flight, and that new file
        is read from its start. A file still followed under its old name is read to its
        end and its held record flushed first, so that record (a traceback may have
        followed) goes out, not past the new start."""
        for tracked in (*self._files.values(), *self._retired):
            if _inode(tracked.reader) != _inode(reader):
                continue
            if not is_same_file(reader.fd, tracked.reader.identity, tracked.reader.mark()):
                continue
            if self._files.get(tracked.path) is tracked:
                await self._retire(tracked)  # its events in flight still count
            tracked.linger_until = None  # the new name reads on from here, not the old
            tracked.dropped = False  # (nor is its position kept for a source coming back)
            tracked.reader.close()
            return tracked
        return None

    def _copied_from(self, reader: TailedFile) -> TrackedFile | None:
        """The followed file `reader`'s file is a copy of (logrotate's copytruncate, with
        a glob that matches the copies too): one of its folder whose rotated name
        `reader` has, whose content up to where it was read `reader` holds."""
        folder, name = os.path.split(reader.path)
        for tracked in self._files.values():
            theirs = tracked.reader
            if (os.path.dirname(theirs.path) == folder
                    and is_rotated_name(os.path.basename(theirs.path), name)
                    and _inode(theirs) != _inode(reader)
                    and is_copy(reader.path, theirs.identity, theirs.mark(),
                                theirs.position)):
                return tracked
        return None

    def _track(self, source: SourceConfig, reader: TailedFile) -> TrackedFile:
        self._last_look.pop(reader.path, None)  # (its successor's tells from now on)
        tracked = TrackedFile(
            source=source,
            reader=reader,
            parser=make_parser(source.format, source=source.name, path=reader.path),
            progress=FileProgress(reader.position),
        )
        tracked.progress.changed = True
        self._files[reader.path] = tracked
        return tracked

    async def _recover_renamed(self) -> None:
        """A checkpointed file renamed (rotated) while logship was stopped, to a name no
        glob matches, is found in its old folder by identity and read to its end, before
        the file that took its name; renamed and compressed since, it is read from its
        compressed copy; one read under such a name before a crash is read again from
        its checkpoint. (A checkpoint whose inode still names a path a glob matches is
        the scan's: the same file, or one truncated since, see `_recover_replaced`.) The
        generations rotated from its path after it are read once the scan opens that
        path (see `_read_later_generations`)."""
        for saved in [c for entries in self._saved.values() for c in entries]:
            if saved not in self._saved.get((saved.identity.dev, saved.identity.inode), []):
                continue  # claimed with another checkpoint of the same file
            source = self._source_of(saved)
            if source is None:
                continue
            if _names(saved.path, saved.identity):
                if self._source_for(saved.path) is not None:
                    continue  # the scan's: the same file, or one truncated since
                found: str | None = saved.path  # read under a rotated name before a crash
            else:
                found = find_by_inode(os.path.dirname(saved.path), saved.identity, saved.mark)
            if found is None:
                self._forget_saved(saved)  # (its inode, if still there, holds a later file)
                await self._read_past_checkpoint(saved, source,
                                                 "was rotated while logship was stopped",
                                                 self._note_rotated(saved, source))
                continue
            if found != saved.path and self._source_for(found) is not None:
                continue  # a glob matches its new name: the scan will find it
            reader = self._open_reader(found, source.max_line_bytes)
            claimed = None if reader is None else self._claim_checkpoint(reader)
            if claimed is None:
                if reader is not None:
                    reader.close()
                continue
            if found != claimed.path and not _has_content(claimed):
                reader.close()  # last seen empty: all it holds came later, read in turn
                self._note_rotated(claimed, source)
                continue
            await self._read_renamed(claimed, source, reader)

    async def _read_renamed(self, claimed: Checkpoint, source: SourceConfig,
                            reader: TailedFile) -> None:
        """`reader` has the file `claimed` describes open under a rotated name: read it
        from the checkpoint to its end, as a member of its path's chain (checkpointed
        under that path), then let it go."""
        found = reader.path
        reader.seek(min(claimed.offset, reader.size()))
        if found == claimed.path:
            log.info("%s (rotated away before the last stop) is read again from %d",
                     found, reader.position)
        else:
            log.info("%s was rotated to %s while logship was stopped; reading it from "
                     "%d", claimed.path, found, reader.position)
        reader.path = claimed.path
        tracked = TrackedFile(
            source=source, reader=reader,
            parser=make_parser(source.format, source=source.name, path=claimed.path),
            progress=FileProgress(reader.position))
        tracked.progress.changed = True
        self._note_rotated(claimed, source).join(tracked)
        await self._retire(tracked)

    def _note_rotated(self, saved: Checkpoint, source: SourceConfig) -> _Rotated:
        """`saved`'s file was rotated, truncated or last seen empty: the chain of its
        path, which reads what was written after `saved` (see `_Rotated`)."""
        since = saved.mtime_ns
        if since is None and saved.identity.head_len == 0 and saved.empty_at is not None:
            since = int((saved.empty_at - CLOCK_SLACK) * 1e9)  # saved by an older logship
        rotated = self._rotated.get(saved.path)
        if rotated is None:
            rotated = self._rotated[saved.path] = _Rotated(source, since)
        elif since is not None:
            rotated.since_ns = since if rotated.since_ns is None else min(rotated.since_ns,
                                                                          since)
        return rotated

    def _note_current(self, saved: Checkpoint) -> None:
        """`saved` is the checkpoint of the very file under its path now, under that
        name (with content, or last seen empty): logship followed it live and looked at
        it at `saved.mtime_ns`. What was rotated from the path before then was there
        while logship ran and was read live (a copytruncate copy of this file's old
        content, a file made between logrotate's rename and create): whatever
        checkpoints start a chain there (an earlier file's, this file's old content's),
        the path's later generations are those modified after that look."""
        if saved.mtime_ns is not None:
            self._looked_at[saved.path] = max(saved.mtime_ns,
                                              self._looked_at.get(saved.path, 0))

    def _note_new_file(self, path: str, source: SourceConfig, initial: bool,
                       replaced: TrackedFile | None) -> None:
        """`path` names a file without a checkpoint: one new to logship. What was rotated
        from it before logship saw it was written after what logship read under the
        name, and is read first (see `_Rotated`):

        - found at start, in a source logship knew before: the file was created while
          logship was stopped (a new day's file); its rotations since logship's last
          save (`_saved_at_ns`) were too. A source never seen has no such history:
          `start_at`. Nor has a file a reload's scan finds.
        - found live: the bot made it, wrote to it and rotated it before the watcher
          told (a new day's folder). Its rotations since logship last looked at a file
          under the name (one followed live that it replaced, see `_note_replaced`,
          or let go of, see `_last_look`), or else since logship started.
        """
        if path in self._rotated:
            return
        if initial:
            if self._saved_at_ns is not None and source.name in self._known:
                self._rotated[path] = _Rotated(source, self._saved_at_ns)
            return
        if replaced is not None and not replaced.reader.closed:
            self._note_replaced(replaced, source)  # it knows when that file was last written
            return
        since, read = self._live_since_ns, ()
        if (last := self._last_look.get(path)) is not None:
            since, read = max(since, last.mtime_ns), last.read
        if replaced is not None:
            since = max(since, replaced.reader.mtime_ns or 0)
            read += _read_of(replaced)
        self._rotated[path] = _Rotated(source, since, read_elsewhere=read, while_stopped=False)

    def _rotated_away(self, source: _Source) -> list[str]:
        """The paths `source` matches that name no file now, with files under rotated
        names of them beside them: files rotated away (logrotate's `nocreate`) before
        logship could open them, or while it was stopped."""
        found = set()
        for folder in source.matcher.folders():
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    for name in rotated_from(entry.name):
                        path = os.path.join(folder, name)
                        if (path not in self._files and source.matcher.matches(path)
                                and not os.path.lexists(path)):
                            found.add(path)
        return sorted(found)

    def _rotated_from(self, path: str) -> list[tuple[str, SourceConfig]]:
        """The matched paths `path` is under a rotated name of, with their sources."""
        folder, name = os.path.split(path)
        found = []
        for original in sorted(os.path.join(folder, n) for n in rotated_from(name)):
            if (source := self._source_for(original)) is not None:
                found.append((original, source))
        return found

    async def _read_rotated_away(self, path: str, source: SourceConfig, initial: bool
                                 ) -> None:
        """`path` names no file, but files under its rotated names are there: read those
        written after what logship read under the name, as for a new file found there
        (see `_note_new_file`), oldest first."""
        replaced = None if initial else self._latest_retired(path)
        self._note_new_file(path, source, initial, replaced)
        await self._read_later_generations(path, current=None)

    async def _read_later_generations(self, path: str, current: int | None) -> None:
        """Read, oldest first and each from its start, the files rotated from `path`
        while logship was stopped with content written after its checkpoints (the
        chain's `since_ns`), or, live, before logship saw them (see `_note_replaced`):
        not those read already as the generation holding a
        checkpoint's position, nor files logship reads as files of their own (followed,
        checkpointed, or matched by a glob). `current`: the file under `path` now, open
        (a copy it still begins with holds nothing new)."""
        rotated = self._rotated.pop(path, None)
        looked_at = self._looked_at.pop(path, None)
        if rotated is None:
            return
        if rotated.since_ns is not None:
            since = max(rotated.since_ns, looked_at or 0)
            for later in later_generations(path, since, current=current,
                                           exclude=self._copied,
                                           known=self._followed_inodes(),
                                           read_elsewhere=rotated.read_elsewhere):
                if self._source_for(later) is None:
                    await self._read_generation(rotated, path, later)
        rotated.reading = False

    def _followed_inodes(self) -> set[int]:
        """The inodes of the files read as files of their own: open, or with a saved
        checkpoint not claimed yet."""
        saved = {c.identity.inode for entries in self._saved.values() for c in entries}
        return saved | {f.reader.identity.inode for f in self._all() if not f.reader.closed}

    async def _read_generation(self, rotated: _Rotated, path: str, later: str) -> None:
        """Read the file `later`, rotated from `path` after its checkpoint, whole (as a
        retired stand-in, a member of `rotated`)."""
        source = rotated.source
        when = "while logship was stopped" if rotated.while_stopped else "before logship saw it"
        try:
            generation = read_generation(later)
        except (*COPY_ERRORS, KeyError) as exc:
            log.error("cannot read %s, rotated from %s %s: %s; its lines are not read",
                      later, path, when, exc)
            return
        tracked = TrackedFile(
            source=source,
            reader=TailedFile.stand_in(path, generation.identity, 0, generation.mark,
                                       source.max_line_bytes, mtime_ns=generation.mtime_ns),
            parser=make_parser(source.format, source=source.name, path=path),
            progress=FileProgress(0),
        )
        tracked.progress.changed = True
        rotated.join(tracked)
        self._retired.append(tracked)
        log.info("%s was rotated %s; reading %s, written since, from its start", path,
                 when, later)
        await self._read_copy(tracked, later, generation.data)
        await self._flush_record(tracked)

    # -- changes ------------------------------------------------------------------

    async def _apply(self, changes: set[tuple[Change, str]]) -> None:
        rescan = False
        for change, path in sorted(changes, key=lambda c: c[1]):
            tracked = self._files.get(path)
            if tracked is not None:
                await self._follow(tracked)
            elif (source := self._source_for(path)) is not None:
                opened = None
                if change != Change.deleted:
                    opened = await self._open(source, path, initial=False)
                if opened is not None:
                    await self._pump(opened)
                elif not os.path.lexists(path):
                    await self._read_rotated_away(path, source, initial=False)
            elif change != Change.deleted and os.path.isdir(path):
                rescan = True
            else:
                for original, source in self._rotated_from(path):
                    if original not in self._files and not os.path.lexists(original):
                        await self._read_rotated_away(original, source, initial=False)
        if rescan:
            await self._scan()
        self._release_descriptors()

    async def _follow(self, tracked: TrackedFile) -> None:
        """Read what is new; if the path now names another file (or none), finish the
        old one and start on the new."""
        if tracked.reader.closed and not self._wake(tracked):
            await self._finish_dormant(tracked)
        else:
            await self._pump(tracked)
        if tracked in self._dropped:
            return  # a reload let go of it meanwhile; its path is not ours any more
        try:
            st = os.stat(tracked.path)
        except FileNotFoundError:
            st = None
        identity = tracked.reader.identity
        if st is not None and (st.st_dev, st.st_ino) == (identity.dev, identity.inode):
            return
        if tracked.path in self._files and self._files[tracked.path] is tracked:
            await self._retire(tracked)
        if st is not None:
            opened = await self._open(tracked.source, tracked.path, initial=False)
            if opened is not None:
                await self._pump(opened)

    async def _retire(self, tracked: TrackedFile) -> None:
        """The path no longer names this file: read it to its end, and again once
        `ROTATED_LINGER` has passed (see `_let_go`). An unfinished last line waits for
        that last read: a late write may still finish it."""
        if await self._pump(tracked):
            await self._flush_record(tracked)
        if self._files.get(tracked.path) is tracked:
            del self._files[tracked.path]
        self._retired.append(tracked)
        if tracked.reader.closed:  # dormant: nobody has written to it for a while
            log.info("let go of %s (rotated or deleted) at offset %d",
                     tracked.path, tracked.reader.position)
        else:
            tracked.linger_until = time.monotonic() + ROTATED_LINGER

    async def _let_go(self, tracked: TrackedFile) -> None:
        """A rotated file's linger is over: read what was written to it since, close it."""
        tracked.linger_until = None
        reader = tracked.reader
        if not reader.closed and not reader.was_truncated() and await self._pump(tracked):
            await self._flush(tracked)
        if not reader.closed and (successor := self._files.get(tracked.path)) is not None:
            # a late write went into this file after its successor was first seen: this
            # file, read, is not one of the successor's later generations after a restart
            successor.reader.seen_after(os.fstat(reader.fd).st_mtime_ns)
        reader.close()
        log.info("let go of %s (rotated or deleted) at offset %d", tracked.path, reader.position)

    async def _let_go_dropped(self) -> None:
        """Read the files a reload no longer matches to their end, hand out what they
        hold, and close them (their events in flight still count)."""
        while self._dropped:
            tracked = self._dropped[0]
            if await self._pump(tracked):
                await self._flush(tracked)
            tracked.reader.close()
            tracked.dropped = True
            self._dropped.remove(tracked)
            self._retired.append(tracked)
            log.info("no longer following %s (not matched after reload)", tracked.path)

    def _forget_finished(self) -> None:
        """Let go of the retired files whose events are all done; a file a reload
        dropped leaves its position among the saved ones (see `checkpoints`), any other
        its last look (see `_note_new_file`)."""
        retired, self._retired = self._retired, []
        for tracked in retired:
            if (tracked.progress.pending or tracked.linger_until is not None
                    or (tracked.chain is not None and not tracked.chain.done)):
                self._retired.append(tracked)
            elif tracked.dropped:
                saved = tracked.checkpoint()
                self._saved.setdefault(_inode(tracked.reader), []).append(saved)
            elif tracked.path not in self._files:
                self._remember_last_look(tracked)

    def _remember_last_look(self, tracked: TrackedFile) -> None:
        """`tracked`, let go of, was the last file under its path: keep when logship
        saw it and what was read of it (see `_note_new_file`)."""
        before = self._last_look.get(tracked.path)
        mtime_ns = max(tracked.reader.mtime_ns or 0, before.mtime_ns if before else 0)
        self._last_look[tracked.path] = _LastLook(mtime_ns, _read_of(tracked))

    # -- descriptors ----------------------------------------------------------------

    def _release_descriptors(self) -> None:
        """Close the longest-quiet files past `max_open` that hold no record back. An
        unfinished last line is no reason to stay open: it lies past the position, and
        is read again, whole or not, when the file wakes."""
        open_files = [f for f in self._files.values()
                      if not f.reader.closed and not f.holding_record]
        excess = self.open_files - self._max_open
        if excess <= 0:
            return
        for tracked in sorted(open_files, key=lambda f: f.active_at)[:excess]:
            tracked.reader.close()

    def _wake(self, tracked: TrackedFile) -> bool:
        """Open a dormant file again; False when its path now names another file.

        Only the inode decides: a file truncated in place while dormant keeps its
        inode, and with the old identity kept `_pump` sees the changed head and reads
        it again from the start (after catching up from a copy, if one was made)."""
        old = tracked.reader
        try:
            reader = old.reopen()
        except FileNotFoundError:
            return False
        except OSError as exc:  # EMFILE, EACCES: it stays dormant until its next change
            log.warning("cannot open %s again: %s", old.path, exc.strerror or exc)
            return True
        st = os.fstat(reader.fd)  # (the new reader took on the old identity)
        if (st.st_dev, st.st_ino) != _inode(old):
            reader.close()
            return False
        tracked.reader = reader
        return True

    async def _finish_dormant(self, tracked: TrackedFile) -> None:
        """A dormant file's name was taken (or removed): read the old file, wherever its
        rotation put it, to its end, then let it go."""
        old = tracked.reader
        found = find_by_inode(os.path.dirname(old.path), old.identity, old.mark())
        if found is not None:
            reader = TailedFile.open(found, old.position, old.max_line_bytes)
            reader.path = old.path
            tracked.reader = reader
        elif (copy := find_copy(old.path, old.identity, old.mark(), old.position,
                                empty_since=old.empty_at, exclude=self._copied,
                                known=self._known_inodes(),
                                read_elsewhere=_read_before(tracked))) is not None:
            if not self._follows(copy):  # renamed and compressed at once
                await self._read_copy(tracked, copy)
        else:
            log.warning("%s was replaced while dormant and its old file is gone; lines "
                        "written to it after offset %d could not be read", old.path,
                        old.position)
        await self._retire(tracked)

    # -- reading --------------------------------------------------------------------

    @property
    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _pump(self, tracked: TrackedFile) -> bool:
        """Hand out every complete line now in the file. False when a stop ended the
        reading before the file's end (what is held then is not the file's last)."""
        reader = tracked.reader
        if reader.closed:
            return True
        if reader.was_truncated() or self._emptied_into_copy(tracked):
            await self._retire_old_content(tracked)
            log.warning("%s was truncated; reading it again from the start", reader.path)
            reader.rewind()
            tracked.parser = make_parser(tracked.source.format, source=tracked.source.name,
                                         path=reader.path)
            tracked.progress = FileProgress(0)
            tracked.progress.changed = True
        got_lines = at_end = False
        while not self._stopping:
            if (batch := reader.read_lines()) is None:
                at_end = True
                break
            got_lines = got_lines or bool(batch.lines)
            await self._hand_out(tracked, batch)
            await asyncio.sleep(0)  # let the workers and the watcher run between chunks
        reader.refresh_identity()
        now = time.monotonic()
        if got_lines:
            tracked.active_at = now
        if not tracked.holding_record:
            tracked.flush_at = None
        elif got_lines or tracked.flush_at is None:
            tracked.flush_at = now + tracked.source.idle_flush
        return at_end

    def _known_inodes(self) -> set[int]:
        """The inodes of the files followed, let go of lately or checkpointed: none of
        them is a copy of a file last seen empty."""
        known = {c.identity.inode for entries in self._saved.values() for c in entries}
        return known | {f.reader.identity.inode for f in self._all()}

    def _emptied_into_copy(self, tracked: TrackedFile) -> bool:
        """A file seen empty, written to and copytruncated before it could be read: no
        size or head tells, only a copy written since it was seen empty (and not the
        file it replaced, compressed since). Only a file under its name can be: logrotate
        copies and truncates what the name names, so a copy made once a file was rotated
        away is its successor's."""
        reader = tracked.reader
        return (self._files.get(tracked.path) is tracked
                and reader.identity.head_len == 0 and reader.position == 0
                and find_copy(reader.path, reader.identity, None, 0,
                              empty_since=reader.empty_at, current=reader.fd,
                              exclude=self._copied, known=self._known_inodes(),
                              read_elsewhere=_read_before(tracked)) is not None)

    async def _retire_old_content(self, tracked: TrackedFile) -> None:
        """`tracked`'s file was truncated in place. Its old content lives on as a retired
        stand-in that takes over the parser and the events in flight: it reads the
        lines not reached yet from the copy made first (logrotate's copytruncate), hands
        out what it holds (that content is let go for good), and keeps its checkpoint
        (the old identity, offset and mark) until its events are done. A crash before
        then finds that checkpoint no longer matching the file at the next start, and
        reads the copy from there (see `_recover_replaced`)."""
        old = TrackedFile(source=tracked.source, reader=tracked.reader.detached(),
                          parser=tracked.parser, progress=tracked.progress)
        self._retired.append(old)
        reader = old.reader
        copy = find_copy(reader.path, reader.identity, reader.mark(), reader.position,
                         empty_since=reader.empty_at, current=tracked.reader.fd,
                         exclude=self._copied, known=self._known_inodes(),
                         read_elsewhere=_read_before(tracked))
        if copy is None:
            await self._flush(old)  # an unfinished last line too: nothing can finish it
            return
        if not self._follows(copy):  # (a glob that matches the copy reads it on its own)
            await self._read_copy(old, copy)
        await self._flush_record(old)

    async def _read_copy(self, tracked: TrackedFile, copy: str, whole: bytes | None = None
                         ) -> None:
        """Hand out the lines of `copy`, the rotated copy of `tracked`'s (old) content,
        from where `tracked` stopped reading to the copy's end (`whole`: all of it, read
        already). A copy never grows: its unfinished last line is a line. The copy's
        inode notes how far it was read (a glob that matches it opens it there)."""
        reader = tracked.reader
        try:
            data = read_copy(copy, reader.position) if whole is None else whole[reader.position:]
        except COPY_ERRORS as exc:
            log.error("cannot read %s, the copy of %s: %s", copy, reader.path, exc)
            return
        batch = split_lines(data, reader.position, reader.max_line_bytes, whole=True)
        end = reader.position + len(data)
        with contextlib.suppress(OSError):
            st = os.stat(copy)
            self._copies_read[(st.st_dev, st.st_ino)] = end
            self._copied.add(copy_key(st))
        reader.skip_to(end)
        if batch.lines:
            log.info("read %d lines of %s from its copy %s", len(batch.lines), reader.path,
                     copy)
            await self._hand_out(tracked, batch)

    def _follows(self, path: str) -> bool:
        """`path` is followed now, as the very file it names."""
        tracked = self._files.get(path)
        return tracked is not None and _names(path, tracked.reader.identity)

    async def _hand_out(self, tracked: TrackedFile, batch: Lines) -> None:
        events = tracked.parser.feed(batch.lines, batch.ends)
        if batch.cut:
            self.lines_cut += len(batch.cut)
            _flag_cut_lines(events, {batch.ends[i] for i in batch.cut})
        self.lines_read += len(batch.lines)
        if events:
            await self._dispatch(events, tracked.progress)
        buffered = tracked.parser.buffered_from
        reader = tracked.reader
        tracked.progress.read_through(reader.position if buffered is None else buffered)

    async def _flush(self, tracked: TrackedFile) -> None:
        """The file is let go for good: hand out everything held, an unfinished last
        line as it is, then the held record."""
        if tracked.reader.has_partial:
            await self._hand_out(tracked, tracked.reader.take_partial())
        await self._flush_record(tracked)

    async def _flush_record(self, tracked: TrackedFile) -> None:
        """Hand out the record the parser holds back (quiet for `idle_flush`, or its
        file is done); an unfinished line after it keeps waiting for its newline."""
        held = tracked.parser.flush()
        if held:
            await self._dispatch(held, tracked.progress)
        tracked.progress.read_through(tracked.reader.position)
        tracked.flush_at = None

    def _until_flush(self) -> float | None:
        deadlines = [f.flush_at for f in self._files.values() if f.flush_at is not None]
        deadlines += [f.linger_until for f in self._retired if f.linger_until is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    async def _flush_idle(self) -> None:
        now = time.monotonic()
        for tracked in list(self._files.values()):
            if tracked.flush_at is not None and tracked.flush_at <= now:
                at_end = await self._pump(tracked)  # news since the deadline move it on
                if at_end and tracked.flush_at is not None and tracked.flush_at <= now:
                    await self._flush_record(tracked)
        for tracked in list(self._retired):
            if tracked.linger_until is not None and tracked.linger_until <= now:
                await self._let_go(tracked)
        self._release_descriptors()


async def _first_of(*events: asyncio.Event, then: Callable[[], None]) -> None:
    """Wait until any of `events` is set, then call `then`."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    then()


def _inode(reader: TailedFile) -> tuple[int, int]:
    return reader.identity.dev, reader.identity.inode


def _content_of(replaced: TrackedFile) -> ReadContent | None:
    """What was read of the file `replaced` (if it showed no bytes, of the one it
    replaced in turn). Renamed and compressed since, that file is under a new inode, and
    a late write may have stamped it after the file that took its place was seen empty:
    holding what was read, it is `replaced`'s copy, never the new one's (`find_copy`)."""
    content = replaced.reader.read_content()
    return content if content is not None else replaced.replaced


def _read_of(tracked: TrackedFile) -> tuple[ReadContent, ...]:
    """What was read of `tracked`'s file, and of the file its path named before it."""
    return tuple(c for c in (tracked.reader.read_content(), tracked.replaced)
                 if c is not None)


def _read_before(tracked: TrackedFile) -> tuple[ReadContent, ...]:
    """What was read of the file `tracked`'s path named before it: no copy of it."""
    return () if tracked.replaced is None else (tracked.replaced,)


def _has_content(saved: Checkpoint) -> bool:
    """`saved` describes bytes its file held: it was not last seen empty (no head, no
    marked bytes), so the file or its copy is known by them."""
    return saved.identity.head_len > 0 or (saved.mark is not None and saved.mark.length > 0)


def _names(path: str, identity: FileIdentity) -> bool:
    """`path` still names the file `identity` describes."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (identity.dev, identity.inode)


def _flag_cut_lines(events: list[Event], cut_ends: set[int]) -> None:
    for event in events:
        if event.offset in cut_ends:
            event.fields["truncated"] = True


def watch_roots(sources: Sequence[SourceConfig]) -> list[Path]:
    """The folders `Tailer.run` watches, for `logship check` to show."""
    return sorted({root for s in sources for root in PathMatcher(s.paths, s.exclude).roots()})
