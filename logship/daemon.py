"""The running daemon: wires tail → route → workers, and owns signals and checkpoints.

Lifecycle of `Daemon.run()`:
1. load checkpoints, start one worker per sink, start the tailer;
2. save checkpoints every `checkpoint_interval` while something changed;
3. on SIGTERM/SIGINT: stop reading, let the workers drain for up to `drain_timeout`
   (a tailer still waiting on a full queue by then is cancelled), spool what is left,
   save checkpoints, return 0 (1 when the tailer died of an error, so systemd restarts
   the service). A second signal cuts both waits short.
4. on SIGHUP: reload the config; an invalid one is reported and the old one stays.

The daemon is the only place that knows both the tailer and the workers: the tailer
hands each batch of events to the pipeline (`logship.pipeline`), which routes them,
registers them with their file's watermark and queues them per sink.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from logship.cluster.link import RedisLink
from logship.config import Config, ConfigError, SinkConfig, load_config
from logship.event import Event
from logship.noise.control import NoiseControl
from logship.observe.history import HistoryEntry, HistoryJournal, entries_json, tail
from logship.observe.metrics import (
    ClusterFigures,
    Metrics,
    MetricsServer,
    Snapshot,
    SpoolUsage,
    assess_health,
    status_line,
    take_snapshot,
)
from logship.observe.sdnotify import Notifier
from logship.pipeline import Pipeline
from logship.redact import Redactor
from logship.sinks import build_worker
from logship.sinks.base import SinkContext
from logship.sinks.registry import sink_type
from logship.sinks.worker import BatchEnd, Item, SinkWorker, Waiting
from logship.spool.drain import SpoolDrainer
from logship.spool.store import Spool
from logship.state_lock import StateLock
from logship.tail.checkpoint import CheckpointStore, FileProgress
from logship.tail.own_log import check_sources, own_log_file
from logship.tail.tailer import Tailer

log = logging.getLogger("logship.daemon")


@dataclass
class _Running:
    worker: SinkWorker
    task: asyncio.Task[None]
    drainer: asyncio.Task[None]
    feeder: SpoolDrainer  # what `drainer` runs
    retiring: bool = False  # removed by a reload, draining before it stops
    retirement: asyncio.Task[None] | None = None  # that drain, then the stop


class Daemon:
    """One logship process: `await Daemon(config).run()` until stopped."""

    def __init__(self, config: Config, *, handle_signals: bool = True,
                 report_left: bool = True) -> None:
        self.config = config
        self.handle_signals = handle_signals
        # Log the events still queued at the stop, spooled (the demo, whose spool goes
        # with its folder, says it in its own words). Counted in `left_at_stop` anyway.
        self.report_left = report_left
        self.left_at_stop: dict[str, int] = {}
        self.host = socket.gethostname()
        self.spool = Spool(config.daemon.spool_dir, max_bytes=config.spool.max_bytes,
                           segment_bytes=config.spool.segment_bytes)
        self.store = CheckpointStore(config.daemon.state_dir)
        self.sinks: dict[str, _Running] = {}
        # Workers a reload let go that are still delivering what they hold (one replaced
        # by a new worker of the same name is no longer in `sinks`): a stop drains them too.
        self._retiring: list[_Running] = []
        self.tailer: Tailer | None = None
        self._stop = asyncio.Event()  # stop reading
        self._signals = 0
        self._hurry = asyncio.Event()  # a second stop signal: skip the drain
        self.notifier = Notifier()
        self.metrics = Metrics(self.snapshot)
        self._spool_usage = SpoolUsage(config.daemon.spool_dir)
        self._metrics_server: MetricsServer | None = None
        self._background: list[asyncio.Task[None]] = []
        self.cluster = RedisLink(config.cluster) if config.cluster is not None else None
        self.noise = NoiseControl(self._worker_named, self.cluster)
        self.pipeline = self._pipeline(config)
        self.context = SinkContext(config, self.host, self._shown_redactor(config),
                                   cluster=self.cluster)
        self.history = HistoryJournal(config.daemon.state_dir,
                                      max_bytes=config.daemon.history_max_bytes,
                                      keep=config.daemon.history_keep)
        # told when a sink begins a long wait for budget, and when it ends (the demo shows it)
        self.on_sink_wait: Callable[[str, Waiting | None], None] | None = None

    def _pipeline(self, config: Config) -> Pipeline:
        return Pipeline(config, workers=self._worker_named, noise=self.noise,
                        count=self.metrics.event_routed)

    @staticmethod
    def _shown_redactor(config: Config) -> Redactor | None:
        """What each sink redacts from what it shows: nothing more when events were
        redacted on their way in; everything when the spool keeps them raw."""
        return None if config.spool.redact else Redactor(config.redact)

    @property
    def deduper(self) -> object:
        return self.noise.deduper

    def snapshot(self) -> Snapshot:
        """The live figures /metrics, /health and systemd's STATUS= show."""
        workers = {name: running.worker for name, running in self.sinks.items()}
        return take_snapshot(self.tailer, workers, self._spool_usage, self._cluster_figures())

    def _cluster_figures(self) -> ClusterFigures | None:
        link = self.cluster
        if link is None:
            return None
        return ClusterFigures(link.up, link.host, link.reason, link.failures,
                              link.config.fallback_share)

    # -- lifecycle ----------------------------------------------------------------

    async def run(self) -> int:
        if self.handle_signals:
            self._install_signal_handlers()
        self.config.daemon.state_dir.mkdir(parents=True, exist_ok=True)
        saved = self.store.load()
        self.noise.load(self.config.daemon.state_dir)
        if self.cluster is not None:
            await self.cluster.start()  # down: each host on its share until it answers
        try:
            for sink in self.config.sinks.values():
                self._start_worker(sink)
            self.tailer = Tailer(self.config.sources, saved.files, self._dispatch,
                                 known_sources=saved.sources,
                                 saved_at_ns=saved.saved_at_ns)
            tail_task = asyncio.create_task(self.tailer.run(self._stop), name="tail")
            saver = asyncio.create_task(self._save_periodically(), name="checkpoints")
            self.noise.start()
            await self._announce_ready(tail_task)
            await self._until_stopped(tail_task)
            await self._shutdown(tail_task, saver)
        finally:
            await self.context.close()
            if self.cluster is not None:
                await self.cluster.close()
        return self._exit_status(tail_task)

    @staticmethod
    def _exit_status(tail_task: asyncio.Task[None]) -> int:
        """1 when the tailer died of an error (so systemd's Restart=on-failure restarts
        the service), else 0."""
        if tail_task.cancelled() or tail_task.exception() is None:
            return 0
        return 1

    async def _announce_ready(self, tail_task: asyncio.Task[None]) -> None:
        """Once the files are open and watched: metrics, READY=1, the watchdog."""
        assert self.tailer is not None
        scanned = asyncio.create_task(self.tailer.watching.wait())
        await asyncio.wait({scanned, tail_task}, return_when=asyncio.FIRST_COMPLETED)
        scanned.cancel()
        # Where the files found now start (start_at = "end": their end now) and which
        # sources are known, saved at once: a kill in the first second must not apply
        # start_at again to lines written since.
        self._save_checkpoints(force=True)
        listen = self.config.daemon.metrics_listen
        if listen:
            state_dir = self.config.daemon.state_dir
            server = MetricsServer(self.metrics, lambda: assess_health(self.snapshot()), listen,
                                   history=lambda n: entries_json(tail(state_dir, n)))
            try:
                await server.start()
                self._metrics_server = server
            except OSError as exc:
                log.error("cannot serve metrics on %s: %s; running without them", listen,
                          exc.strerror or exc)
        self.notifier.ready(status_line(self.snapshot()))
        self._background.append(asyncio.create_task(
            self.notifier.keepalive(lambda: status_line(self.snapshot())), name="watchdog"))
        log.info("running: %d sources, %d sinks, %d routes", len(self.config.sources),
                 len(self.config.sinks), len(self.config.routes))

    def stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        self._stop.set()

    async def _until_stopped(self, tail_task: asyncio.Task[None]) -> None:
        stop_wait = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait({tail_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if tail_task in done and tail_task.exception() is not None:
            log.error("the tailer failed: %r; shutting down", tail_task.exception())
            self._stop.set()

    async def _shutdown(self, tail_task: asyncio.Task[None], saver: asyncio.Task[None]) -> None:
        self._stop.set()
        for running in self.sinks.values():
            running.feeder.stop_feeding()  # what they fed is delivered or spooled below
        self.notifier.stopping("stopping: draining queues")
        deadline = asyncio.get_running_loop().time() + self.config.daemon.drain_timeout
        await self.noise.stop()
        await self._stop_reading(tail_task, deadline)
        workers = await self._every_worker()
        await self._drain(deadline, workers)
        for running in workers:
            running.drainer.cancel()
            running.task.cancel()
        await asyncio.gather(*(t for r in workers for t in (r.task, r.drainer)),
                             return_exceptions=True)
        for running in workers:
            left = running.worker.abandon("shutdown before delivery")
            name = running.worker.name
            self.left_at_stop[name] = self.left_at_stop.get(name, 0) + left
            if left and self.report_left:
                log.warning("sink %s: %d undelivered events spooled at shutdown", name, left)
        for running in workers:  # retiring ones too: their retirement ended above
            running.feeder.settle()  # so a restart re-sends none of what was fed
            running.worker.sink.close()
        saver.cancel()
        self._save_checkpoints(force=True)
        self.spool.close()
        for task in self._background:
            task.cancel()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
        self.notifier.close()
        self.history.close()
        assert self.tailer is not None
        self.tailer.close()
        log.info("stopped")

    async def _stop_reading(self, tail_task: asyncio.Task[None], deadline: float) -> None:
        """Let the tailer finish the batch it is dispatching (it may wait on a full queue)
        until `deadline` or a second signal; then cancel it. An event it had not queued
        everywhere stays unacknowledged, so the checkpoint stays before it."""
        failed_before = tail_task.done()
        if not tail_task.done():
            hurry = asyncio.create_task(self._hurry.wait())
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait({tail_task, hurry}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
        if not tail_task.done():
            log.warning("stopping: the tailer is still dispatching; cancelling it")
            tail_task.cancel()
            await asyncio.wait({tail_task})
        if tail_task.cancelled() or failed_before:  # _until_stopped reported a failure
            return
        if (exc := tail_task.exception()) is not None:
            log.error("the tailer failed while stopping: %r", exc)

    async def _every_worker(self) -> list[_Running]:
        """The sinks' workers and those a reload let go that are still retiring (their
        retirement stops here: the shutdown drains and spools them like the others)."""
        retiring = [r for r in self._retiring if r.retirement is not None]
        for running in retiring:
            assert running.retirement is not None
            running.retirement.cancel()
        await asyncio.gather(*(r.retirement for r in retiring if r.retirement is not None),
                             return_exceptions=True)
        current = list(self.sinks.values())
        return current + [r for r in self._retiring if all(r is not c for c in current)]

    async def _drain(self, deadline: float, workers: list[_Running]) -> None:
        """Give the workers until `deadline` (`drain_timeout` after the stop) to finish,
        cut short by a second signal."""
        timeout = deadline - asyncio.get_running_loop().time()
        if self._hurry.is_set() or timeout <= 0:
            return
        log.info("stopping: draining queues for up to %.1f s", timeout)
        drains = [asyncio.create_task(r.worker.drain(timeout)) for r in workers]
        hurry = asyncio.create_task(self._hurry.wait())
        await asyncio.wait([asyncio.gather(*drains), hurry],
                           return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        for task in drains:
            task.cancel()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: not waiting for the queues to drain", sig.name)
            self._hurry.set()
        else:
            log.info("%s received: stopping", sig.name)
        self._stop.set()

    async def _dispatch(self, events: list[Event], progress: FileProgress) -> None:
        """The tailer's batches go through the pipeline as it is now (a reload makes a
        new one at any await)."""
        await self.pipeline.dispatch(events, progress)

    # -- the sinks ----------------------------------------------------------------

    def _worker_named(self, sink: str) -> SinkWorker | None:
        running = self.sinks.get(sink)
        return running.worker if running is not None else None

    def _start_worker(self, sink: SinkConfig) -> None:
        worker = build_worker(sink, self.context, self.spool)
        worker.on_delivered = self.metrics.delivered
        worker.on_outcome = self._outcome
        worker.on_wait = self._on_wait
        task = asyncio.create_task(worker.run(), name=f"sink:{sink.name}")
        feeder = SpoolDrainer(worker, self.spool, Redactor(self.config.redact))
        drainer = asyncio.create_task(feeder.run(), name=f"drain:{sink.name}")
        self.sinks[sink.name] = _Running(worker, task, drainer, feeder)
        log.info("sink %s → %s", sink.name, worker.sink.target)

    def _on_wait(self, sink: str, waiting: Waiting | None) -> None:
        """A sink began (or ended) a long wait for budget: systemd's status line says so
        (the worker logged it; /metrics reads it when scraped)."""
        if self.notifier.enabled:
            self.notifier.status(status_line(self.snapshot()))
        if self.on_sink_wait is not None:
            self.on_sink_wait(sink, waiting)

    def _outcome(self, sink: str, items: list[Item], end: BatchEnd) -> None:
        self.noise.outcome(sink, items, end)
        self.history.record(
            HistoryEntry.for_event(it.event, sink=sink, route=it.route.name if it.route else None,
                                   outcome=end.outcome, status=end.status,
                                   message_id=end.message_id, attempts=it.attempts,
                                   error=end.error,
                                   via="drain" if it.origin is not None else None)
            for it in items
        )

    # -- checkpoints --------------------------------------------------------------

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.daemon.checkpoint_interval)
            self._save_checkpoints()

    def _save_checkpoints(self, force: bool = False) -> None:
        tailer = self.tailer
        if tailer is None or not (force or tailer.changed or self.noise.changed):
            return
        try:
            self.spool.sync()  # the spool holds what the checkpoints let go of: first
            self.noise.save(self.config.daemon.state_dir)  # counted = done
            self.store.save(tailer.checkpoints(), tailer.known_sources())
            tailer.mark_saved()
        except OSError as exc:
            log.error("cannot write %s: %s", self.store.path, exc.strerror or exc)

    # -- reload -------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the config file. Sources, sinks and routes change; queued and
        in-flight events are kept, files are not read again. [daemon] and [spool]
        changes take effect at restart. systemd is always told the reload ended."""
        self.notifier.reloading()
        try:
            new = self._load_for_reload()
            if new is not None:
                self._apply_reload(new)
        except Exception:  # half applied: say so, but never take the daemon down
            log.exception("reload of %s failed part way", self.config.path)
        finally:
            self.notifier.ready(status_line(self.snapshot()))

    def _load_for_reload(self) -> Config | None:
        """The new config; None (reported) when it is unusable and the old one stays."""
        path = self.config.path
        try:
            new = load_config(path)
            check_sources(new, own_log_file())
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
            return None
        except Exception as exc:  # a problem the checks do not name yet
            log.error("reload refused, keeping the running config: %s: %r", path, exc)
            return None
        return new

    def _apply_reload(self, new: Config) -> None:
        path = self.config.path
        if (new.daemon != self.config.daemon or new.spool != self.config.spool
                or new.cluster != self.config.cluster):
            log.warning("reload: changes to [daemon], [spool] and [cluster] take effect at "
                        "restart")
        self.context.config = new
        self.context.redactor = self._shown_redactor(self.config)  # ([spool] stays)
        self._reload_sinks(new)
        self.pipeline = self._pipeline(replace(new, spool=self.config.spool,
                                               cluster=self.config.cluster))
        if new.sources != self.config.sources and self.tailer is not None:
            self.tailer.set_sources(new.sources)
        self.config = replace(new, daemon=self.config.daemon, spool=self.config.spool,
                              cluster=self.config.cluster)
        log.info("reloaded %s: %d sources, %d sinks, %d routes", path, len(new.sources),
                 len(new.sinks), len(new.routes))

    def _reload_sinks(self, new: Config) -> None:
        for name, sink in new.sinks.items():
            running = self.sinks.get(name)
            if running is not None and not running.retiring and not _same_target(
                    running.worker.config, sink):
                # Another target (a deleted webhook replaced, say): its own worker, budget
                # and circuit; the old one delivers (or spools) what it holds, then stops.
                self._retire(running, "its target changed")
            if running is None or running.retiring:
                self._start_worker(sink)
            else:
                running.worker.sink.reconfigure(sink, self.context)
        for name in set(self.sinks) - set(new.sinks):
            self._retire(self.sinks[name], "removed by reload")

    def _retire(self, running: _Running, why: str) -> None:
        if not running.retiring:
            running.retiring = True
            running.retirement = asyncio.create_task(self._retire_sink(running, why),
                                                     name=f"retire:{running.worker.name}")
            self._retiring.append(running)

    async def _retire_sink(self, running: _Running, why: str) -> None:
        """A sink's worker that reload let go (`why`): deliver what it has queued, then stop
        it. An event put after the drain (a dispatch that routed it before the reload) is
        spooled."""
        name = running.worker.name
        running.feeder.stop_feeding()
        await running.worker.drain(timeout=float("inf"))
        running.drainer.cancel()
        running.task.cancel()
        await asyncio.gather(running.task, running.drainer, return_exceptions=True)
        late = await running.worker.retire(f"sink {why}")
        running.feeder.settle()
        if self.sinks.get(name) is running:  # not re-added by a later reload
            del self.sinks[name]
        self._retiring = [r for r in self._retiring if r is not running]
        log.info("sink %s: old worker stopped, %s (its queue was delivered first%s)", name,
                 why, f"; {late} later events spooled" if late else "")


def _same_target(old: SinkConfig, new: SinkConfig) -> bool:
    """A sink reloaded with these options still sends where it did."""
    return old.type == new.type and sink_type(new.type).same_target(old.options, new.options)


def run_daemon(config: Config) -> int:
    """Run the daemon in a fresh event loop until it is stopped; the exit status.
    StateDirBusy (nothing read or written) when another daemon runs on its state dir."""
    with StateLock(config.daemon.state_dir):
        return asyncio.run(Daemon(config).run())


def state_paths(config: Config) -> dict[str, Path]:
    """Where the daemon keeps its state, for `logship check` to show."""
    return {"checkpoints": CheckpointStore(config.daemon.state_dir).path,
            "spool": config.daemon.spool_dir}
