"""Storm mode: what each summary says, that it forgets what it said, and, end to end,
that every event a storm counts reaches Discord in full with its summary, or the spool."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from logship.emulator.server import FakeDiscord, Received
from logship.event import Event, Level
from logship.noise.control import summary_items
from logship.noise.storm import Storm
from logship.redact import Redactor
from logship.sinks.discord.client import WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.ratelimit import RateLimits
from logship.sinks.discord.render.eventlog import event_log_files
from logship.sinks.discord.url import WebhookURL
from logship.sinks.worker import Item, SinkWorker
from logship.spool.store import Spool, read_segment, segments
from logship.tail.checkpoint import FileProgress
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, write_config
from tests.workers import discord_worker

ERRORS = WEBHOOK_IDS["errors"]
SUMMARY_LINE = re.compile(r"(?m)^\W*×\d+ .*$")


def storming() -> tuple[Storm, list[float]]:
    now = [0.0]
    storm = Storm("errors", clock=lambda: now[0], after=10, every=5)
    storm.observe(queue_full=True, delivered=0)
    now[0] = 11
    assert storm.observe(queue_full=True, delivered=2) is not None  # capacity: 1 per 5 s
    return storm, now


def test_each_summary_speaks_only_of_its_own_interval() -> None:
    storm, now = storming()
    for _ in range(3):
        storm.count(Event(None, Level.CRITICAL, "database down"))
    now[0] = 16
    first = storm.summary()
    assert first.level == Level.CRITICAL and "×3 database down" in first.message
    for _ in range(3):  # the same error again, now only a warning, and a new one
        storm.count(Event(None, Level.WARNING, "database down"))
    storm.count(Event(None, Level.WARNING, "cache cold"))
    now[0] = 21
    second = storm.summary()
    assert second.level == Level.WARNING  # not the CRITICAL of an interval ago
    assert second.message.splitlines()[1:] == ["×3 database down", "×1 cache cold"]


def test_a_long_storm_of_ever_new_errors_keeps_no_more_than_an_interval() -> None:
    storm, now = storming()
    for interval in range(1, 51):
        for n in range(100):
            storm.count(Event(None, Level.ERROR, f"unique failure {interval}-{n} in {'x' * n}"))
        now[0] = 11 + 5 * interval
        storm.summary()
        assert len(storm._first) == len(storm._levels) == 0


# -- end to end: a storm's summaries carry every event they count --------------------------


def trace(n: int) -> str:
    return ('Traceback (most recent call last):\n  File "/opt/bot/handlers.py", line '
            f'{n + 1}, in handle\n    raise ValueError(user)\nValueError: bad input for user {n}')


def write_storm(bot: Bot, count: int) -> None:
    for n in range(count):
        bot.log("ERROR", f"Handler {'abcdefghij'[n % 10]} failed #{n}", traceback=trace(n))


def events_logs(received: Received) -> list[str]:
    return [data.decode() for name, data in received.attachments
            if name.startswith("events") and name.endswith(".log")]


def attached_entries(messages: list[Received]) -> dict[int, list[str]]:
    """Each id found in a summary's events.log files, with its entries there."""
    found: dict[int, list[str]] = {}
    for received in messages:
        for text in events_logs(received):
            for entry in re.split(r"(?m)^(?=── )", text):
                if match := re.search(r"failed #(\d+)", entry):
                    found.setdefault(int(match.group(1)), []).append(entry)
    return found


def embedded_ids(messages: list[Received]) -> set[int]:
    """Ids shown in embeds (full embeds and digest lines); not a summary's "×N …" lines,
    which name only the first event of each fingerprint."""
    return {int(n) for received in messages
            for embed in received.payload.get("embeds", [])
            for text in (embed.get("title", ""), embed.get("description", ""))
            for n in re.findall(r"#(\d+)", SUMMARY_LINE.sub("", text))}


