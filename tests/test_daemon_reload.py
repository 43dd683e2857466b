"""The daemon's lifecycle in process. A SIGHUP reload while events are on their way: a
removed sink must neither kill the tailer's dispatch nor swallow an event, so every
acknowledgement still resolves and the file's checkpoint keeps moving. A tailer that
died makes the exit status a failure; one stuck dispatching (a full queue) does not
hold up a stop past `drain_timeout` or a second signal. A reload that fails in any way
keeps the running config and still tells systemd it is over."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from logship import daemon as daemon_module
from logship.config import load_config
from logship.daemon import Daemon
from logship.event import Event, Level
from logship.observe.sdnotify import Notifier
from logship.sinks.discord.client import WebhookClient
from logship.sinks.worker import Item, SinkWorker
from logship.spool.store import SpoolRecord, drained_offset, read_segment, segments
from logship.tail.checkpoint import FileProgress
from logship.tail.tailer import Tailer

URL = "http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token"


def write_config(path: Path, sinks: list[str], drain_timeout: float = 5.0,
                 urls: dict[str, str] | None = None) -> None:
    """Sink `a` holds one event at a time, so a dispatch waits on it; route r → `sinks`.
    Every sink posts to `URL` unless `urls` names another for it."""
    urls = urls or {}
    tables = "".join(f'[sinks.{name}]\nurl = "{urls.get(name, URL)}"\n'
                     f'queue_size = {1 if name == "a" else 10}\n'
                     for name in sinks)
    path.write_text(f'[daemon]\nstate_dir = "{path.parent / "state"}"\n'
                    f'drain_timeout = {drain_timeout}\n{tables}'
                    f'[[routes]]\nname = "r"\nsinks = {sinks!r}\n'.replace("'", '"'))


@pytest.fixture
async def idle(tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[Daemon]:
    """A daemon with sinks `a` and `b` (see `write_config`) whose workers never send: the
    test moves their queues by hand. Its config is `tmp_path / "config.toml"`."""
    config = tmp_path / "config.toml"
    write_config(config, ["a", "b"])
    daemon = Daemon(load_config(config), handle_signals=False)
    daemon._client = WebhookClient(session)
    for sink in daemon.config.sinks.values():
        daemon._start_worker(sink)
    for running in daemon.sinks.values():
        running.task.cancel()
        running.drainer.cancel()
    yield daemon
    daemon.spool.close()
    daemon.history.close()


async def until(predicate: object, rounds: int = 200) -> None:
    for _ in range(rounds):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def take(worker: SinkWorker) -> Item:
    """What the sink's run loop would do on delivery: dequeue and resolve."""
    item = worker.queue.get_nowait()
    item.done()
    worker._release([item])
    return item


async def test_a_sink_removed_while_dispatch_waits_spools_instead_of_crashing(
        tmp_path: Path, idle: Daemon) -> None:
    daemon, config = idle, tmp_path / "config.toml"
    a = daemon.sinks["a"].worker
    b = daemon.sinks["b"].worker
    await a.put(Item(Event(None, Level.ERROR, "filler")))  # a is full: the next put waits
    progress = FileProgress(0)
    events = [Event(None, Level.ERROR, f"e{i}", offset=10 * (i + 1)) for i in range(2)]
    dispatch = asyncio.create_task(daemon._dispatch(events, progress))
    await until(lambda: len(a.queue._putters) == 1)  # e0 waits for a (then goes to b)

    write_config(config, ["a"])  # SIGHUP: sink b and its route target are gone
    daemon.reload()
    await until(lambda: "b" not in daemon.sinks)
    assert b.retired is not None and b.backlog == 0

    take(a)  # room in a: e0 goes in, then to b, which was retired meanwhile
    await until(lambda: a.queue.qsize() == 1 and a.queue._queue[0].event is events[0])
    assert take(a).event is events[0]
    await until(lambda: a.queue.qsize() == 1)
    assert take(a).event is events[1]
    await asyncio.wait_for(dispatch, 1.0)  # no KeyError: the tailer lives on

    assert progress.committed == events[-1].offset and progress.pending == 0
    (segment,) = segments(daemon.config.daemon.spool_dir, "b")
    assert [r.event.message for r in read_segment(segment)] == ["e0"]


async def test_an_event_put_after_retirement_is_spooled_and_acknowledged(
        idle: Daemon) -> None:
    daemon = idle
    b = daemon.sinks["b"].worker
    progress = FileProgress(0)
    early, late = (Event(None, Level.ERROR, m, offset=o) for m, o in (("early", 5), ("late", 9)))
    early.ack, late.ack = progress.track(5, 1), progress.track(9, 1)
    await b.put(Item(early))
    assert await b.retire("sink removed by reload") == 1
    await b.put(Item(late))  # a dispatch that held the worker from before the reload
    assert progress.committed == 9 and b.backlog == 0
    (segment,) = segments(daemon.config.daemon.spool_dir, "b")
    assert [r.event.message for r in read_segment(segment)] == ["early", "late"]


async def test_a_tailer_that_died_makes_the_exit_status_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenTailer(Tailer):
        async def run(self, stop: asyncio.Event) -> None:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(daemon_module, "Tailer", BrokenTailer)
    config = tmp_path / "config.toml"
    write_config(config, ["a"])
    daemon = Daemon(load_config(config), handle_signals=False)
    # systemd's Restart=on-failure only restarts a service that exits non-zero
    assert await asyncio.wait_for(daemon.run(), 10.0) == 1


