"""The spool on disk, its byte cap, and the automatic drain through a real worker."""

from __future__ import annotations

import asyncio
import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import CallbackResult, aioresponses

from logship.event import Event, Level
from logship.sinks import worker as deliver
from logship.sinks.discord.client import WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.ratelimit import RateLimits
from logship.sinks.discord.url import WebhookURL
from logship.sinks.worker import Item, SinkWorker
from logship.spool import drain
from logship.spool import store as spool_module
from logship.spool.drain import SpoolDrainer
from logship.spool.store import (
    Spool,
    SpoolFull,
    SpoolRecord,
    drained_offset,
    mark_drained,
    mark_replayed,
    outstanding,
    read_segment,
    replayed_offsets,
    rewrite_segment,
    scan_segment,
    segments,
)
from logship.tail.checkpoint import FileProgress
from tests.workers import discord_worker

URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token")
POST = re.compile(r"^http://127\.0\.0\.1:9/api/v10/webhooks/.*$")
OK = {"id": "1", "channel_id": "2", "type": 0}


def record(n: int, reason: str = "fallback", sink: str = "errors") -> SpoolRecord:
    return SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"spooled #{n}"),
                       sink=sink, reason=reason, error="HTTP 503", attempts=2)


def sent_ids(mocked: aioresponses) -> list[int]:
    bodies = [orjson.loads(c.kwargs["data"]) for calls in mocked.requests.values()
              for c in calls]
    texts = [e.get("title", "") + e.get("description", "") for b in bodies for e in b["embeds"]]
    return sorted(int(n) for t in texts for n in re.findall(r"#(\d+)", t))




def worker_for(session: aiohttp.ClientSession, spool: Spool, **options: Any) -> SinkWorker:
    sink = discord_sink(**({"name": "errors", "url": URL, "retry_base": 0.0, "retry_cap": 0.0}
                         | options))
    limiter = RateLimits().limiter(channel="c", webhook_requests=100, webhook_window=1.0,
                                   channel_messages=1000, channel_window=1.0)
    return discord_worker(sink, spool, client=WebhookClient(session), limiter=limiter)


# -- the files ----------------------------------------------------------------------------


def test_segments_roll_at_their_size_and_records_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=600)
    for n in range(6):
        spool.append([record(n)])
    spool.close()
    paths = segments(tmp_path, "errors")
    assert len(paths) > 1
    messages = [r.event.message for p in paths for r in read_segment(p)]
    assert messages == [f"spooled #{n}" for n in range(6)]
    assert spool.used_bytes == sum(p.stat().st_size for p in paths)


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(1), record(2)])
    spool.close()
    (path,) = segments(tmp_path)
    with path.open("ab") as f:
        f.write(b'{"event": {"level": "ERR')  # a crash mid-write
    found = scan_segment(path)
    assert found.torn == 1 and found.unreadable == 0
    assert [r.event.message for _, r in found.records] == ["spooled #1", "spooled #2"]


def test_the_byte_cap_refuses_whole_appends(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=700)
    spool.append([record(1)])
    with pytest.raises(SpoolFull):
        spool.append([record(2), record(3)])
    spool.close()
    assert [r.event.message for r in read_segment(segments(tmp_path)[0])] == ["spooled #1"]


# -- a full spool pauses instead of dropping -----------------------------------------------


async def test_a_full_spool_holds_events_until_there_is_room(mocked, session, tmp_path
                                                              ) -> None:
    mocked.post(POST, status=404, payload={"code": 10015, "message": "Unknown Webhook"},
                repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n, reason="dead") for n in range(8)])
    spool.max_bytes = spool.used_bytes + 10  # nearly full already
    worker = worker_for(session, spool)
    progress = FileProgress(0)
    event = Event(ts=None, level=Level.ERROR, message="must not be lost", offset=10)
    event.ack = progress.track(10, 1)
    task = asyncio.create_task(worker.run())
    await worker.put(Item(event))
    assert not await worker.drain(timeout=0.5)  # held: not delivered, not spooled
    assert worker.spool_blocked and progress.committed == 0

    spool.max_bytes = None  # the operator made room
    spool.freed(0)
    assert await worker.drain(timeout=5)
    task.cancel()
    assert progress.committed == 10 and not worker.spool_blocked
    spool.close()
    assert "must not be lost" in [r.event.message for p in segments(tmp_path)
                                  for r in read_segment(p)]


# -- automatic drain ---------------------------------------------------------------------


async def drain_once(worker: SinkWorker, spool: Spool) -> SpoolDrainer:
    task = asyncio.create_task(worker.run())
    drainer = SpoolDrainer(worker, spool)
    await drainer.drain_all()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return drainer