async def test_every_event_a_storm_counts_is_attached_in_full(tmp_path: Path, inbox: Inbox
                                                              ) -> None:
    count = 600  # a storm, and a minute's worth of the channel's 30 messages at most
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox, latency=0.3) as slow:
        config = write_config(tmp_path, slow, sink_options={
            "queue_size": 50, "storm_after": 1.0, "storm_every": 2.0})
        daemon = await Logship("run", "--config", str(config)).start()
        try:
            await daemon.wait_until_logged("running:")
            write_storm(Bot(tmp_path), count)
            await daemon.wait_until_logged("storm mode")

            def delivered() -> set[int]:
                messages = slow.messages_for(ERRORS)
                return embedded_ids(messages) | set(attached_entries(messages))

            await inbox.wait_for(lambda: delivered() == set(range(count)), timeout=120)
            attached = attached_entries(slow.messages_for(ERRORS))
            assert attached, "the storm counted nothing"
            for n, entries in attached.items():
                assert len(entries) == 1, entries  # each counted event once
                (entry,) = entries
                assert f"line {n + 1}, in handle" in entry and f"user {n}" in entry, entry
                assert "exception: ValueError" in entry and entry.startswith("── ERROR · ")
            assert slow.stats.rate_limited == 0
            assert (await daemon.stop())[0] == 0
        finally:
            daemon.kill()


def line_ends(path: Path) -> dict[int, int]:
    """Each id's line: the offset just past it (what a checkpoint passes)."""
    ends, offset = {}, 0
    for line in path.read_bytes().splitlines(keepends=True):
        offset += len(line)
        if match := re.search(rb"failed #(\d+)", line):
            ends[int(match.group(1))] = offset
    return ends


def checkpoint_of(state_dir: Path, path: Path) -> int:
    data = orjson.loads((state_dir / "checkpoints.json").read_bytes())
    return max((int(f["offset"]) for f in data["files"] if f["path"] == str(path)), default=0)


def spooled_ids(spool_dir: Path) -> set[int]:
    return {int(match.group(1)) for path in segments(spool_dir)
            for record in read_segment(path)
            if (match := re.search(r"failed #(\d+)", record.event.message))}


async def test_a_stop_during_a_storm_loses_nothing(tmp_path: Path, inbox: Inbox) -> None:
    """SIGTERM while a storm has counted events whose summary is not due for a minute:
    the summary goes out at the stop with the events it counts (or they are spooled).
    Every event is then delivered, in the spool, or after the checkpoint."""
    count = 600  # a storm, and a minute's worth of the channel's 30 messages at most
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox, latency=0.3) as slow:
        config = write_config(tmp_path, slow, sink_options={
            "queue_size": 50, "storm_after": 1.0, "storm_every": 60.0})
        daemon = await Logship("run", "--config", str(config)).start()
        try:
            await daemon.wait_until_logged("running:")
            bot = Bot(tmp_path)
            write_storm(bot, count)
            await daemon.wait_until_logged("storm mode")
            status, _, stderr = await daemon.stop()
            assert status == 0, stderr
        finally:
            daemon.kill()
        messages = slow.messages_for(ERRORS)
        attached = set(attached_entries(messages))
        delivered = embedded_ids(messages) | attached
    state = tmp_path / "state"
    spooled = spooled_ids(state / "spool")
    checkpoint = checkpoint_of(state, bot.path)
    unread = {n for n, end in line_ends(bot.path).items() if end > checkpoint}
    assert attached or spooled  # the pending summary went out at the stop, or its events
    # went to the spool: what it counted is not left for re-reading
    lost = set(range(count)) - delivered - spooled - unread
    assert not lost, (sorted(lost)[:20], len(lost), stderr)


# -- a storm keeps what it counts, bounded; a summary carries it ------------------------


