"""`logship replay SPOOL_DIR`: re-send what an outage (or a refusal) left in the spool.

Replay drives the same workers as the daemon (`logship.sinks.build_worker`), so
batching, rate limits, retries and the handling of the sinks' answers are the same, and
events render with the config as it is now (fix a URL or a template, then replay).
What it delivers (or not) goes into the daemon's delivery history, marked "by replay"
(`logship history`). Only its "spool" differs (`MemorySpool`): events the worker would
spool again are collected and written back into their segment, so a segment keeps
exactly the events still undelivered, with their new error and attempt count. An event
leaves the spool only on the worker's word that Discord answered 200 with a message for
the request holding it; whatever else happened to it, it stays. Once a sink's circuit
opens (or its webhook is gone), replay sends it nothing more and says so.

It goes one segment at a time, each held exclusively (`flock`): a segment the daemon
is appending to or draining is skipped, so replay is safe while the daemon runs. Ctrl-C
stops feeding, lets what is in flight finish, and writes the segment back with what did
not go: interrupting and running again neither loses nor repeats an event.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from logship.cluster.link import RedisLink
from logship.config import Config, SinkConfig
from logship.event import Ack
from logship.observe.history import HistoryEntry, HistoryJournal
from logship.redact import Redactor
from logship.sinks import build_worker
from logship.sinks.base import SinkContext
from logship.sinks.worker import BatchEnd, Item, SinkWorker
from logship.spool.report import NOT_MADE_YET
from logship.spool.store import (
    MemorySpool,
    SpoolRecord,
    exclusive,
    mark_replayed,
    outstanding,
    rewrite_segment,
    segments,
)

Echo = Callable[[str], None]
CHUNK = 100  # records sent before their delivery is noted on disk


@dataclass(frozen=True)
class Selection:
    """Which spooled records to replay."""

    sink: str | None = None
    reason: str | None = None  # "fallback" | "dead" | None for both
    since: datetime | None = None  # records that first failed at or after this time

    def wants(self, record: SpoolRecord) -> bool:
        if self.sink is not None and record.sink != self.sink:
            return False
        if self.reason is not None and record.reason != self.reason:
            return False
        if self.since is not None and record.first_failure is not None:
            return datetime.fromisoformat(record.first_failure) >= self.since
        return True


@dataclass
class Summary:
    delivered: int = 0
    remaining: int = 0
    busy: int = 0  # segments skipped: the daemon holds them
    interrupted: bool = False
    unknown_sinks: Counter[str] = field(default_factory=Counter)
    remaining_by_sink: Counter[str] = field(default_factory=Counter)
    why: dict[str, str] = field(default_factory=dict)  # sink -> why its events remain


@dataclass
class _SegmentResult:
    """What replaying one segment's records did: the end offsets of those Discord took,
    and the records to write back in place of those tried and still undelivered."""

    delivered: set[int] = field(default_factory=set)
    updated: dict[int, SpoolRecord] = field(default_factory=dict)


class _Replayer:
    """Delivers selected records segment by segment through one worker per sink.

    A record counts as delivered only when the worker reports that Discord answered 200
    with a message for the request holding it (`on_outcome`, "delivered"); every other
    record stays in its segment. Once a sink's circuit opens (or its webhook is gone),
    replay stops sending to it, and keeps the rest of its records as they are."""

    def __init__(self, config: Config, advance: Callable[[int], None]) -> None:
        self.config = config
        # the daemon's footer; in a cluster, the budgets every sidecar shares
        self.cluster = RedisLink(config.cluster) if config.cluster is not None else None
        self.context = SinkContext(config, socket.gethostname(), cluster=self.cluster)
        self.collector = MemorySpool()
        self.redactor = Redactor(config.redact)  # what comes back from disk: shown redacted
        self.advance = advance
        self.stopping = False
        self.stopped: dict[str, str] = {}  # sink -> why replay stopped sending to it
        self.last_error: dict[str, str] = {}  # sink -> its last failed request's error
        self._delivered: set[int] = set()  # id() of the events Discord took
        self._tried: set[int] = set()  # id() of the events sent and not taken
        self._workers: dict[str, tuple[SinkWorker, asyncio.Task[None]]] = {}
        # the daemon's delivery history: `logship history` shows what replay did too
        daemon = config.daemon
        self.history = HistoryJournal(daemon.state_dir, max_bytes=daemon.history_max_bytes,
                                      keep=daemon.history_keep)

    def worker(self, sink: SinkConfig) -> SinkWorker:
        if sink.name not in self._workers:
            worker = build_worker(sink, self.context, self.collector)
            worker.on_outcome = self._outcome
            self._workers[sink.name] = (worker, asyncio.create_task(worker.run()))
        return self._workers[sink.name][0]

    def _outcome(self, sink: str, items: list[Item], end: BatchEnd) -> None:
        """The worker's word on a batch: the only proof of delivery. (Items are known by
        the record they came from: what is sent is a redacted copy of its event.)"""
        self.history.record(
            HistoryEntry.for_event(item.event, sink=sink, outcome=end.outcome,
                                   route=item.route.name if item.route else None,
                                   status=end.status, message_id=end.message_id,
                                   attempts=item.attempts, error=end.error, via="replay")
            for item in items)
        ids = {id(item.origin.event if item.origin else item.event) for item in items}
        if end.outcome == "delivered":
            self._delivered |= ids
            return
        if end.status or any(item.attempts for item in items):  # sent, not just set aside
            self._tried |= ids
            if end.error:
                self.last_error[sink] = end.error

    def _note_stopped(self) -> None:
        """Stop sending to a sink whose webhook is gone or whose circuit opened."""
        for name, (worker, _) in self._workers.items():
            if name in self.stopped:
                continue
            if worker.gone:
                self.stopped[name] = worker.gone  # the webhook is gone: nothing to try
            elif worker.circuit.tripped:
                self.stopped[name] = (f"circuit open after {worker.circuit.threshold} failed "
                                      "requests in a row: replay stopped trying this sink "
                                      "and kept the rest")

    async def segment(self, path: Path, chosen: list[tuple[int, SpoolRecord]]
                      ) -> _SegmentResult:
        """Send `chosen` (records of `path` with their end offsets) a chunk at a time,
        noting each delivered one in the segment's `.replayed` sidecar."""
        result = _SegmentResult()
        for first in range(0, len(chosen), CHUNK):
            if self.stopping:
                break
            chunk = [(end, r) for end, r in chosen[first : first + CHUNK]
                     if r.sink not in self.stopped]
            behind = Counter(r.sink for _, r in chosen[first + CHUNK:])
            for _, record in chunk:
                record.event.ack = Ack(record.event.offset, lambda _ack: self.advance(1))
                record.event.ack.expect(1)
                worker = self.worker(self.config.sinks[record.sink])
                worker.waiting_behind = behind[record.sink]  # a digest's choice counts them
                await worker.put(Item(self.redactor.redact_event(record.event),
                                      worker.sink.route(record.route), origin=record))
            for worker, _ in self._workers.values():
                await worker.drain(timeout=float("inf"))
            self._note_stopped()
            delivered = [end for end, r in chunk if id(r.event) in self._delivered]
            mark_replayed(path, delivered)
            result.delivered.update(delivered)
            for end, record in chunk:
                key = id(record.event)
                again = self.collector.failed.pop(key, None)
                if key in self._tried and again is not None and key not in self._delivered:
                    again.replaces = False  # (it takes its own place in the segment)
                    result.updated[end] = again
                self._delivered.discard(key)
                self._tried.discard(key)
        return result

    async def close(self) -> None:
        for _, task in self._workers.values():
            task.cancel()
        await asyncio.gather(*(t for _, t in self._workers.values()), return_exceptions=True)
        for worker, _ in self._workers.values():
            worker.sink.close()
        await self.context.close()
        self.history.close()
        if self.cluster is not None:
            await self.cluster.close()