async def test_fallback_events_drain_and_dead_ones_stay(mocked, session, tmp_path) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(1), record(2, reason="dead"), record(3)])
    drainer = await drain_once(worker_for(session, spool), spool)
    assert sent_ids(mocked) == [1, 3] and drainer.drained == 2
    (path,) = segments(tmp_path)
    assert [r.event.message for r in read_segment(path)] == ["spooled #2"]
    assert spool.used_bytes == path.stat().st_size


async def test_a_drain_shows_the_sink_its_whole_segment_as_backlog(mocked, session, tmp_path
                                                                     ) -> None:
    """The drain feeds the worker a chunk at a time, but every spooled event waits: the
    sink decides full embeds or digests (issue 18) on all of them, so a big spool does
    not go out in full at 30 messages a minute."""
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(1, 251)])
    worker = worker_for(session, spool)
    asked: list[int] = []
    batch = worker.sink.batch
    worker.sink.batch = lambda pending, backlog: asked.append(backlog) or batch(  # type: ignore[method-assign]
        pending, backlog)
    await drain_once(worker, spool)
    assert sent_ids(mocked) == list(range(1, 251))
    assert asked[0] == 250  # the first request knew of every event behind its chunk
    assert asked == sorted(asked, reverse=True)  # and it only shrinks from there


async def test_a_restart_does_not_resend_what_was_drained(mocked, session, tmp_path) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(1, 5)])
    spool.close()
    (path,) = segments(tmp_path)
    first_two = scan_segment(path).records[1][0]
    mark_drained(path, first_two)  # an earlier run got this far, then crashed
    assert drained_offset(path) == first_two
    await drain_once(worker_for(session, spool), spool)
    assert sent_ids(mocked) == [3, 4]
    assert segments(tmp_path) == [] and list(tmp_path.glob("errors/*.done")) == []


async def test_no_drain_while_the_circuit_is_open_then_on_recovery(mocked, session, tmp_path
                                                                    ) -> None:
    mocked.post(POST, status=503, repeat=2)
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    worker = worker_for(session, spool, circuit_failures=2, max_attempts=10,
                        circuit_cooldown=0.1)
    drainer = SpoolDrainer(worker, spool)
    run = asyncio.create_task(worker.run())
    drain = asyncio.create_task(drainer.run())
    progress = FileProgress(0)
    live = Event(ts=None, level=Level.ERROR, message="live #1", offset=10)
    live.ack = progress.track(10, 1)
    await worker.put(Item(live))  # two 503s: the circuit opens, #1 goes to the spool
    assert await worker.drain(timeout=5)
    assert worker.circuit.tripped and len(segments(tmp_path)) == 1

    await asyncio.sleep(0.15)  # the cool-down passes; the next live event is the probe
    probe = Event(ts=None, level=Level.ERROR, message="live #2", offset=20)
    probe.ack = progress.track(20, 1)
    await worker.put(Item(probe))
    assert await worker.drain(timeout=5)
    for _ in range(50):  # the drainer woke on recovery; let it finish its segment
        if not segments(tmp_path):
            break
        await asyncio.sleep(0.05)
    run.cancel()
    drain.cancel()
    await asyncio.gather(run, drain, return_exceptions=True)
    assert sorted(set(sent_ids(mocked))) == [1, 2] and segments(tmp_path) == []


async def test_a_drained_event_gets_its_retries_again(mocked, session, tmp_path) -> None:
    mocked.post(POST, status=503)
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(1)])  # already failed twice, as often as max_attempts allows
    await drain_once(worker_for(session, spool, max_attempts=2), spool)
    assert sent_ids(mocked) == [1, 1] and segments(tmp_path) == []


