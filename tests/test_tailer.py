"""The tailer in-process, on real files and real inotify: identity, renames while stopped,
idle flushing, bounded descriptors, unreadable files."""

from __future__ import annotations

import asyncio
import bz2
import contextlib
import gzip
import logging
import lzma
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from logship.config import SourceConfig
from logship.event import Event
from logship.tail.checkpoint import Checkpoint, CheckpointStore, FileProgress, SavedState
from logship.tail.tailer import ROTATED_LINGER, Tailer, TrackedFile
from tests.e2e import after_the_clock_ticks

WAIT = 10.0


class Collector:
    """A dispatch that takes every event at once (as if every route delivered it)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._news = asyncio.Event()

    async def __call__(self, events: list[Event], progress: FileProgress) -> None:
        for event in events:
            event.ack = progress.track(event.offset, 1)
            event.ack.resolve()
        self.events += events
        self._news.set()

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.events]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async def until() -> None:
            while not predicate():
                self._news.clear()
                await self._news.wait()

        await asyncio.wait_for(until(), WAIT)


class HoldsBack(Collector):
    """A dispatch that delivers every event except those whose message is in `held`
    (a webhook that never takes them)."""

    def __init__(self, *held: str) -> None:
        super().__init__()
        self.held = set(held)

    async def __call__(self, events: list[Event], progress: FileProgress) -> None:
        for event in events:
            event.ack = progress.track(event.offset, 1)
            if event.message not in self.held:
                event.ack.resolve()
        self.events += events
        self._news.set()


class Running:
    def __init__(self, tailer: Tailer, collector: Collector) -> None:
        self.tailer = tailer
        self.collector = collector
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(tailer.run(self.stop))

    async def finish(self) -> list[Checkpoint]:
        """Stop; the checkpoints then (`known`: the sources known then)."""
        self.stop.set()
        await asyncio.wait_for(self.task, WAIT)
        checkpoints = self.tailer.checkpoints()
        self.known = self.tailer.known_sources()
        self.tailer.close()
        return checkpoints


def source(tmp_path: Path, pattern: str = "*.log", **options: object) -> SourceConfig:
    base = SourceConfig(name="bot", paths=(str(tmp_path / pattern),), format="text",
                        start_at="beginning", idle_flush=0.1)
    return replace(base, **options)  # type: ignore[arg-type]


@pytest.fixture
async def tail(tmp_path: Path) -> AsyncIterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(*sources: SourceConfig, saved: list[Checkpoint] | None = None,
              max_open: int = 64, known: list[str] | None = None,
              saved_at_ns: int | None = None) -> Running:
        collector = Collector()
        running = Running(Tailer(sources or (source(tmp_path),), saved or [], collector,
                                 max_open=max_open, known_sources=known or [],
                                 saved_at_ns=saved_at_ns), collector)
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            await running.finish()


def refuse_open(monkeypatch: pytest.MonkeyPatch, path: Path, error: OSError) -> set[str]:
    """`os.open` of `path` raises `error` while its name is in the set returned (clear it
    to let the file be opened again)."""
    real_open = os.open
    locked = {str(path)}

    def guarded_open(name: str, flags: int, *args: int) -> int:
        if str(name) in locked:
            raise type(error)(*error.args, str(name))
        return real_open(name, flags, *args)

    monkeypatch.setattr(os, "open", guarded_open)
    return locked


def append(path: Path, *lines: str) -> None:
    with path.open("a") as f:
        f.writelines(f"{line}\n" for line in lines)


async def test_new_lines_are_read_as_they_come(tmp_path: Path, tail: Callable[..., Running]
                                               ) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] one")
    running = tail()
    await running.collector.wait_for(lambda: running.collector.messages == ["one"])
    append(log, "[INFO] two")
    await running.collector.wait_for(lambda: running.collector.messages == ["one", "two"])


async def test_a_file_renamed_while_stopped_is_read_to_its_end(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] before stop")
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 1)
    saved = await first.finish()

    append(log, "[INFO] after stop, same file")
    os.rename(log, tmp_path / "bot.log.1")  # logrotate, while logship is down
    append(log, "[INFO] the new file")

    second = tail(saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) == 2)
    assert second.collector.messages == ["after stop, same file", "the new file"]


async def test_start_at_end_still_reads_a_file_that_replaced_a_checkpointed_one(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] old")
    first = tail(source(tmp_path, start_at="end"))
    stamp = os.stat(log)
    saved = await first.finish()
    assert [c.identity.inode for c in saved] == [stamp.st_ino]

    log.unlink()
    append(log, "[INFO] written while logship was down")
    second = tail(source(tmp_path, start_at="end"), saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) == 1)
    assert second.collector.messages == ["written while logship was down"]


async def held_partial(running: Running, path: Path) -> TrackedFile:
    """The followed file `path`, once it holds the unfinished line written to it."""
    async def until() -> TrackedFile:
        while True:
            tracked = next((f for f in running.tailer.files() if f.path == str(path)), None)
            if tracked is not None and tracked.reader.has_partial:
                return tracked
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(until(), WAIT)


async def test_an_unfinished_line_waits_for_its_newline(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail(source(tmp_path, format="json"))
    with log.open("a") as f:
        f.write('{"level": "ERROR", "message": "the writer has not fini')
    tracked = await held_partial(running, log)
    assert tracked.flush_at is None  # no timer sends it half-written, nor spins on it
    with log.open("a") as f:
        f.write('shed this line"}\n')
    await running.collector.wait_for(lambda: len(running.collector.events) >= 1)
    assert running.collector.messages == ["the writer has not finished this line"]
    assert running.collector.events[0].offset == log.stat().st_size


async def test_an_unfinished_line_goes_out_as_it_is_when_its_file_is_deleted(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail()
    with log.open("a") as f:
        f.write("[ERROR] the writer never ends this line")
    await held_partial(running, log)
    log.unlink()
    await running.collector.wait_for(lambda: len(running.collector.events) == 1)
    assert running.collector.messages == ["the writer never ends this line"]


async def test_an_unfinished_line_of_a_rotated_file_is_finished_by_a_late_write(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail(source(tmp_path, format="json"))
    late = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # the bot's handler
    try:
        os.write(late, b'{"level": "ERROR", "message": "half')
        await held_partial(running, log)
        os.rename(log, tmp_path / "bot.log.1")  # logrotate: rename, create
        append(log, '{"message": "new file"}')
        await running.collector.wait_for(lambda: "new file" in running.collector.messages)
        os.write(late, b' and the other half"}\n')  # the record ends in the old file
    finally:
        os.close(late)
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    assert sorted(running.collector.messages) == ["half and the other half", "new file"]


async def test_an_unfinished_line_of_a_file_renamed_to_a_followed_name_is_read_whole(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail(source(tmp_path, format="json"))
    with log.open("a") as f:
        f.write('{"level": "ERROR", "message": "half')
    await held_partial(running, log)
    renamed = tmp_path / "bot-1.log"  # *.log matches the new name too
    os.rename(log, renamed)
    await asyncio.wait_for(_until(lambda: str(renamed) in {
        f.path for f in running.tailer.files()}), WAIT)
    with renamed.open("a") as f:
        f.write(' and the other half"}\n')
    await running.collector.wait_for(lambda: len(running.collector.events) >= 1)
    assert running.collector.messages == ["half and the other half"]


async def test_a_held_traceback_record_goes_out_after_idle_flush(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail()
    append(log, "ERROR:bot:it failed", "Traceback (most recent call last):",
           '  File "bot.py", line 1, in <module>', "ValueError: bad")
    await running.collector.wait_for(lambda: len(running.collector.events) == 1)
    [event] = running.collector.events
    assert event.message == "it failed"
    assert event.exception is not None and "ValueError: bad" in event.exception


async def test_descriptors_stay_bounded_and_dormant_files_still_follow(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    for n in range(6):
        append(tmp_path / f"f{n}.log", f"[INFO] first {n}")
    running = tail(max_open=2)
    await running.collector.wait_for(lambda: len(running.collector.events) == 6)
    assert running.tailer.open_files <= 2

    for n in range(6):
        append(tmp_path / f"f{n}.log", f"[INFO] second {n}")
    await running.collector.wait_for(lambda: len(running.collector.events) == 12)
    assert sorted(running.collector.messages[6:]) == [f"second {n}" for n in range(6)]
    assert running.tailer.open_files <= 2


async def test_a_dormant_file_rotated_away_is_read_to_its_end(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    for n in range(3):
        append(tmp_path / f"f{n}.log", f"[INFO] first {n}")
    running = tail(max_open=1)
    await running.collector.wait_for(lambda: len(running.collector.events) == 3)
    dormant = next(f for f in running.tailer.files() if f.reader.closed)
    path = Path(dormant.path)
    append(path, "[INFO] last line of the old file")
    os.rename(path, path.with_suffix(".old"))
    append(path, "[INFO] first line of the new file")
    await running.collector.wait_for(lambda: len(running.collector.events) == 5)
    assert running.collector.messages[3:] == ["last line of the old file",
                                              "first line of the new file"]


async def test_an_unreadable_file_is_reported_once_and_read_once_readable(
    tmp_path: Path, tail: Callable[..., Running], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] secret")
    locked = refuse_open(monkeypatch, log, PermissionError(13, "Permission denied"))
    running = tail()
    append(log, "[INFO] still locked")
    other = tmp_path / "other.log"
    append(other, "[INFO] the rest keep flowing")
    await running.collector.wait_for(lambda: len(running.collector.events) == 1)
    assert [r.message for r in caplog.records].count(
        f"cannot open {log}: Permission denied; will retry when it changes") == 1

    locked.clear()
    append(log, "[INFO] readable now")
    await running.collector.wait_for(lambda: len(running.collector.events) == 4)
    assert running.collector.messages[1:] == ["secret", "still locked", "readable now"]


async def following_one_line(tmp_path: Path, tail: Callable[..., Running]
                             ) -> tuple[Path, Running]:
    """bot.log with the line "before", followed and read."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] before")
    running = tail()
    await running.collector.wait_for(lambda: running.collector.messages == ["before"])
    return log, running