async def _replay(config: Config, spool_dir: Path, selection: Selection,
                  advance: Callable[[int], None]) -> Summary:
    summary = Summary()
    loop = asyncio.get_running_loop()
    replayer = _Replayer(config, advance)
    if replayer.cluster is not None:
        await replayer.cluster.start()

    def interrupt() -> None:
        replayer.stopping = summary.interrupted = True

    loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        for path in segments(spool_dir, selection.sink):
            if replayer.stopping:
                break
            with exclusive(path) as mine:
                if not mine:
                    summary.busy += 1
                    continue
                # what a replay killed midway or the drain sent is left out, and
                # dropped when the segment is rewritten
                records, settled = outstanding(path)
                chosen = [(end, r) for end, r in records
                          if selection.wants(r) and r.sink in config.sinks
                          and r.sink not in replayer.stopped]
                summary.unknown_sinks.update(r.sink for _, r in records
                                             if r.sink not in config.sinks)
                if not chosen and not settled:
                    continue
                done = await replayer.segment(path, chosen)
                if done.delivered or done.updated or settled:
                    rewrite_segment(path, [done.updated.get(end, r) for end, r in records
                                           if end not in done.delivered])
                summary.delivered += len(done.delivered)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await replayer.close()
    for path in segments(spool_dir, selection.sink):
        summary.remaining_by_sink.update(r.sink for _, r in outstanding(path)[0]
                                         if selection.wants(r))
    summary.remaining = sum(summary.remaining_by_sink.values())
    summary.why = {sink: _why_remaining(sink, replayer, config)
                   for sink in summary.remaining_by_sink}
    return summary