async def test_a_drain_that_fails_again_on_a_full_spool_does_not_stall(mocked, session,
                                                                       tmp_path) -> None:
    mocked.post(POST, status=503, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    (old,) = segments(tmp_path)
    first = [r.first_failure for r in read_segment(old)]
    spool.max_bytes = spool.used_bytes + 10  # full after a long outage
    worker = worker_for(session, spool, max_attempts=2, circuit_failures=100)
    await asyncio.wait_for(drain_once(worker, spool), 10)
    (new,) = segments(tmp_path)  # the old segment is gone, its events spooled anew
    records = list(read_segment(new))
    assert new != old and [r.event.message for r in records] == [f"spooled #{n}"
                                                                 for n in range(3)]
    assert [r.first_failure for r in records] == first
    assert [r.attempts for r in records] == [4, 4, 4]  # 2 before, 2 in this drain


async def test_a_live_event_failing_on_a_full_spool_during_a_drain_does_not_stall(
        mocked, session, tmp_path) -> None:
    mocked.post(POST, status=503, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.max_bytes = spool.used_bytes + 10  # full after a long outage
    worker = worker_for(session, spool, max_attempts=1, circuit_failures=100)
    live = Item(Event(ts=None, level=Level.CRITICAL, message="live #9"))
    await worker.put(live)  # first in line: it fails while the drain waits on the worker
    await asyncio.wait_for(drain_once(worker, spool), 10)
    kept = sorted(r.event.message for path in segments(tmp_path) for r in read_segment(path))
    assert kept == ["live #9", "spooled #0", "spooled #1", "spooled #2"]  # nothing lost
    assert not worker.spool_blocked


async def test_events_that_fail_again_are_synced_before_their_old_copy_goes(
        mocked, session, tmp_path, monkeypatch) -> None:
    mocked.post(POST, status=503, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    unsynced: list[str] = []

    def check(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if any(segment.dirty for segment in spool._open.values()):
                unsynced.append(name)
            return real(*args)
        return call

    monkeypatch.setattr(drain, "mark_drained", check("mark_drained", drain.mark_drained))
    monkeypatch.setattr(drain, "rewrite_segment",
                        check("rewrite_segment", drain.rewrite_segment))
    worker = worker_for(session, spool, max_attempts=1, circuit_failures=100)
    await drain_once(worker, spool)
    assert worker.stats.spooled == 3 and len(segments(tmp_path)) == 1
    assert unsynced == []


async def test_a_corrupt_segment_is_set_aside_and_no_longer_counts_against_the_cap(
        mocked, session, tmp_path) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(1), record(2)])
    spool.close()
    (path,) = segments(tmp_path)
    first, second = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first + b"{not json\n" + second)
    spool.recount()
    await drain_once(worker_for(session, spool), spool)
    assert segments(tmp_path) == [] and path.with_name(path.name + ".corrupt").exists()
    assert spool.used_bytes == 0


async def test_a_segment_is_kept_while_some_fed_events_were_neither_sent_nor_spooled(
        mocked, session, tmp_path, caplog) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    (path,) = segments(tmp_path)
    worker = worker_for(session, spool)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    # The unexpected-error path cannot spool them either: their acks never resolve.
    worker.sink.renderer.payload = broken  # type: ignore[method-assign]
    spool.append = broken  # type: ignore[method-assign]
    await drain_once(worker, spool)
    assert segments(tmp_path) == [path]
    assert [r.event.message for _, r in outstanding(path)[0]] == [
        f"spooled #{n}" for n in range(3)]
    assert "kept" in caplog.text


# -- sidecars and crashes -------------------------------------------------------------------


def four_records_half_done(root: Path) -> tuple[Path, list[int]]:
    """A segment of #1-#4 of which the drain sent #1 and #2 and a replay #3."""
    spool = Spool(root)
    spool.append([record(n) for n in range(1, 5)])
    spool.close()
    (path,) = segments(root)
    ends = [end for end, _ in scan_segment(path).records]
    mark_drained(path, ends[1])
    mark_replayed(path, [ends[2]])
    return path, ends


def test_a_crash_before_a_rewrite_replaces_the_segment_resends_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = four_records_half_done(tmp_path)
    last = [r for _, r in scan_segment(path).records[3:]]

    def killed(*args: Any) -> None:
        raise OSError("killed before the replace")

    monkeypatch.setattr(spool_module.os, "replace", killed)
    with pytest.raises(OSError):
        rewrite_segment(path, last)
    monkeypatch.undo()
    assert [r.event.message for _, r in outstanding(path)[0]] == ["spooled #4"]


def test_sidecars_left_by_a_crash_after_the_replace_do_not_apply_to_the_new_file(
        tmp_path: Path) -> None:
    path, _ = four_records_half_done(tmp_path)
    sidecars = {p: p.read_bytes() for p in tmp_path.glob("errors/*.jsonl.*")}
    assert len(sidecars) == 2
    rewrite_segment(path, [record(5), record(6), record(7)])
    for sidecar, content in sidecars.items():  # killed before they were removed
        sidecar.write_bytes(content)
    assert [r.event.message for _, r in outstanding(path)[0]] == [
        "spooled #5", "spooled #6", "spooled #7"]
    first = scan_segment(path).records[0][0]
    mark_replayed(path, [first])  # a later replay starts a sidecar of its own
    assert replayed_offsets(path) == {first}
    assert [r.event.message for _, r in outstanding(path)[0]] == ["spooled #6", "spooled #7"]


def test_sidecars_of_the_previous_version_still_apply(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(1, 5)])
    spool.close()
    (path,) = segments(tmp_path)
    ends = [end for end, _ in scan_segment(path).records]
    path.with_name(path.name + ".done").write_text(str(ends[0]))  # no inode in them
    path.with_name(path.name + ".replayed").write_text(f"{ends[1]}\n")
    assert drained_offset(path) == ends[0] and replayed_offsets(path) == {ends[1]}
    assert [r.event.message for _, r in outstanding(path)[0]] == ["spooled #3", "spooled #4"]