async def test_lines_written_into_a_file_just_rotated_away_are_still_read(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, running = await following_one_line(tmp_path, tail)
    late = os.open(log, os.O_WRONLY | os.O_APPEND)  # a writer that checked its path just now
    try:
        os.rename(log, tmp_path / "bot.log.1")  # logrotate: rename, create
        append(log, "[INFO] new file")
        await running.collector.wait_for(lambda: "new file" in running.collector.messages)
        os.write(late, b"[INFO] late, into the old file\n")  # its one write after the rename
    finally:
        os.close(late)
    await running.collector.wait_for(
        lambda: "late, into the old file" in running.collector.messages)
    await asyncio.wait_for(_until(lambda: all(f.reader.closed
                                              for f in running.tailer._retired)), WAIT)


async def test_a_file_renamed_to_a_name_still_followed_is_read_once(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, running = await following_one_line(tmp_path, tail)
    os.rename(log, tmp_path / "bot-1.log")  # *.log matches the new name too
    append(tmp_path / "bot-1.log", "[INFO] after the rename")
    await running.collector.wait_for(
        lambda: "after the rename" in running.collector.messages)
    append(tmp_path / "bot-1.log", "[INFO] while the old name lingers")
    await asyncio.sleep(ROTATED_LINGER + 0.5)  # the old name's last read would repeat it
    append(tmp_path / "bot-1.log", "[INFO] last")
    await running.collector.wait_for(lambda: "last" in running.collector.messages)
    assert running.collector.messages == [
        "before", "after the rename", "while the old name lingers", "last"]


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


async def until_seen_empty(running: Running, log: Path) -> None:
    """Until `running` follows the file under `log`, seen empty."""
    await _until(lambda: any(f.path == str(log) and f.reader.identity.head_len == 0
                             for f in running.tailer.files()))


async def messages_through(running: Running, last: str) -> list[str]:
    """Every message `running` read once `last` is among them, and a while longer (to
    catch a line read again)."""
    await running.collector.wait_for(lambda: last in running.collector.messages)
    await asyncio.sleep(0.3)
    return running.collector.messages


async def test_a_file_that_reuses_a_let_go_files_inode_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    append(log, *[f"[INFO] old {n} padding padding" for n in range(5)])
    collector = Collector()
    tailer = Tailer([source(tmp_path)], [], collector)
    old = await tailer._open(source(tmp_path), str(log), initial=False)
    assert old is not None
    await tailer._pump(old)
    await tailer._retire(old)  # deleted: let go, its acks may still be in flight
    with log.open("w") as f:  # the same inode holding another file (inode reuse)
        f.writelines(f"[INFO] NEW {n}\n" for n in range(3))
    new = await tailer._open(source(tmp_path), str(log), initial=False)
    assert new is not None and new.reader.position == 0
    tailer.close()


async def test_a_dormant_file_truncated_in_place_is_read_again_from_its_start(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    append(tmp_path / "a.log", "[INFO] a first line, longer than what replaces it " + "x" * 50)
    append(tmp_path / "b.log", "[INFO] b first")
    running = tail(max_open=1)
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    dormant = next(f for f in running.tailer.files() if f.reader.closed)
    path = Path(dormant.path)
    with path.open("r+") as f:
        f.truncate(0)
    append(path, *[f"[INFO] new {n}" for n in range(7)])
    await running.collector.wait_for(lambda: len(running.collector.events) == 9)
    assert running.collector.messages[2:] == [f"new {n}" for n in range(7)]


async def test_a_reload_that_drops_a_file_mid_dispatch_flushes_it_and_goes_on(
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")  # "two" is held: a traceback may follow
    collector = Collector()
    gate, entered = asyncio.Event(), asyncio.Event()

    async def gated(events: list[Event], progress: FileProgress) -> None:
        entered.set()
        await gate.wait()
        await collector(events, progress)

    running = Running(Tailer([source(tmp_path)], [], gated), collector)
    await asyncio.wait_for(entered.wait(), WAIT)
    running.tailer.set_sources([])  # SIGHUP: no source matches bot.log any more
    gate.set()
    await collector.wait_for(lambda: collector.messages == ["one", "two"])
    assert not running.task.done()
    assert running.tailer.files() == [] and running.tailer.open_files == 0
    await running.finish()


async def test_a_stop_ends_reading_a_big_backlog_at_once(tmp_path: Path) -> None:
    lines = [f'{{"msg": "backlog line {n:07d} padding padding"}}' for n in range(60_000)]
    for name in ("a.log", "b.log"):  # each several read chunks long
        append(tmp_path / name, *lines)
    collector = Collector()
    stop = asyncio.Event()

    async def stop_at_first(events: list[Event], progress: FileProgress) -> None:
        stop.set()  # SIGTERM while the backlog is being read
        await collector(events, progress)

    tailer = Tailer([source(tmp_path, format="json")], [], stop_at_first)
    await asyncio.wait_for(tailer.run(stop), WAIT)
    assert 0 < tailer.lines_read < len(lines)  # one chunk of one file, no more
    assert {e.path for e in collector.events} == {str(tmp_path / "a.log")}
    [a, b] = sorted(tailer.checkpoints(), key=lambda c: c.path)
    assert a.offset == collector.events[-1].offset and b.offset == 0
    tailer.close()


async def test_a_rename_seen_under_the_new_name_first_keeps_the_held_record(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    running = tail(source(tmp_path, idle_flush=3.0))
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    append(log, "ERROR:bot:it failed", "Traceback (most recent call last):",
           '  File "bot.py", line 1, in <module>', "ValueError: bad")

    async def held() -> None:
        while not any(f.holding_record for f in running.tailer.files()):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(held(), WAIT)
    os.rename(log, tmp_path / "bot-1.log")  # sorts, and so is handled, before bot.log
    append(log, "[INFO] new file")
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    assert running.collector.messages == ["it failed", "new file"]
    assert "ValueError: bad" in (running.collector.events[0].exception or "")


async def test_the_startup_scan_stays_under_the_open_file_limit(
    tmp_path: Path, tail: Callable[..., Running], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for n in range(10):
        (tmp_path / f"2025-{n:03d}").mkdir()
        append(tmp_path / f"2025-{n:03d}/x.log", f"[INFO] file {n}")
    real_open, real_close = os.open, os.close
    held: set[int] = set()

    def limited_open(path: str, flags: int, *args: int) -> int:  # RLIMIT_NOFILE of 5
        if len(held) >= 5:
            raise OSError(24, "Too many open files", str(path))
        fd = real_open(path, flags, *args)
        held.add(fd)
        return fd

    def tracked_close(fd: int) -> None:
        held.discard(fd)
        real_close(fd)

    monkeypatch.setattr(os, "open", limited_open)
    monkeypatch.setattr(os, "close", tracked_close)
    running = tail(source(tmp_path, "*/x.log", start_at="end"), max_open=2)
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    newest = tmp_path / "2025-009/x.log"
    append(newest, "[INFO] newest line")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 1)
    assert running.collector.messages == ["newest line"]
    assert len(running.tailer.files()) == 10 and running.tailer.open_files <= 2
    assert not [r for r in caplog.records if r.message.startswith("cannot open")]


async def test_a_file_unopenable_at_start_still_starts_at_its_end_then(
    tmp_path: Path, tail: Callable[..., Running], monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] before start")
    locked = refuse_open(monkeypatch, log, OSError(24, "Too many open files"))
    running = tail(source(tmp_path, start_at="end"))
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    append(log, "[INFO] after start")
    locked.clear()
    append(log, "[INFO] openable now")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 2)
    assert running.collector.messages == ["after start", "openable now"]


async def test_compressed_rotated_copies_matched_by_the_glob_are_never_tailed(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, "[INFO] live")
    (tmp_path / "bot.log.1.gz").write_bytes(gzip.compress(b"[INFO] rotated yesterday\n"))
    running = tail(source(tmp_path, "bot.log*"))
    await running.collector.wait_for(lambda: running.collector.messages == ["live"])
    for name, pack in (("bot.log.2.gz", gzip.compress), ("bot.log.3.bz2", bz2.compress),
                       ("bot.log.4.xz", lzma.compress)):
        (tmp_path / name).write_bytes(pack(b"[INFO] rotated, compressed\n" * 50))
    last = tmp_path / "bot.log.zz"  # sorts after the copies: handled after them
    append(last, "[INFO] after the copies")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 2)
    assert running.collector.messages == ["live", "after the copies"]
    assert {f.path for f in running.tailer.files()} == {str(log), str(last)}


# -- equal heads are not the same file ---------------------------------------------------

BANNER = "[INFO] StatsBot v2.3 starting " + "=" * 300  # the first line of every day's file


def put_whole(path: Path, *lines: str) -> None:
    """Create `path` with `lines` at once (written beside, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    beside = path.parent.parent / f".{path.name}.tmp"
    append(beside, *lines)
    os.rename(beside, path)


async def test_a_days_file_created_while_stopped_with_the_same_banner_is_read_whole(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    days = source(tmp_path, "*/logs.json")
    put_whole(tmp_path / "2025-07-16" / "logs.json", BANNER,
              *[f"[INFO] day 16 line {n}" for n in range(30)])
    first = tail(days)
    await first.collector.wait_for(lambda: len(first.collector.events) == 31)
    saved = await first.finish()

    put_whole(tmp_path / "2025-07-17" / "logs.json", BANNER, "[INFO] day 17 first",
              "[INFO] day 17 second")
    second = tail(days, saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 3)
    assert second.collector.messages == [BANNER.removeprefix("[INFO] "), "day 17 first",
                                         "day 17 second"]


async def test_a_sibling_created_live_with_the_same_banner_is_read_whole(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    append(tmp_path / "bot.log", BANNER, *[f"[INFO] bot line {n}" for n in range(30)])
    running = tail()
    await running.collector.wait_for(lambda: len(running.collector.events) == 31)
    put_whole(tmp_path / "other.log", BANNER, "[INFO] other first", "[INFO] other second")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 34)
    assert running.collector.messages[31:] == [BANNER.removeprefix("[INFO] "),
                                               "other first", "other second"]


async def test_a_reused_inode_with_the_same_banner_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    append(log, BANNER, *[f"[INFO] old {n}" for n in range(5)])
    collector = Collector()
    tailer = Tailer([source(tmp_path)], [], collector)
    old = await tailer._open(source(tmp_path), str(log), initial=False)
    assert old is not None
    await tailer._pump(old)
    await tailer._retire(old)  # deleted: let go, its acks may still be in flight
    with log.open("w") as f:  # the same inode holding another file with the same banner
        f.writelines(f"{line}\n" for line in [BANNER, *[f"[INFO] NEW {n} longer" for n in
                                                        range(9)]])
    new = await tailer._open(source(tmp_path), str(log), initial=False)
    assert new is not None and new.reader.position == 0
    tailer.close()


async def test_a_file_rewritten_while_stopped_with_the_same_banner_is_read_from_its_start(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, BANNER, *[f"[INFO] old {n}" for n in range(5)])
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 6)
    saved = await first.finish()
    with log.open("w") as f:  # same inode, same banner, more bytes than were read before
        f.writelines(f"{line}\n" for line in [BANNER, *[f"[INFO] new {n} longer" for n in
                                                        range(9)]])
    second = tail(saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 10)
    assert second.collector.messages[1:] == [f"new {n} longer" for n in range(9)]


# -- rotated while logship was stopped ---------------------------------------------------

async def stopped_after(tmp_path: Path, tail: Callable[..., Running], lines: int = 10,
                        **options: object) -> tuple[Path, list[Checkpoint]]:
    """bot.log with `lines` lines, read by a tailer that has stopped: its checkpoints."""
    log = tmp_path / "bot.log"
    append(log, *[f"[INFO] before stop {n}" for n in range(lines)])
    first = tail(source(tmp_path, **options))
    await first.collector.wait_for(lambda: len(first.collector.events) == lines)
    return log, await first.finish()


def remove_keeping_inode(path: Path) -> None:
    """Delete `path` from its folder, its inode kept alive (a hard link in a subfolder
    no glob matches), so that the file created next under its name cannot reuse it."""
    keep = path.parent / "kept"
    keep.mkdir(exist_ok=True)
    os.link(path, keep / path.name)
    path.unlink()


@pytest.mark.parametrize("copy_name,pack", [("bot.log.1", bytes),
                                            ("bot.log-20250716.gz", gzip.compress)])
@pytest.mark.parametrize("refill", [3, 40], ids=["shorter", "refilled-past-the-offset"])
async def test_copytruncate_while_stopped_reads_the_copy_then_the_file(
    tmp_path: Path, tail: Callable[..., Running], copy_name: str,
    pack: Callable[[bytes], bytes], refill: int,
) -> None:
    log, saved = await stopped_after(tmp_path, tail)
    append(log, "[INFO] after stop 1", "[INFO] after stop 2")
    (tmp_path / copy_name).write_bytes(pack(log.read_bytes()))  # logrotate: copy,
    os.truncate(log, 0)  # then truncate in place
    append(log, *[f"[INFO] new {n}" for n in range(refill)])
    second = tail(saved=saved)
    expected = ["after stop 1", "after stop 2", *[f"new {n}" for n in range(refill)]]
    await second.collector.wait_for(lambda: len(second.collector.events) >= len(expected))
    assert second.collector.messages == expected


async def test_a_truncation_while_stopped_without_a_copy_reads_from_0_and_says_so(
    tmp_path: Path, tail: Callable[..., Running], caplog: pytest.LogCaptureFixture,
) -> None:
    log, saved = await stopped_after(tmp_path, tail)
    os.truncate(log, 0)
    append(log, "[INFO] new")
    second = tail(saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 1)
    assert second.collector.messages == ["new"]
    assert any("may be lost" in r.message and r.levelname == "WARNING"
               for r in caplog.records), [r.message for r in caplog.records]


async def test_a_file_renamed_and_compressed_while_stopped_is_read_from_its_copy(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, saved = await stopped_after(tmp_path, tail)
    append(log, "[INFO] after stop")
    rotated = tmp_path / "bot.log.1.gz"  # logrotate: rename, create, compress at once
    rotated.write_bytes(gzip.compress(log.read_bytes()))
    remove_keeping_inode(log)
    append(log, "[INFO] the new file")
    second = tail(saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 2)
    assert second.collector.messages == ["after stop", "the new file"]


async def test_a_dormant_file_rotated_and_compressed_at_once_is_read_from_its_copy(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    for n in range(3):
        append(tmp_path / f"f{n}.log", f"[INFO] first {n}")
    running = tail(max_open=1)
    await running.collector.wait_for(lambda: len(running.collector.events) == 3)
    dormant = next(f for f in running.tailer.files() if f.reader.closed)
    path = Path(dormant.path)
    # all at once, before the tailer looks: rename, create, compress (the old file is gone)
    append(path, "[INFO] last line of the old file")
    packed = path.with_name(path.name + ".1.gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    remove_keeping_inode(path)
    append(path, "[INFO] first line of the new file")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 5)
    assert running.collector.messages[3:] == ["last line of the old file",
                                              "first line of the new file"]


class Unresolved(Collector):
    """A dispatch whose events stay in flight (a webhook that never answers)."""

    async def __call__(self, events: list[Event], progress: FileProgress) -> None:
        for event in events:
            event.ack = progress.track(event.offset, 1)
        self.events += events
        self._news.set()


async def test_a_crash_right_after_a_truncation_still_has_the_old_content_in_flight(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, *[f"[INFO] old {n}" for n in range(5)])
    collector = Unresolved()
    running = Running(Tailer([source(tmp_path)], [], collector), collector)
    await collector.wait_for(lambda: len(collector.events) == 5)
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())  # copytruncate: copy,
    os.truncate(log, 0)  # truncate,
    append(log, "[INFO] new")  # and the writer goes on
    await collector.wait_for(lambda: "new" in collector.messages)
    saved = running.tailer.checkpoints()  # what a save just before a kill -9 holds
    await running.finish()
    assert sorted(c.offset for c in saved if c.path == str(log)) == [0, 0]

    restarted = tail(saved=saved)
    await restarted.collector.wait_for(lambda: len(restarted.collector.events) >= 6)
    assert restarted.collector.messages == [*[f"old {n}" for n in range(5)], "new"]


# -- start_at is for sources never seen; a source dropped by a reload resumes ------------

async def test_a_file_created_while_stopped_is_read_whole_even_with_start_at_end(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    days = source(tmp_path, "*/logs.json", start_at="end")
    put_whole(tmp_path / "2025-07-16" / "logs.json", "[INFO] before the first start")
    first = tail(days)
    await asyncio.wait_for(first.tailer.watching.wait(), WAIT)
    append(tmp_path / "2025-07-16" / "logs.json", "[INFO] while running")
    await first.collector.wait_for(lambda: len(first.collector.events) == 1)
    saved = await first.finish()
    assert first.known == ["bot"]

    put_whole(tmp_path / "2025-07-17" / "logs.json", "[INFO] new day, while stopped")
    append(tmp_path / "2025-07-16" / "logs.json", "[INFO] old day, while stopped")
    second = tail(days, saved=saved, known=first.known)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 2)
    assert sorted(second.collector.messages) == ["new day, while stopped",
                                                 "old day, while stopped"]


async def test_a_source_new_to_the_config_starts_at_its_end(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    append(tmp_path / "bot.log", "[INFO] known before")
    append(tmp_path / "new.txt", "[INFO] new source's backlog")
    first = tail(source(tmp_path, start_at="end"))
    saved = await first.finish()
    added = source(tmp_path, "*.txt", name="added", start_at="end")
    second = tail(source(tmp_path, start_at="end"), added, saved=saved, known=first.known)
    await asyncio.wait_for(second.tailer.watching.wait(), WAIT)
    append(tmp_path / "new.txt", "[INFO] after the start")
    await second.collector.wait_for(lambda: len(second.collector.events) >= 1)
    assert second.collector.messages == ["after the start"]
    assert second.tailer.known_sources() == ["added", "bot"]


async def until_let_go(running: Running) -> None:
    """Until the files a reload dropped are let go, and a checkpoint save came after
    (the daemon saves about once a second: the files done with are forgotten then)."""
    await asyncio.wait_for(_until(lambda: not running.tailer._dropped
                                  and running.tailer.open_files == 0), WAIT)
    running.tailer.checkpoints()


@pytest.mark.parametrize("start_at", ["end", "beginning"])
async def test_a_source_removed_by_a_reload_and_added_back_resumes_where_it_stopped(
    tmp_path: Path, tail: Callable[..., Running], start_at: str
) -> None:
    bot = source(tmp_path, start_at=start_at)
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    running = tail(bot, known=["bot"])  # (an old hand: its files are read from the start)
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    running.tailer.set_sources([])  # SIGHUP: the source is gone
    await until_let_go(running)
    append(log, "[INFO] while the source was out of the config")
    running.tailer.set_sources([bot])  # SIGHUP: it is back
    await running.collector.wait_for(lambda: len(running.collector.events) >= 3)
    append(log, "[INFO] after")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 4)
    assert running.collector.messages == ["one", "two",
                                          "while the source was out of the config", "after"]


async def test_a_removed_sources_position_is_kept_across_a_restart(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    bot = source(tmp_path, start_at="end")
    log = tmp_path / "bot.log"
    append(log, "[INFO] one")
    gone = tmp_path / "gone.log"
    append(gone, "[INFO] deleted later")
    first = tail(bot, known=["bot"])
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    first.tailer.set_sources([])
    await until_let_go(first)
    gone.unlink()
    saved = await first.finish()
    assert [c.path for c in saved] == [str(log)]  # kept while its file is there

    append(log, "[INFO] while the source was out of the config")
    second = tail(bot, saved=saved, known=first.known)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 1)
    assert second.collector.messages == ["while the source was out of the config"]


async def test_a_file_with_two_checkpoints_renamed_while_stopped_is_read_from_the_earlier(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    append(log, *[f"[INFO] line {n}" for n in range(4)])
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 4)
    [saved] = await first.finish()
    ends = [e.offset for e in first.collector.events]
    # renamed live to bot-1.log while bot.log's last events were in flight: both saved
    earlier = replace(saved, offset=ends[1])
    later = replace(saved, path=str(tmp_path / "bot-1.log"))
    os.rename(log, tmp_path / "bot.log.old")  # then, while stopped, to a name not followed
    second = tail(saved=[later, earlier])
    await second.collector.wait_for(lambda: len(second.collector.events) >= 2)
    assert second.collector.messages == ["line 2", "line 3"]


async def test_a_source_added_back_while_its_events_are_in_flight_keeps_one_checkpoint(
    tmp_path: Path,
) -> None:
    bot = source(tmp_path)
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    collector = Unresolved()
    running = Running(Tailer([bot], [], collector, known_sources=["bot"]), collector)
    await collector.wait_for(lambda: len(collector.events) == 2)
    running.tailer.set_sources([])
    await until_let_go(running)
    running.tailer.set_sources([bot])  # back before its events were done
    append(log, "[INFO] three")
    await collector.wait_for(lambda: len(collector.events) == 3)
    for event in collector.events:
        assert event.ack is not None
        event.ack.resolve()
    assert [(c.path, c.offset) for c in running.tailer.checkpoints()] == [
        (str(log), log.stat().st_size)]
    await running.finish()


async def test_a_source_seen_for_the_first_time_is_a_change_to_save(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    running = tail(source(tmp_path, "empty/*.log", start_at="end"))  # no file yet
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    assert running.tailer.changed and running.tailer.known_sources() == ["bot"]
    running.tailer.mark_saved()
    assert not running.tailer.changed


async def test_files_with_unfinished_lines_still_keep_descriptors_bounded(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    for n in range(6):
        with (tmp_path / f"f{n}.log").open("a") as f:
            f.write(f"[INFO] first {n}\n[INFO] unfini")
    running = tail(max_open=2)
    await running.collector.wait_for(lambda: len(running.collector.events) == 6)
    await asyncio.wait_for(_until(lambda: running.tailer.open_files <= 2), WAIT)
    for n in range(6):
        with (tmp_path / f"f{n}.log").open("a") as f:
            f.write(f"shed {n}\n")
    await running.collector.wait_for(lambda: len(running.collector.events) == 12)
    assert sorted(running.collector.messages[6:]) == [f"unfinished {n}" for n in range(6)]
    assert running.tailer.open_files <= 2


async def test_a_file_recovered_under_its_rotated_name_is_recovered_again_after_a_crash(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """Found under a name no glob matches (rotated while stopped), a file is checkpointed
    under that name; a crash while its events are in flight must not lose them: the next
    start knows it by its source, not by whether its name matches a glob."""
    log, saved = await stopped_after(tmp_path, tail, lines=2)
    append(log, "[INFO] after stop 1", "[INFO] after stop 2")
    os.rename(log, tmp_path / "bot.log.1")  # logrotate, while logship is down
    append(log, "[INFO] the new file")
    collector = Unresolved()  # the webhook never answers: all of it stays in flight
    crashed = Running(Tailer([source(tmp_path)], saved, collector), collector)
    await collector.wait_for(lambda: len(collector.events) == 3)
    in_flight = crashed.tailer.checkpoints()  # what a save just before a kill -9 holds
    await crashed.finish()

    restarted = tail(saved=in_flight)
    await restarted.collector.wait_for(lambda: len(restarted.collector.events) >= 3)
    assert restarted.collector.messages == ["after stop 1", "after stop 2", "the new file"]


# -- a file last seen empty: its copy is told by time, not by content -------------------

async def stopped_while_empty(tmp_path: Path, tail: Callable[..., Running]
                              ) -> tuple[Path, list[Checkpoint]]:
    """bot.log, empty, followed by a tailer that has stopped: its checkpoints."""
    log = tmp_path / "bot.log"
    log.touch()
    first = tail()
    await asyncio.wait_for(first.tailer.watching.wait(), WAIT)
    await asyncio.sleep(0.05)  # (a copy must come later than the last look, by the clock)
    return log, await first.finish()


async def test_copytruncate_while_stopped_of_a_file_last_seen_empty_reads_the_copy(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] after stop 1", "[INFO] after stop 2")
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())  # logrotate: copy,
    os.truncate(log, 0)  # then truncate in place
    append(log, "[INFO] new")
    second = tail(saved=saved)
    await second.collector.wait_for(lambda: len(second.collector.events) >= 3)
    assert second.collector.messages == ["after stop 1", "after stop 2", "new"]


async def test_an_older_rotation_is_not_taken_for_the_copy_of_a_file_last_seen_empty(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    old = tmp_path / "bot.log.1"
    append(old, "[INFO] rotated long ago")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] after stop")  # appended; nothing rotated
    assert await read_after_restart(tail, saved, ["after stop"]) == ["after stop"]


async def test_a_copy_made_by_logrotate_copy_without_truncating_is_not_read_twice(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] after stop")
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())  # logrotate's `copy`: no truncate
    assert await read_after_restart(tail, saved, ["after stop"]) == ["after stop"]


async def test_lines_copytruncated_away_before_a_file_last_seen_empty_is_read(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log = tmp_path / "bot.log"
    log.touch()
    running = tail()
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    await asyncio.sleep(0.05)
    # written and copytruncated before the tailer gets to look (no await in between)
    append(log, "[INFO] one", "[INFO] two")
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())
    os.truncate(log, 0)
    await asyncio.sleep(0.3)
    append(log, "[INFO] three")
    await running.collector.wait_for(lambda: len(running.collector.events) >= 3)
    assert running.collector.messages == ["one", "two", "three"]


async def test_a_file_last_seen_empty_copytruncated_then_renamed_while_stopped(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] first rotation's")
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())  # copytruncate,
    os.truncate(log, 0)
    append(log, "[INFO] second rotation's")
    os.rename(tmp_path / "bot.log.1", tmp_path / "bot.log.2")  # then a rename rotation
    os.rename(log, tmp_path / "bot.log.1")
    append(log, "[INFO] the new file")
    expected = ["first rotation's", "second rotation's", "the new file"]
    assert await read_after_restart(tail, saved, expected) == expected


async def test_a_file_truncated_refilled_and_renamed_while_stopped_is_read_whole(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """copytruncate, a line, then two rename rotations, all while logship is stopped:
    the copy is read past the checkpoint, and the truncated file's new line (now under
    a rotated name, with content the checkpoint no longer describes) too."""
    log, saved = await stopped_after(tmp_path, tail, lines=3)
    append(log, "[INFO] after stop")
    (tmp_path / "bot.log.1").write_bytes(log.read_bytes())  # copytruncate
    os.truncate(log, 0)
    append(log, "[INFO] after the truncation")
    for _ in range(2):  # rename+create, twice
        for n in (2, 1):
            if (tmp_path / f"bot.log.{n}").exists():
                os.rename(tmp_path / f"bot.log.{n}", tmp_path / f"bot.log.{n + 1}")
        os.rename(log, tmp_path / "bot.log.1")
        log.touch()
    append(log, "[INFO] the new file")
    expected = ["after stop", "after the truncation", "the new file"]
    assert await read_after_restart(tail, saved, expected) == expected


async def test_the_file_rotated_away_just_before_an_empty_one_is_no_copy_of_it(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """An empty file's copy is told by time; the file rotated away just before it was
    created was written to just before too, but logship follows it (or has its
    checkpoint): it is never taken for the empty file's copy (the chaos test, seed
    1403233044, sent its lines twice after a restart)."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    os.rename(log, tmp_path / "bot.log.1")  # rename+create: an empty new file
    log.touch()
    await until_seen_empty(first, log)
    later = time.time() + 5  # as if written to after the new file was seen empty
    os.utime(tmp_path / "bot.log.1", (later, later))
    saved = await first.finish()  # within the old file's linger: both are checkpointed
    assert len(saved) == 2
    os.rename(tmp_path / "bot.log.1", tmp_path / "bot.log.2")  # rotated again, stopped
    os.rename(log, tmp_path / "bot.log.1")
    append(log, "[INFO] three")
    assert await read_after_restart(tail, saved, ["three"]) == ["three"]


async def test_the_file_rotated_away_and_compressed_is_no_copy_of_its_empty_successor(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """rename+create with `compress`: the old file is read to its end through its
    descriptor, a late write included, then packed under a new inode that keeps its
    modification time, later than when its successor was seen empty. That `.gz` holds
    what logship read of the file the successor replaced: it is no copy of the
    successor, and the successor's first line does not read it again (bench.torture's
    rename+create sent a whole generation twice, one run in three)."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    running = tail()
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    late = os.open(log, os.O_WRONLY | os.O_APPEND)  # a writer that checked its path just now
    try:
        os.rename(log, tmp_path / "bot.log.1")  # logrotate: rename, create
        log.touch()
        await until_seen_empty(running, log)
        os.write(late, b"[INFO] late, into the old file\n")  # after the new one was seen
    finally:
        os.close(late)
    await running.collector.wait_for(lambda: len(running.collector.events) == 3)
    pack(tmp_path / "bot.log.1")  # logrotate: compress (a new inode, the time kept)
    append(log, "[INFO] three")
    assert (await messages_through(running, "three")) == ["one", "two",
                                                          "late, into the old file", "three"]


async def test_a_file_made_between_logrotates_rename_and_create_is_read(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """A writer that reopens by path (Python's WatchedFileHandler) can find no file
    between logrotate's rename and its `create`, and create it: logrotate then moves
    that file to `NAME-YYYYMMDDHH.backup` and creates its own. When all of it happens
    before logship looks, the writer's file was never followed under the name: its lines
    are read from the backup, once, before the new file's (bench.torture's rename+create
    lost them, one run in fifty)."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    running = tail()
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    after_the_clock_ticks(tmp_path)
    # no await from here on: the tailer sees the end state only
    os.rename(log, tmp_path / "bot.log.1")  # logrotate: rename
    append(log, "[INFO] in the gap")  # the writer: no file, so it creates one
    os.rename(log, tmp_path / "bot.log-2026120313.backup")  # logrotate: it exists,
    log.touch()  # move it aside, create
    pack(tmp_path / "bot.log.1")  # compress
    append(log, "[INFO] new")
    assert (await messages_through(running, "new")) == ["one", "two", "in the gap", "new"]


# -- several rotations while stopped: every generation written since is read once --------
# (logrotate's numbered names, as it makes them: older copies move up one, a plain copy
# is stamped when it is made, `compress` keeps the modification time of what it packs)

def shift_rotated(log: Path) -> None:
    """Move `log.N` and `log.N.gz` up one, the highest first."""
    names = [p for p in log.parent.iterdir() if p.name.startswith(f"{log.name}.")]
    numbered = sorted(((int(p.name[len(log.name) + 1:].split(".")[0]), p) for p in names
                       if p.name[len(log.name) + 1:].split(".")[0].isdigit()), reverse=True)
    for number, path in numbered:
        os.rename(path, path.with_name(path.name.replace(f".{number}", f".{number + 1}", 1)))


def copytruncate(log: Path, *, compress: bool = False) -> None:
    shift_rotated(log)
    copy = log.with_name(f"{log.name}.1")
    copy.write_bytes(log.read_bytes())
    os.truncate(log, 0)
    if compress:
        pack(copy)


def rename_create(log: Path) -> None:
    shift_rotated(log)
    os.rename(log, log.with_name(f"{log.name}.1"))
    log.touch()


def pack(path: Path) -> None:
    """gzip `path` to `path.gz` as gzip does: the modification time kept, the plain file
    removed."""
    st = path.stat()
    packed = path.with_name(f"{path.name}.gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    os.utime(packed, ns=(st.st_atime_ns, st.st_mtime_ns))
    path.unlink()


async def read_after_restart(tail: Callable[..., Running], saved: list[Checkpoint],
                             expected: list[str], *sources: SourceConfig,
                             **options: object) -> list[str]:
    """What a tailer started on `saved` reads: the expected lines, and a while longer
    to catch any line read again."""
    again = tail(*sources, saved=saved, **options)
    with contextlib.suppress(TimeoutError):  # a line missing: the assertion shows which
        await again.collector.wait_for(lambda: len(again.collector.events) >= len(expected))
    await asyncio.sleep(0.3)
    return again.collector.messages


# What a host does while logship is stopped, step by step: a string is a line written
# (and expected, in that order), a callable rotates the log in the folder.
Step = str | Callable[[Path], None]
WHILE_STOPPED: dict[str, list[Step]] = {
    "two copytruncates": ["first copy's", lambda log: copytruncate(log), "second copy's",
                          lambda log: copytruncate(log), "the file's"],
    "copytruncate then rename": ["the copy's", lambda log: copytruncate(log),
                                 "the renamed file's", rename_create, "the new file's"],
    "rename, copytruncate, then compress both": [
        "the renamed file's", rename_create, "the copy's", lambda log: copytruncate(log),
        lambda log: (pack(log.with_name("bot.log.2")), pack(log.with_name("bot.log.1"))),
        "the file's"],
    "two renames": ["the checkpointed file's", rename_create, "the file in between's",
                    rename_create, "the new file's"],
}


def take_steps(log: Path, steps: list[Step]) -> list[str]:
    """Take `steps` on `log` (its folder made if need be), with no await between them (a
    tailer running sees the end state only); the lines written, in order."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for step in steps:
        if isinstance(step, str):
            append(log, f"[INFO] {step}")
        else:
            step(log)
    return [step for step in steps if isinstance(step, str)]


@pytest.mark.parametrize("steps", list(WHILE_STOPPED.values()), ids=list(WHILE_STOPPED))
async def test_rotations_while_stopped_read_every_generation_once_in_order(
    tmp_path: Path, tail: Callable[..., Running], steps: list[Step]
) -> None:
    log, saved = await stopped_after(tmp_path, tail, lines=3)
    after_the_clock_ticks(tmp_path)
    expected = take_steps(log, steps)
    assert await read_after_restart(tail, saved, expected) == expected


async def test_rotations_present_before_the_stop_are_never_read_again(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """Rotations logship read while running, and siblings that are not rotations of the
    file, stay unread whatever happens while it is stopped, even written recently."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one", "[INFO] two")
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    rename_create(log)  # while running: read, then let go
    append(log, "[INFO] three")
    await first.collector.wait_for(lambda: len(first.collector.events) == 3)
    copytruncate(log)  # while running too: the copy is of lines read already
    append(log, "[INFO] four")
    await first.collector.wait_for(lambda: len(first.collector.events) == 4)
    await asyncio.sleep(ROTATED_LINGER + 0.2)  # the rotated files are let go
    saved = await first.finish()
    after_the_clock_ticks(tmp_path)
    append(tmp_path / "bot.log.bak", "[INFO] a backup, not a rotation")
    append(tmp_path / "other.json", "[INFO] another log")
    append(log, "[INFO] five")
    copytruncate(log)
    append(log, "[INFO] six")
    copytruncate(log, compress=True)
    append(log, "[INFO] seven")
    expected = ["five", "six", "seven"]
    assert await read_after_restart(tail, saved, expected) == expected


async def test_a_file_last_seen_empty_copytruncated_twice_while_stopped_reads_both(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """The chaos test, seed 1697184652: a file last seen empty was written to and
    copytruncated twice while logship was stopped; only the newest copy was read."""
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] first copy's")
    copytruncate(log)
    append(log, "[INFO] second copy's")
    copytruncate(log)
    append(log, "[INFO] the file's")
    expected = ["first copy's", "second copy's", "the file's"]
    assert await read_after_restart(tail, saved, expected) == expected


async def test_a_file_last_seen_empty_then_rotated_every_way_while_stopped_reads_it_all(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """The chaos test, seed 178331281: after a kill -9 the checkpoint said the file was
    empty (its lines were in flight); while logship was stopped it went through
    copytruncate, rename+create, and copytruncate twice (the second of an empty file),
    with writes between. The copy of its first content was never read."""
    log, saved = await stopped_while_empty(tmp_path, tail)
    append(log, "[INFO] in flight at the kill", "[INFO] written after the kill")
    copytruncate(log)
    append(log, "[INFO] refilled, then renamed")
    rename_create(log)
    append(log, "[INFO] the new file's, copied")
    copytruncate(log)
    copytruncate(log)  # of an empty file: an empty copy
    append(log, "[INFO] the new file's now")
    expected = ["in flight at the kill", "written after the kill", "refilled, then renamed",
                "the new file's, copied", "the new file's now"]
    assert await read_after_restart(tail, saved, expected) == expected


# -- a file new since the last stop, rotated while logship was stopped -------------------
# (a known source: the new day's file is read from its beginning, and so is every
# generation rotated from it, oldest first; logship's last save tells what is new)

async def saved_state(tmp_path: Path, running: Running) -> SavedState:
    """Stop `running` and save its state as the daemon does; that state, loaded."""
    store = CheckpointStore(tmp_path / "state")
    store.save(await running.finish(), running.known)
    return store.load()


async def stopped_with_a_day(tmp_path: Path, tail: Callable[..., Running],
                             days: SourceConfig) -> SavedState:
    """A day's file read by a tailer that has stopped: its saved state."""
    day = tmp_path / "2025-07-16" / "logs.json"
    put_whole(day, "[INFO] day 16 before the first start")
    first = tail(days)
    await asyncio.wait_for(first.tailer.watching.wait(), WAIT)
    append(day, "[INFO] day 16")
    await first.collector.wait_for(lambda: "day 16" in first.collector.messages)
    return await saved_state(tmp_path, first)


NEW_FILE_WHILE_STOPPED: dict[str, list[Step]] = {
    "copytruncate": ["the copy's", lambda log: copytruncate(log), "the file's"],
    "copytruncate, compressed": ["the copy's", lambda log: copytruncate(log, compress=True),
                                 "the file's"],
    "rename": ["the renamed file's", rename_create, "the new file's"],
    "rename, copytruncate, then compress both": [
        "the renamed file's", rename_create, "the copy's", lambda log: copytruncate(log),
        lambda log: (pack(log.with_name("logs.json.2")), pack(log.with_name("logs.json.1"))),
        "the file's"],
}


@pytest.mark.parametrize("steps", list(NEW_FILE_WHILE_STOPPED.values()),
                         ids=list(NEW_FILE_WHILE_STOPPED))
async def test_a_new_file_rotated_while_stopped_is_read_every_generation_once_in_order(
    tmp_path: Path, tail: Callable[..., Running], steps: list[Step]
) -> None:
    """The chaos test, seed 1910690193: while logship was stopped the bot opened a new
    day's file, wrote to it, logrotate copytruncated and compressed it, the bot wrote
    more. logship read the file from its beginning, never the copy: its lines were lost."""
    days = source(tmp_path, "*/logs.json", start_at="end")
    state = await stopped_with_a_day(tmp_path, tail, days)
    after_the_clock_ticks(tmp_path)
    log = tmp_path / "2025-07-17" / "logs.json"
    expected = take_steps(log, steps)
    assert await read_after_restart(tail, state.files, expected, days, known=state.sources,
                                    saved_at_ns=state.saved_at_ns) == expected


@pytest.mark.parametrize("steps", list(NEW_FILE_WHILE_STOPPED.values()),
                         ids=list(NEW_FILE_WHILE_STOPPED))
async def test_a_new_file_rotated_before_logship_sees_it_is_read_every_generation_once(
    tmp_path: Path, tail: Callable[..., Running], steps: list[Step]
) -> None:
    """The chaos test, seed 353451416: while logship ran, the bot opened a new day's
    file and wrote to it, and logrotate copytruncated and compressed it, all before
    logship's watcher reported the new folder. logship found the file empty, followed
    it from its beginning and never read the copy. A file new to logship, found live,
    is read after every generation rotated from it since logship started."""
    days = source(tmp_path, "*/logs.json")
    running = tail(days)
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    after_the_clock_ticks(tmp_path)
    log = tmp_path / "2025-07-19" / "logs.json"
    expected = take_steps(log, steps)
    with contextlib.suppress(TimeoutError):  # a line missing: the assertion shows which
        await running.collector.wait_for(lambda: len(running.collector.events) >= len(expected))
    await asyncio.sleep(0.3)
    assert running.collector.messages == expected
    saved = await running.finish()
    assert await read_after_restart(tail, saved, [], days, known=running.known) == []


def rename_away(log: Path) -> None:
    """logrotate's `nocreate`: rename, and make nothing under the name."""
    shift_rotated(log)
    os.rename(log, log.with_name(f"{log.name}.1"))


# A new day's file rotated away before logship could look, nothing left under its name.
ROTATED_AWAY: dict[str, list[Step]] = {
    "renamed": ["the renamed file's", rename_away],
    "renamed and compressed": ["the renamed file's", rename_away,
                               lambda log: pack(log.with_name("logs.json.1"))],
    "copytruncated, then renamed": ["the copy's", lambda log: copytruncate(log),
                                    "the renamed file's", rename_away],
    "renamed twice": ["the first file's", rename_away, "the second file's", rename_away],
}


@pytest.mark.parametrize("steps", list(ROTATED_AWAY.values()), ids=list(ROTATED_AWAY))
async def test_a_new_file_rotated_away_while_stopped_is_read_from_its_rotations(
    tmp_path: Path, tail: Callable[..., Running], steps: list[Step]
) -> None:
    """While logship was stopped the bot opened a new day's file and wrote to it, and
    logrotate renamed it away with `nocreate` (the bot's last line of the day, say):
    no file under the name is left to find. Its rotations are read, oldest first."""
    days = source(tmp_path, "*/logs.json", start_at="end")
    state = await stopped_with_a_day(tmp_path, tail, days)
    after_the_clock_ticks(tmp_path)
    expected = take_steps(tmp_path / "2025-07-17" / "logs.json", steps)
    assert await read_after_restart(tail, state.files, expected, days, known=state.sources,
                                    saved_at_ns=state.saved_at_ns) == expected


@pytest.mark.parametrize("steps", list(ROTATED_AWAY.values()), ids=list(ROTATED_AWAY))
async def test_a_new_file_rotated_away_before_logship_sees_it_is_read_from_its_rotations(
    tmp_path: Path, tail: Callable[..., Running], steps: list[Step]
) -> None:
    """The same, live, before the watcher told of the new folder: its rotations are
    read, once; after a restart, not again."""
    days = source(tmp_path, "*/logs.json")
    running = tail(days)
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    after_the_clock_ticks(tmp_path)
    expected = take_steps(tmp_path / "2025-07-19" / "logs.json", steps)
    with contextlib.suppress(TimeoutError):  # a line missing: the assertion shows which
        await running.collector.wait_for(lambda: len(running.collector.events) >= len(expected))
    await asyncio.sleep(0.3)
    assert running.collector.messages == expected
    saved = await saved_state(tmp_path, running)
    assert await read_after_restart(tail, saved.files, [], days, known=saved.sources,
                                    saved_at_ns=saved.saved_at_ns) == []


async def test_a_crash_while_a_file_rotated_away_is_in_flight_reads_only_that_again(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """The rotations of a file rotated away before logship saw it keep their checkpoints
    until all are done: a kill -9 meanwhile reads again what was in flight, only that."""
    days = source(tmp_path, "*/logs.json")
    collector = HoldsBack("the second file's")
    crashed = Running(Tailer([days], [], collector), collector)
    await asyncio.wait_for(crashed.tailer.watching.wait(), WAIT)
    after_the_clock_ticks(tmp_path)
    take_steps(tmp_path / "2025-07-19" / "logs.json", ROTATED_AWAY["renamed twice"])
    await collector.wait_for(lambda: len(collector.events) == 2)
    store = CheckpointStore(tmp_path / "state")  # a save just before a kill -9
    store.save(crashed.tailer.checkpoints(), crashed.tailer.known_sources())
    await crashed.finish()
    state = store.load()
    assert await read_after_restart(tail, state.files, ["the second file's"], days,
                                    known=state.sources, saved_at_ns=state.saved_at_ns
                                    ) == ["the second file's"]


async def test_a_file_read_and_rotated_away_is_not_read_again_at_the_next_scan(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """The chaos test, seed 817110357: a day's file, its head read with its first
    write and written to again later, renamed away (`nocreate`), read to its end and let
    go. A new day's folder made the tailer scan again: the renamed file, modified after
    the time logship noted with its head, was taken for a rotation written since and
    read whole once more. What was read of a file let go is never read again."""
    days = source(tmp_path, "*/logs.json")
    running = tail(days)
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    log = tmp_path / "2025-07-17" / "logs.json"
    log.parent.mkdir()
    append(log, "[INFO] a banner " + "=" * 300, "[INFO] one")  # the head, read at once
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    after_the_clock_ticks(tmp_path)
    append(log, "[INFO] two")
    await running.collector.wait_for(lambda: len(running.collector.events) == 3)
    rename_away(log)
    await asyncio.sleep(ROTATED_LINGER + 0.3)  # read to its end, let go
    running.tailer.checkpoints()  # (forgets what is done, as every save does)
    put_whole(tmp_path / "2025-07-18" / "logs.json", "[INFO] next day")
    assert (await messages_through(running, "next day"))[1:] == ["one", "two", "next day"]


async def test_a_file_made_and_renamed_away_in_a_followed_folder_is_read(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """A new file in a folder already watched, renamed away before logship opened it:
    the watcher told of it, but it was gone by then. Its rotation is read."""
    append(tmp_path / "bot.log", "[INFO] one")
    running = tail()
    await running.collector.wait_for(lambda: running.collector.messages == ["one"])
    after_the_clock_ticks(tmp_path)
    log = tmp_path / "worker.log"
    append(log, "[INFO] the worker's")
    rename_away(log)
    await running.collector.wait_for(lambda: len(running.collector.events) >= 2)
    await asyncio.sleep(0.3)
    assert running.collector.messages == ["one", "the worker's"]


@pytest.mark.parametrize("rotate_away", [rename_create, rename_away],
                         ids=["rename+create", "nocreate, then the bot makes the file"])
async def test_an_empty_file_rotated_away_takes_no_copy_of_its_successor(
    tmp_path: Path, tail: Callable[..., Running], rotate_away: Callable[[Path], None]
) -> None:
    """The chaos test, seed 3112719: logrotate made an empty file (`create`) and renamed
    it away; the file that took its name was read, then copytruncated, while the empty
    one lingered. At its last read the empty file took that copy, written after it was
    seen empty, for its own and sent the successor's lines a second time. Only a file
    under its name can be copytruncated: a file rotated away has no copy made later."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one")
    running = tail()
    await running.collector.wait_for(lambda: running.collector.messages == ["one"])
    rename_create(log)  # an empty file, followed
    await until_seen_empty(running, log)
    rotate_away(log)  # the empty file lingers
    append(log, "[INFO] two", "[INFO] three")
    await running.collector.wait_for(lambda: len(running.collector.events) == 3)
    after_the_clock_ticks(tmp_path)
    shift_rotated(log)  # logrotate's copytruncate: the copy first,
    log.with_name("bot.log.1").write_bytes(log.read_bytes())
    await asyncio.sleep(ROTATED_LINGER + 0.3)  # (the empty file's last read, let go)
    os.truncate(log, 0)  # then the truncation
    append(log, "[INFO] four")
    assert (await messages_through(running, "four")) == ["one", "two", "three", "four"]


async def test_a_file_made_again_live_under_a_name_let_go_reads_no_old_rotation(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """A file followed, renamed away with nothing made under its name (`nocreate`) and
    let go: its rotation was read then. A new file under that name later is read from
    its start, without reading that rotation again, nor a sibling that is no rotation."""
    days = source(tmp_path, "*/logs.json")
    log = tmp_path / "2025-07-17" / "logs.json"
    put_whole(log, "[INFO] one", "[INFO] two")
    running = tail(days)
    await running.collector.wait_for(lambda: len(running.collector.events) == 2)
    os.rename(log, log.with_name("logs.json.1"))
    await asyncio.sleep(ROTATED_LINGER + 0.2)  # read to its end, then let go
    running.tailer.checkpoints()  # (forgets what is done, as every save does)
    after_the_clock_ticks(tmp_path)
    append(log.with_name("logs.json.bak"), "[INFO] a backup, not a rotation")
    append(log, "[INFO] three")
    assert (await messages_through(running, "three")) == ["one", "two", "three"]


async def test_a_new_files_rotations_read_before_the_stop_and_siblings_stay_unread(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """A rotation logship read while running (renamed away, no new file made then), and
    a sibling that is not a rotation written while it was stopped, are not read again
    with the file created under that name while logship was stopped."""
    days = source(tmp_path, "*/logs.json")
    log = tmp_path / "2025-07-17" / "logs.json"
    put_whole(log, "[INFO] one", "[INFO] two")
    first = tail(days)
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    os.rename(log, log.with_name("logs.json.1"))  # logrotate's `nocreate`
    await asyncio.sleep(ROTATED_LINGER + 0.2)  # read to its end, then let go
    state = await saved_state(tmp_path, first)
    assert [c.path for c in state.files] == []
    after_the_clock_ticks(tmp_path)
    append(log.with_name("logs.json.bak"), "[INFO] a backup, not a rotation")
    append(log.with_name("logs.json.1"), "[INFO] a late write")  # (modified since: lost)
    os.utime(log.with_name("logs.json.1"), ns=(0, state.saved_at_ns or 0))
    append(log, "[INFO] three")
    assert await read_after_restart(tail, state.files, ["three"], days, known=state.sources,
                                    saved_at_ns=state.saved_at_ns) == ["three"]


@pytest.mark.parametrize("start_at", ["end", "beginning"])
async def test_a_new_sources_rotated_files_are_history_not_read(
    tmp_path: Path, tail: Callable[..., Running], start_at: str
) -> None:
    """A source logship never saw starts per `start_at`: what was rotated from its
    files before this start is history, never read, however recent."""
    state = await stopped_with_a_day(tmp_path, tail, source(tmp_path, "*/logs.json"))
    after_the_clock_ticks(tmp_path)
    log = tmp_path / "worker" / "worker.log"
    log.parent.mkdir()
    append(log, "[INFO] rotated away")
    copytruncate(log)
    append(log, "[INFO] before the start")
    worker = source(tmp_path, "worker/*.log", name="worker", start_at=start_at)
    running = tail(worker, saved=state.files, known=state.sources,
                   saved_at_ns=state.saved_at_ns)
    await asyncio.wait_for(running.tailer.watching.wait(), WAIT)
    append(log, "[INFO] after the start")
    await running.collector.wait_for(lambda: "after the start" in running.collector.messages)
    await asyncio.sleep(0.3)
    backlog = ["before the start"] if start_at == "beginning" else []
    assert running.collector.messages == [*backlog, "after the start"]


@pytest.mark.parametrize("held", ["first copy's", "second copy's"])
async def test_a_crash_while_rotated_generations_are_in_flight_reads_only_those_again(
    tmp_path: Path, tail: Callable[..., Running], held: str
) -> None:
    """Every generation read at start keeps its checkpoint until all of them are done: a
    kill -9 meanwhile reads again what was in flight, and no generation done already."""
    log, saved = await stopped_after(tmp_path, tail, lines=3)
    after_the_clock_ticks(tmp_path)
    append(log, "[INFO] first copy's")
    copytruncate(log)
    append(log, "[INFO] second copy's")
    copytruncate(log)
    append(log, "[INFO] the file's")
    collector = HoldsBack(held)
    crashed = Running(Tailer([source(tmp_path)], saved, collector), collector)
    await collector.wait_for(lambda: len(collector.events) == 3)
    in_flight = crashed.tailer.checkpoints()  # what a save just before a kill -9 holds
    await crashed.finish()
    assert await read_after_restart(tail, in_flight, [held]) == [held]


async def test_a_rotated_file_written_late_is_not_taken_for_a_later_generation(
    tmp_path: Path, tail: Callable[..., Running]
) -> None:
    """A writer that still had the old file open writes once more into it after the new
    file's first line (several processes logging to one file): logship reads that line
    before it lets the old file go, and after a restart that follows more rotations it
    does not read the old file again for having been modified after the new one."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one")
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 1)
    rename_create(log)
    after_the_clock_ticks(tmp_path)
    append(log, "[INFO] two")
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    after_the_clock_ticks(tmp_path)
    append(tmp_path / "bot.log.1", "[INFO] late")
    await first.collector.wait_for(lambda: len(first.collector.events) == 3)
    await asyncio.sleep(ROTATED_LINGER + 0.2)  # the old file is let go
    saved = await first.finish()
    after_the_clock_ticks(tmp_path)
    append(log, "[INFO] three")
    rename_create(log)
    append(log, "[INFO] four")
    assert await read_after_restart(tail, saved, ["three", "four"]) == ["three", "four"]


class LogWatch(logging.Handler):
    """Wakes a test when logship logs a line containing some text."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._news = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")
        self._news.set()

    async def wait_for(self, text: str) -> None:
        async def until() -> None:
            while not any(text in line for line in self.lines):
                self._news.clear()
                await self._news.wait()

        await asyncio.wait_for(until(), WAIT)


@pytest.fixture
def tail_log() -> Iterator[LogWatch]:
    watch = LogWatch()
    logger = logging.getLogger("logship.tail")
    logger.addHandler(watch)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield watch
    logger.removeHandler(watch)
    logger.setLevel(level)


async def test_a_glob_matching_nothing_is_reported_at_start_and_once_more_later(
    tmp_path: Path, tail_log: LogWatch,
) -> None:
    (tmp_path / "opt").mkdir()
    missing = source(tmp_path, "opt/StatsBot/logs/*/logs.json", name="statsbot")
    present = source(tmp_path, "*.log", name="other")
    append(tmp_path / "bot.log", "INFO:bot:hello")
    tailer = Tailer((missing, present), [], Collector(), unmatched_again=0.3)
    running = Running(tailer, Collector())
    await tail_log.wait_for("still no file matches")
    await running.finish()
    glob = tmp_path / "opt/StatsBot/logs/*/logs.json"
    assert [line for line in tail_log.lines if "matches" in line] == [
        f"WARNING source statsbot: no file matches {glob} (nearest existing folder: "
        f"{tmp_path / 'opt'}); watching for one",
        f"WARNING source statsbot: still no file matches {glob} (nearest existing folder: "
        f"{tmp_path / 'opt'})",
    ]


async def test_a_glob_that_found_its_file_since_is_not_reported_again(
    tmp_path: Path, tail_log: LogWatch,
) -> None:
    collector = Collector()
    tailer = Tailer((source(tmp_path, "logs/*/logs.log"),), [], collector,
                    unmatched_again=60.0)
    running = Running(tailer, collector)
    await tail_log.wait_for("no file matches")
    (tmp_path / "logs" / "2025-07-16").mkdir(parents=True)
    append(tmp_path / "logs" / "2025-07-16" / "logs.log", "INFO:bot:hello")
    await collector.wait_for(lambda: collector.messages == ["hello"])
    assert tailer.report_unmatched(again=True) == []  # what the later look does
    await running.finish()
    assert not [line for line in tail_log.lines if "still no file" in line]


@pytest.mark.parametrize("let_go", [False, True], ids=["lingering", "let go"])
@pytest.mark.parametrize("new_lines", [0, 2])
async def test_a_crash_after_a_live_rename_create_and_a_save_reads_nothing_again(
    tmp_path: Path, tail: Callable[..., Running], let_go: bool, new_lines: int
) -> None:
    """The chaos test, seed 1396171574: a new day's file, followed live and all its lines
    delivered, renamed away by logrotate (rename+create), a save, a kill -9. At restart
    the renamed file is no later generation of the new one: nothing is read again."""
    days = source(tmp_path, "*/logs.json")
    log = tmp_path / "2025-07-17" / "logs.json"
    put_whole(log, "[INFO] banner", "[INFO] one", "[INFO] two")
    first = tail(days)
    await first.collector.wait_for(lambda: len(first.collector.events) == 3)
    rename_create(log)
    for n in range(new_lines):
        append(log, f"[INFO] new {n}")
    await first.collector.wait_for(lambda: len(first.collector.events) == 3 + new_lines)
    if let_go:
        await asyncio.sleep(ROTATED_LINGER + 0.2)
    store = CheckpointStore(tmp_path / "state")
    store.save(first.tailer.checkpoints(), first.tailer.known_sources())  # then kill -9
    await first.finish()
    state = store.load()
    assert await read_after_restart(tail, state.files, [], days, known=state.sources,
                                    saved_at_ns=state.saved_at_ns) == []


@pytest.mark.parametrize("after", [["three"], []], ids=["written to since", "left empty"])
async def test_a_crash_after_a_live_rename_then_copytruncate_reads_nothing_again(
    tmp_path: Path, tail: Callable[..., Running], after: list[str]
) -> None:
    """The chaos test, seeds 414377594 and (the file left empty) 315736642: rename+create,
    then copytruncate of the new file, both live and every line delivered; a save while
    the renamed file still lingers, a kill -9 (or a SIGTERM: its drain saves the same).
    At restart the renamed file is read on from its checkpoint (its end), and the copy
    of the new file's old content, read live before the truncation, is no generation
    written since (the file's own checkpoint, empty or not, says logship looked at it
    after): nothing is read again."""
    log = tmp_path / "bot.log"
    append(log, "[INFO] one")
    first = tail()
    await first.collector.wait_for(lambda: len(first.collector.events) == 1)
    rename_create(log)
    append(log, "[INFO] two")
    await first.collector.wait_for(lambda: len(first.collector.events) == 2)
    after_the_clock_ticks(tmp_path)
    copytruncate(log)
    append(log, *(f"[INFO] {line}" for line in after))
    await _until(lambda: any(f.path == str(log) and f.reader.position == log.stat().st_size
                             and f.reader.identity.head_len == min(log.stat().st_size, 256)
                             for f in first.tailer.files()))
    await first.collector.wait_for(lambda: len(first.collector.events) == 2 + len(after))
    store = CheckpointStore(tmp_path / "state")
    store.save(first.tailer.checkpoints(), first.tailer.known_sources())  # then kill -9
    await first.finish()
    state = store.load()
    assert len(state.files) == 2  # the renamed file's (lingering) and the file's
    assert await read_after_restart(tail, state.files, [], known=state.sources,
                                    saved_at_ns=state.saved_at_ns) == []
