"""Automatic drain: a sink's `fallback` events go out again once the sink works.

One `SpoolDrainer` per sink runs beside its worker. It wakes at start (an earlier run may
have left events behind), when the worker's circuit closes, and when an open circuit has
cooled down (then the spool's oldest event is the probe), and then feeds the
sink's segments, oldest first, into the worker's own queue in small chunks, each after
the worker has caught up: live events share the budget and still go first by level.

Each fed event carries an acknowledgement tied to its segment's watermark (the same
`FileProgress` the tailer uses), and the watermark is written to the segment's `.done`
sidecar after each chunk, so a restart does not send again what already went. An event
the sink fails again is spooled again by the worker (into a new segment), which also
counts as done. At a stop the drainer feeds nothing more; once the worker has
delivered or spooled what it was fed, `settle` writes the last `.done`, so a restart
neither sends an event twice nor finds it both spooled anew and still in its old
segment. Once a segment is through (its watermark covers every record fed, not
merely every record fed once), it is deleted; its `dead` records are kept (a rewritten
segment of only those), and a segment with unreadable lines is moved aside.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from logship.redact import Redactor
from logship.sinks.worker import Item, SinkWorker
from logship.spool.store import (
    Spool,
    SpoolRecord,
    drained_offset,
    exclusive,
    mark_drained,
    replayed_offsets,
    rewrite_segment,
    scan_segment,
    segments,
    set_aside,
)
from logship.tail.checkpoint import FileProgress

log = logging.getLogger("logship.spool.drain")

CHUNK = 100  # events fed to the worker before waiting for it to catch up


class SpoolDrainer:
    """Re-sends one sink's spooled `fallback` events when the sink is healthy."""

    def __init__(self, worker: SinkWorker, spool: Spool, redactor: Redactor | None = None
                 ) -> None:
        self.worker = worker
        self.spool = spool
        # what comes back from disk is shown redacted, whatever the spool keeps
        self._redact = redactor.redact_event if redactor is not None else None
        self.drained = 0  # events fed again (delivered, or spooled anew if the sink failed)
        self.stopping = False  # the daemon stops: feed nothing more
        # The segment being fed (its inode) and its watermark, until its `.done` is written
        # for the last time: a stop cancels us midway, and `settle` writes it then.
        self._feeding: tuple[Path, int, FileProgress] | None = None
        self._wake = asyncio.Event()
        self._wake.set()  # at start: what an earlier run left
        worker.on_recover = self._wake.set
        worker.on_trip = self._probe_later

    @property
    def healthy(self) -> bool:
        """Not gone, and the circuit closed or half-open (its cool-down is over)."""
        return not self.worker.gone and not self.worker.circuit.is_open

    def _probe_later(self, cooldown: float) -> None:
        """The circuit opened: once it cools down, the spool's oldest event is the probe
        (so a sink recovers even when no new event comes along)."""
        asyncio.get_running_loop().call_later(cooldown, self._wake.set)

    def stop_feeding(self) -> None:
        """A stop begins: feed the worker nothing more. What was fed is then delivered or
        spooled by the worker (its drain, then `abandon`), and `settle` notes it."""
        self.stopping = True

    def settle(self) -> None:
        """At a stop, once the worker delivered or spooled everything fed: write the
        `.done` of the segment being fed, so a restart sends none of that again (and
        what was spooled anew is not also left in the old segment)."""
        if self._feeding is None:
            return
        path, inode, progress = self._feeding
        self._feeding = None
        self.spool.sync()  # what was spooled anew is on disk before the mark passes it
        if path.exists():
            mark_drained(path, progress.committed, inode=inode)

    async def run(self) -> None:
        while not self.stopping:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain_all()
            except OSError as exc:
                log.error("sink %s: cannot drain the spool (%s); will try again when the "
                          "sink next recovers", self.worker.name, exc.strerror or exc)

    async def drain_all(self) -> None:
        """Drain every segment of the sink, oldest first, while it stays healthy."""
        name = self.worker.name
        for path in segments(self.spool.root, name):
            if not self.healthy or self.stopping:
                return
            if path == self.spool.current(name):
                self.spool.roll(name)  # new failures go to a new segment meanwhile
            await self._drain_segment(path)

    async def _drain_segment(self, path: Path) -> None:
        with exclusive(path) as mine:
            if not mine:
                return  # another process (logship replay) is at it
            start = drained_offset(path)
            found = scan_segment(path, start)
            replayed = replayed_offsets(path)  # a replay that was killed midway sent these
            fallback = [(end, r) for end, r in found.records
                        if r.reason == "fallback" and end not in replayed]
            if fallback:
                log.info("sink %s: re-sending %d spooled events from %s", self.worker.name,
                         len(fallback), path.name)
                progress = FileProgress(start)
                self._feeding = (path, path.stat().st_ino, progress)
                fed = await self._feed(path, progress, fallback)
                self._feeding = None  # not reached when a stop cancels the feeding
                if not fed:
                    return  # the sink failed again: the rest waits for its recovery
                if not self._covered(path, progress, fallback):
                    return
            self._finish(path, fallback_seen=bool(fallback))

    def _covered(self, path: Path, progress: FileProgress,
                 fed: list[tuple[int, SpoolRecord]]) -> bool:
        """Whether every fed record was delivered or spooled anew (its acknowledgement
        resolved), so the segment may go. Feeding them all is not enough: one the worker
        could neither deliver nor spool still has only this copy."""
        if progress.committed >= fed[-1][0]:
            return True
        left = sum(1 for _, r in fed if r.event.ack is not None and not r.event.ack.done)
        log.warning("sink %s: %d events re-sent from %s were neither delivered nor spooled "
                    "again; the segment is kept, they go again at the next drain",
                    self.worker.name, left, path.name)
        return False

    async def _feed(self, path: Path, progress: FileProgress,
                    records: list[tuple[int, SpoolRecord]]) -> bool:
        """Send `records` through the worker, a chunk at a time, tracked by `progress`;
        False if the sink stopped being healthy (or a stop began) before all were fed."""
        first = 0
        self.worker.draining = True  # it must not wait for spool room we would free
        try:
            while first < len(records):
                if not self.healthy or self.stopping:
                    return False
                size = 1 if self.worker.circuit.tripped else CHUNK  # half-open: one probe
                chunk = records[first : first + size]
                self.worker.waiting_behind = len(records) - first - len(chunk)
                for index, (end, record) in enumerate(chunk):
                    if self.stopping:  # the rest stays in the segment, after the mark
                        chunk = chunk[:index]
                        break
                    record.event.ack = progress.track(end, 1)
                    route = self.worker.sink.route(record.route)
                    event = self._redact(record.event) if self._redact else record.event
                    await self.worker.put(Item(event, route, origin=record))
                await self.worker.drain(timeout=float("inf"))
                self.spool.sync()  # what failed again is on disk before the mark passes it
                mark_drained(path, progress.committed)
                self.drained += len(chunk)
                first += len(chunk)
            return True
        finally:
            self.worker.draining = False
            self.worker.waiting_behind = 0

    def _finish(self, path: Path, *, fallback_seen: bool) -> None:
        """The segment is through: delete it, keeping its dead records."""
        self.spool.sync()  # events spooled anew are on disk before their old copy goes
        whole = scan_segment(path)
        if whole.unreadable:
            size = path.stat().st_size
            set_aside(path)  # kept for inspection, but no longer counted against the cap
            self.spool.freed(size)
            return
        replayed = replayed_offsets(path)
        dead = [r for end, r in whole.records if r.reason == "dead" and end not in replayed]
        if dead and not fallback_seen and not replayed:
            mark_drained(path, path.stat().st_size)  # only dead ones: nothing to do
            return
        self.spool.freed(rewrite_segment(path, dead))