def _why_remaining(sink: str, replayer: _Replayer, config: Config) -> str:
    """Why a sink's events are still in the spool, in a few words."""
    if sink not in config.sinks:
        return "no such sink in the config"
    error = replayer.last_error.get(sink)
    stopped = replayer.stopped.get(sink)
    if error and stopped and stopped != error:
        return f"{error} ({stopped})"
    if error or stopped:
        return error or stopped or ""
    return "not sent (replay was interrupted, or the running daemon holds the segment)"


def count_selected(config: Config, spool_dir: Path, selection: Selection
                   ) -> dict[str, list[SpoolRecord]]:
    """The records `selection` picks, by sink."""
    by_sink: dict[str, list[SpoolRecord]] = {}
    for path in segments(spool_dir, selection.sink):
        for _, record in outstanding(path)[0]:
            if selection.wants(record):
                by_sink.setdefault(record.sink, []).append(record)
    return by_sink


def requests_needed(worker: SinkWorker, records: list[SpoolRecord]) -> int:
    """How many requests the sink would use for `records`, by its own batching (full
    messages, or digests for a backlog), sending nothing."""
    pending = [Item(r.event, worker.sink.route(r.route)) for r in records]
    requests = 0
    while pending:
        taken = {id(item) for item in worker.sink.batch(pending, len(pending)).items}
        pending = [item for item in pending if id(item) not in taken]
        requests += 1
    return requests


def dry_run(config: Config, spool_dir: Path, selection: Selection, echo: Echo) -> int:
    """Print what a replay would send, and in how many requests; change nothing."""
    total = 0
    context = SinkContext(config, socket.gethostname())
    for name, records in sorted(count_selected(config, spool_dir, selection).items()):
        reasons = Counter(r.reason for r in records)
        what = ", ".join(f"{n} {k}" for k, n in sorted(reasons.items()))
        if name not in config.sinks:
            echo(f"{name}: {len(records)} events ({what}): no such sink in the config; "
                 "they would stay")
            continue
        total += len(records)
        worker = build_worker(config.sinks[name], context, MemorySpool())
        echo(f"{name}: {len(records)} events ({what}) in {requests_needed(worker, records)} "
             "requests")
    echo(f"dry run: {total} events would be sent; nothing was changed")
    return 0


@contextmanager
def _progress(total: int, echo: Echo) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; plain progress lines otherwise."""
    if sys.stderr.isatty() and total:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("replaying", total=total)
            yield lambda n: bar.advance(task, n)
        return
    done = [0]
    step = max(1, total // 10)

    def advance(n: int) -> None:
        before, done[0] = done[0], done[0] + n
        if done[0] // step > before // step or done[0] == total:
            echo(f"replay: {done[0]}/{total} handled")

    yield advance


def run_replay(config: Config, spool_dir: Path, *, selection: Selection = Selection(),
               dry: bool = False, echo: Echo = print) -> int:
    """Exit status: 0 when every selected event was delivered, 1 when some remain."""
    if not spool_dir.exists():
        echo(f"replay: 0 delivered, 0 remain in {spool_dir} ({NOT_MADE_YET})")
        return 0
    if dry:
        return dry_run(config, spool_dir, selection, echo)
    total = sum(len(v) for k, v in count_selected(config, spool_dir, selection).items()
                if k in config.sinks)
    with _progress(total, echo) as advance:
        summary = asyncio.run(_replay(config, spool_dir, selection, advance))
    for name, count in summary.unknown_sinks.items():
        echo(f"warning: {count} events for sink {name!r}, which the config does not define; "
             "they stay in the spool")
    if summary.busy:
        echo(f"note: {summary.busy} segments are in use by the running daemon (it appends "
             "to them or drains them itself); run replay again later for those")
    if summary.interrupted:
        echo("interrupted: what was sent is removed from the spool, the rest stays")
    for name, count in sorted(summary.remaining_by_sink.items()):
        echo(f"{name}: {count} remain: {summary.why[name]}")
    echo(f"replay: {summary.delivered} delivered, {summary.remaining} remain in {spool_dir}")
    return 0 if summary.remaining == 0 else 1
