"""`NoiseControl`: what the pipeline calls between routing and the sink queues.

`admit` decides whether an event goes to a sink through a route (or is counted as a
repeat of a dedupe window), `queue` hands it to the sink's worker (or counts it into a
storm). It owns the timers that send edits and summaries, and the counts saved with the
checkpoints (`dedupe.json`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from logship.cluster.backlog import SharedBacklog
from logship.cluster.link import Down, RedisLink
from logship.cluster.windows import SharedWindows
from logship.config import RouteConfig
from logship.event import Event
from logship.noise.dedupe import Deduper, Repeat
from logship.noise.edits import RepeatEditor, load_state, save_state
from logship.noise.fingerprint import fingerprint
from logship.noise.storm import Storm
from logship.sinks.worker import BatchEnd, Item, SinkWorker

log = logging.getLogger("logship.noise")

Workers = Callable[[str], SinkWorker | None]


class NoiseControl:
    """Dedupe windows and storm mode for one process's sinks (`workers`: by name)."""

    def __init__(self, workers: Workers, cluster: RedisLink | None = None) -> None:
        self.deduper = Deduper()
        self.windows = SharedWindows(cluster) if cluster is not None else None
        self.backlog = SharedBacklog(cluster) if cluster is not None else None
        self.repeats = RepeatEditor(self.deduper, workers, self._refresh)
        self._storms: dict[SinkWorker, Storm] = {}  # by worker: a summary goes to the
        # worker whose events it counts (a retired one spools it)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- state and timers -----------------------------------------------------------

    def load(self, state_dir: Path) -> None:
        """The counts saved before a restart."""
        load_state(state_dir, self.deduper)

    def save(self, state_dir: Path) -> None:
        """Save the counts (with the checkpoints: counted repeats are done)."""
        save_state(state_dir, self.deduper)

    @property
    def changed(self) -> bool:
        return self.deduper.changed

    def start(self) -> None:
        """Run the timers: edits of counted messages, storm summaries."""
        self._tasks = [asyncio.create_task(self.repeats.run(), name="repeats"),
                       asyncio.create_task(self._storm_summaries(), name="storms")]

    async def stop(self) -> None:
        """A stop: no more summaries on a timer and no more counting; each storm's pending
        summary goes to its worker at once, for the drain to send (or to spool, with its
        events, when time runs out)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker, storm in self._storms.items():
            summary = storm.end()
            counted = storm.take_counted()
            if summary is not None:
                for item in summary_items(worker, summary, counted):
                    worker.hold(item)

    # -- the pipeline step ----------------------------------------------------------

    async def admit(self, route: RouteConfig, sink: str, event: Event) -> bool:
        """True when `event` goes to `sink`; False when `route`'s dedupe window counted it
        as a repeat (its message will be edited to show it). In a cluster the window is
        the cluster's (`SharedWindows`), this host's alone while Redis is down."""
        window = route.dedupe_window
        if window is None:
            return True
        if self.windows is None or not self.windows.link.up:
            return self._counted_locally(route, sink, event)
        if event.fingerprint is None:
            event.fingerprint = fingerprint(event)
        mine = self.deduper.window(route, sink, event.fingerprint)
        try:
            verdict = await self.windows.admit(route.name, sink, event.fingerprint, window,
                                               holding_first=mine is not None)
        except Down:
            return self._counted_locally(route, sink, event)
        if verdict.send:  # this host sends the window's first, and owns its message
            self.deduper.admit(route, sink, event)
            repeat = self.deduper.window(route, sink, event.fingerprint)
            if repeat is not None:
                repeat.shared, repeat.count, repeat.hosts = True, verdict.count, verdict.hosts
            return True
        if mine is not None:  # counted here too (the message is ours to edit)
            self.deduper.admit(route, sink, event)
            mine.shared = True
            mine.count, mine.hosts = max(mine.count, verdict.count), verdict.hosts
            self.repeats.poke()
        return False

    def _counted_locally(self, route: RouteConfig, sink: str, event: Event) -> bool:
        if self.deduper.admit(route, sink, event):
            return True
        self.repeats.poke()
        return False

    async def _refresh(self, repeat: Repeat) -> None:
        """A shared window's count and hosts as the cluster has them (before an edit)."""
        if not repeat.shared or self.windows is None or not self.windows.link.up:
            return
        with contextlib.suppress(Down):
            count, hosts = await self.windows.totals(repeat.route, repeat.sink,
                                                     repeat.fingerprint)
            repeat.count, repeat.hosts = max(repeat.count, count), max(repeat.hosts, hosts)

    async def queue(self, worker: SinkWorker, item: Item) -> None:
        """Put `item` in `worker`'s queue, or, while its sink is in storm mode, count it
        into the storm's next summary (waiting while the storm holds as much as the
        queue may: reading pauses then, as for a full queue)."""
        storm = self._storm_of(worker)
        if storm is None:
            await worker.put(item)
            return
        notice = storm.observe(self._congested(worker), worker.stats.delivered)
        if notice is not None:
            log.warning("sink %s: storm mode: summaries every %.0f s instead of each event",
                        worker.name, storm.every)
            await worker.put(Item(notice))
            self._wake.set()
        if storm.active and storm.full:
            await storm.wait_for_room()
        if storm.active and worker.retired is None:
            storm.count(item.event, item.size, keep=item)
        else:
            await worker.put(item)

    def outcome(self, sink: str, items: list[Item], end: BatchEnd) -> None:
        """How a batch ended (the worker's `on_outcome`): a first message delivered can
        be edited from now on; one spooled is resolved too (saved with its counts)."""
        events: Iterable[Event] = (item.event for item in items)
        if end.outcome == "delivered":
            firsts = self.deduper.delivered(sink, events, end.message_id, shared=len(items) > 1)
            if firsts:
                self.repeats.poke()  # its message can be edited now
            for repeat in firsts:
                if repeat.shared and self.windows is not None and end.message_id:
                    _spawn(self.windows.sent(repeat.route, sink, repeat.fingerprint,
                                             end.message_id))
        else:
            self.deduper.spooled(sink, events)

    # -- storms ---------------------------------------------------------------------

    def _congested(self, worker: SinkWorker) -> bool:
        """The sink's queue is full; in a cluster, or the channel's backlog over every
        host is as large as one full queue."""
        if worker.congested:
            return True
        if self.backlog is None:
            return False
        channel = getattr(worker.sink, "channel_key", worker.name)
        return self.backlog.total(channel, worker.backlog) >= worker.config.queue_size

    def _storm_of(self, worker: SinkWorker) -> Storm | None:
        """`worker`'s storm bookkeeping; None where storm mode cannot be: a sink whose
        messages carry no files (a summary could not carry the events it counts), a
        retired worker, or a process that is stopping."""
        storm = self._storms.get(worker)
        if storm is not None and storm.active:
            return storm
        if not worker.sink.carries_files or worker.retired is not None or self._stopping:
            return None
        if storm is None:
            sink = worker.config
            storm = self._storms[worker] = Storm(
                worker.name, after=sink.storm_after, every=sink.storm_every,
                max_events=sink.queue_size, max_bytes=sink.queue_max_bytes)
        return storm

    async def _storm_summaries(self) -> None:
        """Send each storm's summary on time; sleeps while there is no storm."""
        while True:
            waits = [d for s in self._storms.values() if (d := s.next_due()) is not None]
            self._wake.clear()
            if not waits:
                await self._wake.wait()
                continue
            await asyncio.sleep(min(waits))
            for worker, storm in list(self._storms.items()):
                if storm.due():
                    summary = storm.summary()
                    if not storm.active:
                        log.info("sink %s: storm over, sending each event again", worker.name)
                    await _send_summary(worker, summary, storm.take_counted())
                if worker.retired is not None and not storm.active and not storm.holding:
                    del self._storms[worker]