def fsync_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What os.fsync and os.replace are called on, in order."""
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd: int) -> None:
        calls.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        fsync(fd)

    def logged_replace(src: Any, dst: Any) -> None:
        calls.append(f"replace {dst}")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    return calls


def test_mark_drained_syncs_the_file_then_renames_then_syncs_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path)
    spool.append([record(1)])
    spool.close()
    (path,) = segments(tmp_path)
    calls = fsync_log(monkeypatch)
    mark_drained(path, 10)
    done = path.with_name(path.name + ".done")
    tmp = done.with_suffix(".tmp")
    assert calls == [f"fsync {tmp}", f"replace {done}", f"fsync {path.parent}"]
    assert drained_offset(path) == 10


def test_a_new_segment_and_a_new_sink_folder_are_synced_into_their_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    calls = fsync_log(monkeypatch)
    spool = Spool(root, segment_bytes=600)
    spool.append([record(1)])
    assert calls == [f"fsync {root}", f"fsync {root / 'errors'}"]
    calls.clear()
    spool.append([record(2), record(3)])  # rolls: the next segment is synced in too
    spool.close()
    assert f"fsync {root / 'errors'}" in calls
    assert f"fsync {root}" not in calls  # the sink folder was there already


# -- a full disk (ENOSPC) during a drain ----------------------------------------------------


class FullDisk(Spool):
    """A spool whose disk refuses every write once `full`, until a segment is deleted."""

    full = False

    def _write(self, sink: str, data: bytes) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super()._write(sink, data)

    def freed(self, nbytes: int) -> None:
        if nbytes > 0:
            self.full = False
        super().freed(nbytes)


async def start_drain_while_live_fails(mocked: aioresponses, session: aiohttp.ClientSession,
                                       spool: Spool, *, drained_answer: dict[str, Any]
                                       ) -> tuple[SinkWorker, FileProgress, asyncio.Task[None],
                                                  asyncio.Task[None]]:
    """A live critical in flight; the drain starts feeding; then the live request fails
    (503), on a disk that is full by then. The drained events get `drained_answer`."""
    in_flight, feeding = asyncio.Event(), asyncio.Event()

    async def live_fails_once_the_drain_feeds(url: Any, **kwargs: Any) -> CallbackResult:
        in_flight.set()
        await feeding.wait()
        return CallbackResult(status=503)

    mocked.post(POST, callback=live_fails_once_the_drain_feeds)
    mocked.post(POST, repeat=True, **drained_answer)
    worker = worker_for(session, spool, max_attempts=1, circuit_failures=100)
    progress = FileProgress(0)
    live = Event(ts=None, level=Level.CRITICAL, message="live #9", offset=10)
    live.ack = progress.track(10, 1)
    run = asyncio.create_task(worker.run())
    await worker.put(Item(live))
    await in_flight.wait()
    drain = asyncio.create_task(SpoolDrainer(worker, spool).drain_all())
    while not worker.draining:
        await asyncio.sleep(0.01)
    spool.full = True  # type: ignore[attr-defined]
    feeding.set()
    return worker, progress, run, drain


async def test_a_live_batch_failing_on_a_full_disk_during_a_drain_does_not_stall(
        mocked, session, tmp_path) -> None:
    spool = FullDisk(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    worker, progress, run, drain = await start_drain_while_live_fails(
        mocked, session, spool, drained_answer={"payload": OK})
    await asyncio.wait_for(drain, 10)  # the drained ones went; their segment is deleted
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    assert sent_ids(mocked) == [0, 1, 2, 9]
    spool.close()
    kept = [r.event.message for path in segments(tmp_path) for r in read_segment(path)]
    assert kept == ["live #9"]  # written as soon as the deletion made room
    assert progress.committed == 10 and not worker.spool_blocked


async def test_drained_events_failing_on_a_full_disk_stay_in_their_segment(
        mocked, session, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(deliver, "SPOOL_RETRY", 0.05)
    spool = FullDisk(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    (old,) = segments(tmp_path)
    worker, progress, run, drain = await start_drain_while_live_fails(
        mocked, session, spool, drained_answer={"status": 503})
    await asyncio.wait_for(drain, 10)  # nothing could be written, and no wait for it
    assert segments(tmp_path) == [old] and progress.committed == 0
    assert worker.spool_blocked
    spool.full = False  # the operator made room: the retry timer writes the live one
    for _ in range(200):
        if progress.committed == 10:
            break
        await asyncio.sleep(0.01)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    spool.close()
    assert progress.committed == 10 and not worker.spool_blocked
    assert [r.event.message for _, r in outstanding(old)[0]] == [
        f"spooled #{n}" for n in range(3)]  # kept once, in their old segment
    new = [p for p in segments(tmp_path) if p != old]
    assert [r.event.message for p in new for r in read_segment(p)] == ["live #9"]
