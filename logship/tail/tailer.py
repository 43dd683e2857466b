"""Find the sources' files, follow them live with watchfiles, and hand their events on.

One `Tailer` serves every source. It watches the static root of each glob recursively
(so `logs/2025-07-16/` created at midnight is seen), reads each changed file in large
chunks, parses complete lines into events and awaits `dispatch(events, progress)` for
each batch. `dispatch` (the daemon's) routes the events and registers the ones that need
delivery with `progress.track`; everything else counts as done at once. Awaiting
dispatch is the backpressure: when the sinks' queues are full, reading pauses.

Files are followed across rename+create rotation (the old descriptor is read to its end
before it is let go), deletion, and truncation in place (read again from 0).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from logship.config import SourceConfig
from logship.event import Event
from logship.parse import RecordParser, make_parser
from logship.tail.checkpoint import Checkpoint, FileProgress
from logship.tail.globs import PathMatcher
from logship.tail.reader import TailedFile, is_same_file

log = logging.getLogger("logship.tail")

Dispatch = Callable[[list[Event], FileProgress], Awaitable[None]]

# watchfiles: report a change once no new one came for STEP ms, at most DEBOUNCE ms late.
WATCH_STEP_MS = 10
WATCH_DEBOUNCE_MS = 100


@dataclass(eq=False)
class TrackedFile:
    """A file being followed: its reader, its parser and its acknowledgement watermark."""

    source: SourceConfig
    reader: TailedFile
    parser: RecordParser
    progress: FileProgress
    retired: bool = False  # rotated away or deleted: read to the end, then let go

    @property
    def path(self) -> str:
        return self.reader.path

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.path, self.reader.identity, self.progress.committed)


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
    ) -> None:
        self._sources = [_Source(s) for s in sources]
        self._saved = {c.path: c for c in saved}
        self._dispatch = dispatch
        self._files: dict[str, TrackedFile] = {}
        self._retired: list[TrackedFile] = []
        self.lines_read = 0

    # -- public -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the files until `stop` is set. Returns once reading has stopped."""
        roots = sorted({str(root) for s in self._sources for root in s.matcher.roots()})
        changes = awatch(
            *roots,
            watch_filter=self._relevant,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            stop_event=stop,
            recursive=True,
            ignore_permission_denied=True,
        )
        # The first __anext__ sets up the inotify watches before it first awaits, so the
        # initial scan below cannot miss a line written in between.
        next_batch = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0)
        try:
            await self._scan(initial=True)
            while not stop.is_set():
                try:
                    batch = await next_batch
                except StopAsyncIteration:
                    break
                await self._apply(batch)
                next_batch = asyncio.ensure_future(anext(changes))
        finally:
            next_batch.cancel()
            await changes.aclose()

    def checkpoints(self) -> list[Checkpoint]:
        """The committed position of every file still followed or still in flight."""
        self._forget_finished()
        return [f.checkpoint() for f in (*self._files.values(), *self._retired)]

    @property
    def changed(self) -> bool:
        return any(f.progress.changed for f in (*self._files.values(), *self._retired))

    def mark_saved(self) -> None:
        for f in (*self._files.values(), *self._retired):
            f.progress.changed = False

    def close(self) -> None:
        for f in (*self._files.values(), *self._retired):
            f.reader.close()

    def files(self) -> list[TrackedFile]:
        return list(self._files.values())

    # -- discovery ----------------------------------------------------------------

    def _relevant(self, change: Change, path: str) -> bool:
        """watchfiles filter: matched files, and folders (a new one may hold matches)."""
        if any(s.matcher.matches(path) for s in self._sources):
            return True
        return change == Change.added and os.path.isdir(path)

    async def _scan(self, initial: bool = False) -> None:
        for source in self._sources:
            for path in source.matcher.scan():
                if path not in self._files:
                    self._open(source.config, path, initial)
        for tracked in list(self._files.values()):
            await self._pump(tracked)

    def _source_for(self, path: str) -> SourceConfig | None:
        for source in self._sources:
            if source.matcher.matches(path):
                return source.config
        return None

    def _open(self, source: SourceConfig, path: str, initial: bool) -> TrackedFile | None:
        """Start following `path`: at its checkpoint if it is the same file, else from
        its beginning (a file that appears while running) or per `start_at` (at start)."""
        try:
            reader = TailedFile.open(path, 0, source.max_line_bytes)
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            log.error("cannot open %s: %s", path, exc.strerror or exc)
            return None
        saved = self._saved.pop(path, None)
        if saved is not None and is_same_file(reader.fd, saved.identity):
            reader.position = min(saved.offset, reader.size())
            how = f"at checkpoint {reader.position}"
        elif initial and source.start_at == "end":
            reader.close()
            reader = TailedFile.open(path, None, source.max_line_bytes)
            how = f"at its end ({reader.position})"
        else:
            how = "from the beginning"
        tracked = TrackedFile(
            source=source,
            reader=reader,
            parser=make_parser(source.format, source=source.name, path=path),
            progress=FileProgress(reader.position),
        )
        tracked.progress.changed = True
        self._files[path] = tracked
        log.info("following %s %s (source %s)", path, how, source.name)
        return tracked

    # -- changes ------------------------------------------------------------------

    async def _apply(self, changes: set[tuple[Change, str]]) -> None:
        rescan = False
        for change, path in sorted(changes, key=lambda c: c[1]):
            tracked = self._files.get(path)
            if tracked is not None:
                await self._follow(tracked)
            elif change != Change.deleted:
                source = self._source_for(path)
                if source is not None:
                    opened = self._open(source, path, initial=False)
                    if opened is not None:
                        await self._pump(opened)
                elif os.path.isdir(path):
                    rescan = True
        if rescan:
            await self._scan()

    async def _follow(self, tracked: TrackedFile) -> None:
        """Read what is new; if the path now names another file (or none), finish the
        old one and start on the new."""
        await self._pump(tracked)
        try:
            st = os.stat(tracked.path)
            replaced = (st.st_dev, st.st_ino) != (
                tracked.reader.identity.dev, tracked.reader.identity.inode)
        except FileNotFoundError:
            replaced, st = True, None
        if not replaced:
            return
        await self._retire(tracked)
        if st is not None:
            opened = self._open(tracked.source, tracked.path, initial=False)
            if opened is not None:
                await self._pump(opened)

    async def _retire(self, tracked: TrackedFile) -> None:
        """The path no longer names this file: read it to its end and release it."""
        await self._pump(tracked)
        tail = tracked.parser.flush()
        if tail:
            await self._dispatch(tail, tracked.progress)
        tracked.progress.read_through(tracked.reader.position)
        tracked.reader.close()
        tracked.retired = True
        del self._files[tracked.path]
        self._retired.append(tracked)
        log.info("let go of %s (rotated or deleted) at offset %d",
                 tracked.path, tracked.reader.position)

    def _forget_finished(self) -> None:
        self._retired = [f for f in self._retired if f.progress.pending]

    async def _pump(self, tracked: TrackedFile) -> None:
        """Hand out every complete line now in the file."""
        reader = tracked.reader
        if reader.closed:
            return
        if reader.was_truncated():
            log.warning("%s was truncated; reading it again from the start", reader.path)
            reader.rewind()
            tracked.parser = make_parser(tracked.source.format, source=tracked.source.name,
                                         path=reader.path)
            tracked.progress.reset(0)
        while (batch := reader.read_lines()) is not None:
            events = tracked.parser.feed(batch.lines, batch.ends)
            if batch.cut:
                _flag_cut_lines(events, {batch.ends[i] for i in batch.cut})
            self.lines_read += len(batch.lines)
            if events:
                await self._dispatch(events, tracked.progress)
            buffered = tracked.parser.buffered_from
            tracked.progress.read_through(reader.position if buffered is None else buffered)
            await asyncio.sleep(0)  # let the workers and the watcher run between chunks
        reader.refresh_identity()


def _flag_cut_lines(events: list[Event], cut_ends: set[int]) -> None:
    for event in events:
        if event.offset in cut_ends:
            event.fields["truncated"] = True


def watch_roots(sources: Sequence[SourceConfig]) -> list[Path]:
    """The folders `Tailer.run` watches, for `logship check` to show."""
    return sorted({root for s in sources for root in PathMatcher(s.paths, s.exclude).roots()})