async def _send_summary(worker: SinkWorker, summary: Event, counted: list[Item]) -> None:
    """Queue a summary's messages to `worker`; if this is cancelled (a stop), what is not
    queued yet is handed over all the same, for the stop to send or spool."""
    items = summary_items(worker, summary, counted)
    try:
        while items:
            await worker.put(items[0])
            items.pop(0)
    except asyncio.CancelledError:
        for item in items:
            worker.hold(item)
        raise


def summary_items(worker: SinkWorker, summary: Event, counted: list[Item]) -> list[Item]:
    """The messages of one storm summary: the first with its text, each attaching as many
    of the `counted` events in full as one message holds (`events.log`), and carrying them
    (they are done when it is delivered, spooled one by one when it is)."""
    parts = worker.sink.attach_events([it.event for it in counted]) if counted else []
    if len(parts) <= 1:
        files = parts[0][0] if parts else ()
        return [Item(summary, counted=counted, files=files)]
    items: list[Item] = []
    start = 0
    head = summary.message.split("\n", 1)[0]
    for n, (files, taken) in enumerate(parts, 1):
        event = summary if n == 1 else replace(
            summary, message=f"{head} (the events it counts, part {n} of {len(parts)})")
        items.append(Item(event, counted=counted[start:start + taken], files=files))
        start += taken
    return items


def _spawn(call: Any) -> None:
    """Run cluster bookkeeping without waiting for it; a Redis gone meanwhile only
    loses what a local window keeps anyway."""
    task = asyncio.ensure_future(call)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
