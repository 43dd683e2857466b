"""`type = "file"`: each event as one JSON line appended to a file.

    [sinks.debug]
    type = "file"
    path = "/var/log/logship/debug.jsonl"

For debugging a route, for tests, and for a second copy of what matters. Events are
written as the spool writes them (`Event.to_record`), redacted and privacy-masked like
everything sent. A batch is one `write` with `O_APPEND`, synced to disk (`fdatasync`)
before it counts as delivered: the checkpoint moves past it only then. Appends survive
the file being rotated: when its path names another file (or none), the next batch opens
the path again (as Python's WatchedFileHandler does), so logrotate's `create` works;
`copytruncate` too, since every write goes to the current end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from logship.event import Event
from logship.sinks.base import Answer, Outcome, Preview, Repair, SinkContext, Unlimited

if TYPE_CHECKING:
    from logship.config import Config, Reader, RouteConfig, SinkConfig
    from logship.sinks.worker import Batch, Item

BATCH_EVENTS = 500
"""Events one write takes at most: a backlog goes out in few writes and few syncs."""


@dataclass(frozen=True)
class FileOptions:
    path: Path


class FileSink:
    """Appends events to `options.path`, one JSON line each."""

    carries_files = False  # (storm mode needs messages that attach files)

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        self.config = config
        self.options: FileOptions = config.options
        self.limiter = Unlimited()
        self._context = context
        self._routes = {route.name: route for route in context.config.routes}
        self._fd = -1
        self._inode: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target(self) -> str:
        return str(self.options.path)

    def reconfigure(self, config: SinkConfig, context: SinkContext) -> None:
        self.config, self.options = config, config.options
        self._routes = {route.name: route for route in context.config.routes}

    def route(self, name: str | None) -> RouteConfig | None:
        return self._routes.get(name) if name is not None else None

    def scrub(self, text: str) -> str:
        return text  # a path holds no secret

    def attach_events(self, events: Sequence[Event]) -> list[tuple[tuple[Any, ...], int]]:
        return []

    def preview(self, item: Item) -> Preview:
        return Preview(who="the file", request=[f"append to {self.options.path}:",
                                self._line(item.event).decode().rstrip("\n")])

    def preview_backlog(self, items: Sequence[Item]) -> list[str]:
        writes = 0
        pending = list(items)
        while pending:
            taken = len(self.batch(pending, len(pending)).items)
            pending = pending[taken:]
            writes += 1
        return [f"a backlog of {len(items)} such events: {writes} writes (each synced), "
                f"every event whole"]

    def batch(self, pending: Sequence[Item], backlog: int) -> Batch:
        from logship.sinks.worker import Batch

        return Batch(list(pending[:BATCH_EVENTS]))

    def rebatch(self, items: Sequence[Item], like: Batch) -> Batch:
        from logship.sinks.worker import Batch

        return Batch(list(items))

    def repair(self, batch: Batch, answer: Answer) -> Repair:
        return Repair(dead=batch.items, note="the file sink cannot write these events")

    async def send(self, batch: Batch) -> Answer:
        if batch.message is None:
            batch.message = b"".join(self._line(x.event) for it in batch.items
                                     for x in it.with_counted())
        try:
            self._write(batch.message)
        except OSError as exc:
            self.close()
            return Answer(Outcome.RETRY, reason=f"cannot write {self.options.path}: "
                                                f"{exc.strerror or exc}")
        return Answer(Outcome.DELIVERED)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd, self._inode = -1, None

    def _line(self, event: Event) -> bytes:
        """`event` as this sink may show it (redacted, its privacy applied): one line."""
        redactor = self._context.redactor
        if redactor is not None:
            event = redactor.redact_event(event)
        if self.config.privacy is not None:
            event = self.config.privacy.apply(event)
        return orjson.dumps(event.to_record(), option=orjson.OPT_NON_STR_KEYS,
                            default=str) + b"\n"

    def _write(self, data: bytes) -> None:
        """Append `data` to the file the path names now, and sync it to disk."""
        fd = self._open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fdatasync(fd)

    def _open(self) -> int:
        """The descriptor of the file the path names now (opened again after a rotation,
        created if it is gone)."""
        path = self.options.path
        with contextlib.suppress(OSError):
            st = os.stat(path)
            if self._fd >= 0 and (st.st_dev, st.st_ino) == self._inode:
                return self._fd
        self.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        st = os.fstat(fd)
        self._fd, self._inode = fd, (st.st_dev, st.st_ino)
        return fd


class FileType:
    """`type = "file"`."""

    name = "file"
    keys = frozenset({"path"})

    def parse_options(self, reader: Reader, table: Mapping[str, Any], key: str) -> FileOptions:
        location = reader.string(table, "path", key, default=None)
        if not location:
            raise reader.fail(f"{key}.path", "is required: the file to append events to")
        return FileOptions(path=reader.path(location))

    def check(self, config: Config) -> None:
        """Nothing beyond its options."""

    def build(self, config: SinkConfig, context: SinkContext) -> FileSink:
        return FileSink(config, context)

    def describe(self, options: FileOptions) -> str:
        return f"file {options.path} (JSON lines)"

    def same_target(self, old: FileOptions, new: FileOptions) -> bool:
        return old.path == new.path


TYPE = FileType()