@pytest.mark.parametrize("how", ["url changed", "removed and added back"])
async def test_a_stop_while_an_old_worker_retires_spools_what_it_holds(
        tmp_path: Path, idle: Daemon, how: str) -> None:
    """A reload that replaces sink b's worker lets the old one deliver what it holds,
    then stop. A stop meanwhile must drain or spool the old worker's events like every
    other worker's: left unresolved, they would be read and sent again after a restart."""
    daemon, config = idle, tmp_path / "config.toml"
    old = daemon.sinks["b"].worker
    progress = FileProgress(0)
    held = Event(None, Level.ERROR, "held by the old worker", offset=7)
    held.ack = progress.track(7, 1)
    await old.put(Item(held))  # its run task is stopped: it stays there, as in a hung send

    if how == "url changed":
        write_config(config, ["a", "b"], urls={"b": URL.replace("secret-token", "new-token")})
        daemon.reload()
    else:
        write_config(config, ["a"])
        daemon.reload()
        write_config(config, ["a", "b"])
        daemon.reload()
    assert daemon.sinks["b"].worker is not old and old.backlog == 1

    daemon.tailer = Tailer(daemon.config.sources, [], daemon._dispatch)
    tail_task = asyncio.create_task(asyncio.sleep(0))
    saver = asyncio.create_task(asyncio.sleep(3600))
    daemon._hurry.set()  # no drain: straight to what is left
    await asyncio.wait_for(daemon._shutdown(tail_task, saver), 10.0)

    assert progress.committed == 7 and old.backlog == 0
    spooled = [r.event.message for path in segments(daemon.config.daemon.spool_dir, "b")
               for r in read_segment(path)]
    assert spooled == ["held by the old worker"]


async def test_a_stop_while_an_old_worker_retires_marks_what_its_drain_fed(
        tmp_path: Path, idle: Daemon) -> None:
    """The old worker was re-sending spooled events (its spool drain fed them) when a
    reload replaced it, and a stop came before it was through: the segment's `.done`
    must still pass what it delivered or spooled anew, or a restart sends it again."""
    daemon, config = idle, tmp_path / "config.toml"
    old = daemon.sinks["b"]
    daemon.spool.append([SpoolRecord(Event(None, Level.ERROR, f"spooled {n}"), "b",
                                     "fallback", "HTTP 503") for n in range(3)])
    daemon.spool.sync()
    (segment,) = segments(daemon.config.daemon.spool_dir, "b")
    feeding = asyncio.create_task(old.feeder.drain_all())
    await until(lambda: old.worker.queue.qsize() == 3)
    assert take(old.worker).event.message == "spooled 0"  # delivered

    write_config(config, ["a", "b"], urls={"b": URL.replace("secret-token", "new-token")})
    daemon.reload()
    daemon.tailer = Tailer(daemon.config.sources, [], daemon._dispatch)
    daemon._hurry.set()
    await asyncio.wait_for(daemon._shutdown(asyncio.create_task(asyncio.sleep(0)),
                                            asyncio.create_task(asyncio.sleep(3600))), 10.0)
    feeding.cancel()

    assert drained_offset(segment) == segment.stat().st_size  # none of it goes again
    again = [r.event.message for path in segments(daemon.config.daemon.spool_dir, "b")
             if path != segment for r in read_segment(path)]
    assert again == ["spooled 1", "spooled 2"]  # what it had not delivered: spooled anew


class StuckTailer(Tailer):
    """Dispatching into a queue that never empties: it does not notice the stop."""

    cancelled = False

    async def run(self, stop: asyncio.Event) -> None:
        self.watching.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            StuckTailer.cancelled = True
            raise


@pytest.mark.parametrize("signals, drain_timeout", [(1, 0.2), (2, 3600.0)])
async def test_a_stuck_tailer_is_cancelled_after_the_drain_timeout_or_a_second_signal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals: int,
        drain_timeout: float) -> None:
    monkeypatch.setattr(daemon_module, "Tailer", StuckTailer)
    monkeypatch.setattr(StuckTailer, "cancelled", False)
    config = tmp_path / "config.toml"
    write_config(config, ["a"], drain_timeout=drain_timeout)
    daemon = Daemon(load_config(config), handle_signals=False)
    running = asyncio.create_task(daemon.run())
    await until(lambda: daemon.tailer is not None and daemon.tailer.watching.is_set())
    for _ in range(signals):
        daemon._on_stop_signal(signal.SIGTERM)
    assert await asyncio.wait_for(running, 10.0) == 0
    assert StuckTailer.cancelled
    assert (daemon.config.daemon.state_dir / "checkpoints.json").exists()


@pytest.mark.parametrize("breakage", ["not utf-8", "not finite", "unforeseen"])
async def test_a_reload_that_fails_keeps_the_config_and_tells_systemd_it_ended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    config = tmp_path / "config.toml"
    write_config(config, ["a"])
    daemon = Daemon(load_config(config), handle_signals=False)
    running = daemon.config
    if breakage == "not utf-8":
        config.write_bytes(config.read_bytes() + b"# caf\xe9\n")
    elif breakage == "not finite":
        config.write_text(config.read_text().replace("queue_size = 1", "queue_size = nan"))
    else:
        def broken(_path: Path) -> None:
            raise RuntimeError("a bug in the config checks")
        monkeypatch.setattr(daemon_module, "load_config", broken)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify.sock"))
        systemd.setblocking(False)
        daemon.notifier = Notifier(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
        daemon.reload()
        said = [systemd.recv(4096).decode().splitlines()[0] for _ in range(2)]
    assert said == ["RELOADING=1", "READY=1"]
    assert daemon.config is running
    daemon.notifier.close()
    daemon.spool.close()
    daemon.history.close()