async def test_counting_waits_at_the_storms_caps_until_the_summary_takes_them() -> None:
    storm, now = storming()
    storm.max_events, storm.max_bytes = 3, 1000
    for n in range(3):
        storm.count(Event(None, Level.ERROR, f"boom {n}"), size=10, keep=n)
    assert storm.full
    waiting = asyncio.create_task(storm.wait_for_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    now[0] = 16
    storm.summary()
    assert storm.take_counted() == [0, 1, 2] and storm.holding == 0
    await asyncio.wait_for(waiting, 1.0)
    storm.count(Event(None, Level.ERROR, "huge"), size=5000)  # alone, over the byte cap
    assert storm.full and storm.holding == 1


def test_at_a_stop_the_storm_ends_with_the_summary_of_what_it_holds() -> None:
    storm, _ = storming()
    assert storm.end() is None  # nothing counted: nothing to say
    storm, _ = storming()
    storm.count(Event(None, Level.ERROR, "boom"), keep="boom")
    last = storm.end()
    assert last is not None and "×1 boom" in last.message
    assert not storm.active and storm.take_counted() == ["boom"]


def test_event_logs_keep_every_entry_whole_within_discords_limits() -> None:
    entries = [f"── ERROR ──\nevent {n} ".encode() + b"x" * (n % 7 * 100) + b"\n\n"
               for n in range(400)]
    file_max, room = 2000, 9000
    messages = event_log_files(entries, file_max, room)
    assert sum(taken for _, taken in messages) == len(entries)
    joined = b"".join(f.data for files, _ in messages for f in files)
    assert joined == b"".join(entries)  # all of them, in order, none cut
    for files, taken in messages:
        assert 1 <= len(files) <= 10 and taken >= 1
        assert all(len(f.data) <= file_max for f in files)
        assert sum(len(f.data) for f in files) <= room
        assert [f.filename for f in files] == ["events.log"] + [
            f"events-{n}.log" for n in range(2, len(files) + 1)]
    ((files, taken),) = event_log_files([b"a" * 5000 + b"TAIL"], 1000, 9000)
    (cut,) = files
    assert taken == 1 and len(cut.data) <= 1000 and cut.data.endswith(b"TAIL")
    assert b"[cut:" in cut.data


def summary_of(worker: SinkWorker, progress: FileProgress, count: int) -> Item:
    """What the daemon makes at a summary: the notice carrying `count` counted events."""
    counted = []
    for n in range(count):
        event = Event(None, Level.ERROR, f"Handler failed #{n} token=hunter22",
                      exception=trace(n), offset=10 * (n + 1))
        event.ack = progress.track(event.offset, 1)
        counted.append(Item(event))
    ((files, taken),) = worker.sink.attach_events([it.event for it in counted])
    assert taken == count
    notice = Event(None, Level.ERROR, f"⛈️ storm on errors: {count} events in 2 s\n×{count} x",
                   kind="status", source="logship")
    return Item(notice, counted=counted, files=files)


def storm_worker(session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path,
                 **options: Any) -> SinkWorker:
    url = WebhookURL.parse(fake.webhook_url(ERRORS, "token"))
    config = discord_sink(name="errors", url=url, retry_base=0.0, retry_cap=0.0, **options)
    limiter = RateLimits().limiter(channel="c", webhook_requests=50, webhook_window=1.0,
                                   channel_messages=500, channel_window=1.0)
    return discord_worker(config, Spool(tmp_path / "spool"), client=WebhookClient(session),
                          limiter=limiter, redactor=Redactor())


async def run_until_idle(worker: SinkWorker, items: list[Item]) -> None:
    for item in items:
        await worker.put(item)
    task = asyncio.create_task(worker.run())
    assert await worker.drain(timeout=10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_summary_goes_alone_and_its_200_delivers_the_events_it_attaches(
        session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path) -> None:
    worker = storm_worker(session, fake, tmp_path)
    progress = FileProgress(0)
    summary = summary_of(worker, progress, 30)
    backlog = [Item(Event(None, Level.ERROR, f"queued {n}")) for n in range(100)]
    await run_until_idle(worker, [*backlog, summary])
    assert progress.committed == 300 and worker.stats.delivered == 131
    (message,) = [m for m in fake.messages if m.attachments]
    assert len(message.payload["embeds"]) == 1  # alone: no digest swallows its files
    text = message.attachment_text()
    for n in range(30):
        assert f"Handler failed #{n}" in text and f"line {n + 1}, in handle" in text
    assert "hunter22" not in text  # redacted like everything sent


async def test_the_storm_s_notice_goes_first_ahead_of_the_errors_it_speaks_of(
        session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path) -> None:
    """"storm on" is a warning: sorted by level, it would wait behind the very errors
    whose flood it announces, and arrive after "storm over"."""
    worker = storm_worker(session, fake, tmp_path)
    notice = Event(None, Level.WARNING, "⛈️ storm on errors: more events than the channel "
                   "can take", kind="status", source="logship", fields={"storm": "errors"})
    backlog = [Item(Event(None, Level.ERROR, f"queued {n}")) for n in range(40)]
    await run_until_idle(worker, [*backlog, Item(notice)])
    first = fake.messages[0].payload["embeds"]
    assert len(first) == 1 and "storm on errors" in first[0]["title"]


async def test_a_summary_that_cannot_be_delivered_spools_each_event_it_counts(
        session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path) -> None:
    worker = storm_worker(session, fake, tmp_path, max_attempts=1)
    fake.script(503)
    progress = FileProgress(0)
    await run_until_idle(worker, [summary_of(worker, progress, 5)])
    assert progress.committed == 50
    records = [r for path in segments(tmp_path / "spool", "errors") for r in read_segment(path)]
    assert [r.event.message.split(" token")[0] for r in records][1:] == [
        f"Handler failed #{n}" for n in range(5)]
    assert all(r.event.exception == trace(n) for n, r in enumerate(records[1:]))
    assert records[0].event.message.startswith("⛈️ storm on errors")


async def test_a_summary_too_big_for_one_request_goes_in_several_losing_none(
        session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path) -> None:
    worker = storm_worker(session, fake, tmp_path, max_request_bytes=131072,
                          max_file_bytes=8192)
    progress = FileProgress(0)
    counted = []
    for n in range(120):  # about 1.2 KB each in full: more than one request's 64 KB
        event = Event(None, Level.ERROR, f"Handler failed #{n}", exception=trace(n) + "\n" +
                      "  frame\n" * 120, offset=n + 1)
        event.ack = progress.track(event.offset, 1)
        counted.append(Item(event))
    notice = Event(None, Level.ERROR, "⛈️ storm on errors: 120 events in 2 s", kind="status")
    items = summary_items(worker, notice, counted)
    assert len(items) > 1 and [c for it in items for c in it.counted] == counted
    await run_until_idle(worker, items)
    assert progress.committed == 120
    messages = [m for m in fake.messages if m.attachments]
    assert len(messages) == len(items)
    for message in messages:
        assert len(message.attachments) <= 10
        assert all(len(data) <= 8192 for _, data in message.attachments)
    text = "".join(m.attachment_text() for m in messages)
    assert [int(n) for n in re.findall(r"Handler failed #(\d+)", text)] == list(range(120))


async def test_a_refused_summary_sends_the_events_it_carries_on_their_own(
        session: aiohttp.ClientSession, fake: FakeDiscord, tmp_path: Path) -> None:
    """A 400 for the summary (its files, say): never the same bytes again, and its events
    are not Discord's fault: they go as ordinary messages, not to the spool as dead."""
    worker = storm_worker(session, fake, tmp_path)
    fake.script(400, 400)  # the summary refused as sent, and again as plainly as can be
    progress = FileProgress(0)
    await run_until_idle(worker, [summary_of(worker, progress, 5)])
    assert progress.committed == 50
    assert not segments(tmp_path / "spool")
    shown = " ".join(str(m.payload) for m in fake.messages)
    assert all(f"Handler failed #{n}" in shown for n in range(5))
    assert "storm on errors" in shown
