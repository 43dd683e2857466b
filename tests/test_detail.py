"""Issue 18: every detail reaches Discord. A backlog goes out in full embeds while the
budget clears it within `digest_after`, as digests past that; a digest's lines name each
event, and its message attaches every event in full (`events.log`)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from logship.emulator.server import FakeDiscord, Received
from logship.emulator.validate import payload_errors
from logship.event import Event, Level
from logship.redact import Privacy, PrivacyConfig, Redactor
from logship.sinks.base import SinkContext
from logship.sinks.discord.client import WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.ratelimit import RateLimiter, RateLimits
from logship.sinks.discord.render import BODY_RESERVE, FILES_MAX, Renderer
from logship.sinks.discord.render.digest import digest_line
from logship.sinks.discord.sink import DiscordSink
from logship.sinks.worker import Batch, Item, SinkWorker
from logship.spool.store import Spool
from logship.tail.checkpoint import FileProgress
from tests.discord_schema import execute_webhook_errors
from tests.test_parse_formats import (
    SIBLING,
    SIBLING_LOG,
    STATSBOT_JSON,
    STRUCTURED_JSON,
    STRUCTURED_TEXT,
    TREE_LOG,
    parse,
    tree_json,
)

URL = "http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trace(n: int, frames: int = 12) -> str:
    """A traceback as a bot logs it, `frames` deep, naming event `n` in its last line."""
    lines = ["Traceback (most recent call last):"]
    for depth in range(frames):
        lines += [f'  File "/opt/StatsBot/src/services/job_{depth}.py", line {40 + depth}, '
                  f"in step_{depth}", f"    await self.step_{depth + 1}(payload)"]
    return "\n".join([*lines, f"TimeoutError: job #{n} timed out upstream"])


def error(n: int, level: Level = Level.ERROR, frames: int = 12) -> Item:
    return Item(Event(None, level, f"Job failed #{n}", kind="error", exception=trace(n, frames),
                      fields={"service": "worker", "job_id": f"job-{n}",
                              "error_type": "TimeoutError"}))


def discord(clock: Clock, *, webhook: tuple[int, float] = (5, 2.0),
            channel: tuple[int, float] = (30, 60.0), privacy: Privacy | None = None,
            **options: Any) -> DiscordSink:
    """A sink at Discord's own limits (unless told otherwise), on a clock the test moves."""
    config = discord_sink("errors", URL, privacy=privacy, **options)
    limiter = RateLimits(clock).limiter(
        channel="c", webhook_requests=webhook[0], webhook_window=webhook[1],
        channel_messages=channel[0], channel_window=channel[1])
    return DiscordSink(config, SinkContext(redactor=Redactor()), limiter=limiter)


def next_batch(sink: DiscordSink, pending: list[Item], backlog: int | None = None) -> Batch:
    """What the worker does: hold the request's place in the budget, then batch."""
    sink.limiter.take()
    return sink.batch(pending, len(pending) if backlog is None else backlog)


def send_all(sink: DiscordSink, clock: Clock, pending: list[Item]) -> list[Batch]:
    """Every batch the sink makes of `pending`, sent as fast as its budget allows (each
    answered at once), on the test's clock."""
    limiter = sink.limiter
    batches = []
    while pending:
        clock.now += limiter.wait_time()
        batch = next_batch(sink, pending)
        taken = {id(it) for it in batch.items}
        pending = [it for it in pending if id(it) not in taken]
        limiter.completed({})
        batches.append(batch)
    return batches


def rendered(items: list[Item]) -> int:
    return sum(item.rendered is not None for item in items)


# -- the budget: how long N more messages would take now --------------------------------


def test_time_for_counts_every_budget_and_the_webhooks_pace() -> None:
    clock = Clock()
    limiter: RateLimiter = RateLimits(clock).limiter(
        channel="c", webhook_requests=5, webhook_window=2.0, channel_messages=30,
        channel_window=60.0)
    assert [limiter.time_for(n) for n in (0, 1, 5, 6, 30, 31)] == [0, 0, 0, 2.0, 10.0, 60.0]
    for _ in range(3):  # three answered now: their windows run from now
        limiter.take()
        limiter.completed({})
    assert limiter.time_for(2) == 0 and limiter.time_for(3) == 2.0
    assert limiter.time_for(28) == 60.0  # the channel has 27 messages left this minute
    limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "7",
                       "X-RateLimit-Bucket": "b"})
    assert limiter.time_for(1) == pytest.approx(7.05)  # Discord says: none left for 7 s
    clock.now += 8
    limiter.rate_limited(4.0, is_global=False)  # a 429: nothing before it is over
    assert limiter.time_for(1) == pytest.approx(4.05)


def test_time_for_paces_a_slow_webhook_one_request_at_a_time() -> None:
    clock = Clock()
    limiter = RateLimits(clock).limiter(channel="c", webhook_requests=5, webhook_window=2.0,
                                        channel_messages=30, channel_window=60.0)
    limiter.take()
    clock.now += 2.0
    limiter.completed({})  # answered in 2 s
    assert limiter.latency == 2.0
    assert limiter.time_for(10) == pytest.approx(20.0)
    limiter.take()  # one in flight, let go now: the next may go once it is answered
    assert limiter.time_for(1) == pytest.approx(4.0)
    assert limiter.time_for(3) == pytest.approx(8.0)  # room for all three: its pace alone
    assert limiter.time_for(4) == pytest.approx(10.0)  # the fourth waits for the window


# -- the policy: backlog and budget in, full or digest out --------------------------------


def test_a_restart_s_errors_go_out_in_full_embeds_within_digest_after() -> None:
    clock = Clock()
    sink = discord(clock)
    start = clock.now
    batches = send_all(sink, clock, [error(n) for n in range(50)])
    assert not any(batch.digest for batch in batches)
    assert sum(len(batch.items) for batch in batches) == 50
    assert clock.now - start <= 60.0


def test_a_backlog_past_the_budget_goes_as_digests_with_no_embed_rendered() -> None:
    clock = Clock()
    sink = discord(clock)
    pending = [error(n) for n in range(1000)]  # 100 messages at least: over 3 minutes
    batch = next_batch(sink, pending)
    assert batch.digest and len(batch.items) > 10
    assert rendered(pending) == 0  # decided before rendering a full embed


def test_the_budget_left_decides_for_the_same_backlog() -> None:
    pending = [error(n) for n in range(60)]
    clock = Clock()
    assert not next_batch(discord(clock), list(pending)).digest
    spent = discord(clock)  # the channel took 29 messages a moment ago
    for _ in range(29):
        spent.limiter.take()
        spent.limiter.completed({})
    assert next_batch(spent, list(pending)).digest
    told = discord(clock)  # Discord's headers: nothing left for 90 s
    told.limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "90"})
    assert next_batch(told, list(pending)).digest
    assert not next_batch(discord(clock, digest_after=120.0), list(pending)).digest
    # 4 to a message (each traceback attached, its end shown): 15 messages take 4 s
    assert next_batch(discord(clock, digest_after=3.0), list(pending)).digest


def test_the_rendered_size_decides_not_the_count() -> None:
    clock = Clock()
    # 100 short errors pack 10 to a message: 10 messages, 4 s. 100 whose text fills a
    # message each take 100 messages: minutes.
    short = [Item(Event(None, Level.ERROR, f"short #{n}")) for n in range(100)]
    assert not next_batch(discord(clock), short).digest
    long = [Item(Event(None, Level.ERROR, f"long #{n}\n" + "a line of context\n" * 300))
            for n in range(100)]
    assert next_batch(discord(clock), long).digest
    assert rendered(long) == 2  # the first fills a message; the second shows it


def test_the_decision_renders_only_what_it_needs() -> None:
    clock = Clock()
    few = [error(n) for n in range(4)]  # one message each would still be fast enough
    batch = next_batch(discord(clock), few)
    assert not batch.digest and rendered(few) == len(batch.items)
    pending = [Item(Event(None, Level.ERROR, f"short #{n}")) for n in range(100)]
    batch = next_batch(discord(clock), pending)
    assert len(batch.items) == 10 and rendered(pending) == 10  # one message's worth


def test_a_slow_webhook_is_judged_at_its_own_pace() -> None:
    clock = Clock()
    sink = discord(clock)
    sink.limiter.latency = 3.0  # each answer takes 3 s: 30 messages take 90 s
    pending = [error(n) for n in range(120)]
    assert next_batch(sink, pending).digest
    sink = discord(clock)
    assert not next_batch(sink, pending).digest


def test_criticals_go_in_full_ahead_of_a_digested_backlog() -> None:
    clock = Clock()
    sink = discord(clock)
    criticals = [error(n, Level.CRITICAL) for n in range(6)]
    errors = [error(n) for n in range(100, 1100)]
    batches = []
    pending = [*criticals, *errors]
    while any(it.event.level == Level.CRITICAL for it in pending):
        clock.now += sink.limiter.wait_time()
        batch = next_batch(sink, pending)
        pending = [it for it in pending if it not in batch.items]
        sink.limiter.completed({})
        batches.append(batch)
    assert not any(batch.digest for batch in batches)
    assert [it for batch in batches for it in batch.items] == criticals  # alone, in full
    assert next_batch(sink, pending).digest  # then the errors, as digests


def test_criticals_past_the_budget_are_digested_apart_from_errors() -> None:
    clock = Clock()
    sink = discord(clock)
    pending = [*(error(n, Level.CRITICAL) for n in range(400)),
               *(error(n) for n in range(400, 800))]
    batch = next_batch(sink, pending)
    assert batch.digest
    assert {it.event.level for it in batch.items} == {Level.CRITICAL}
    assert all(embed.data["title"].startswith("🚨") for embed in batch.body)


# -- a digest's events.log ------------------------------------------------------------------


def digest_message(sink: DiscordSink, batch: Batch) -> Any:
    assert batch.digest
    return sink.renderer.payload(batch.body, [it.route for it in batch.items])


def entries(text: str) -> list[str]:
    return [e for e in re.split(r"(?m)^(?=── )", text) if e.strip()]


def test_a_digest_attaches_each_of_its_events_in_full_redacted_and_masked() -> None:
    clock = Clock()
    privacy = Privacy(PrivacyConfig(ids="mask"))
    sink = discord(clock, digest_after=0.0, privacy=privacy)
    pending = [Item(Event(None, Level.ERROR, f"Job failed #{n} token=hunter22", kind="error",
                          exception=trace(n), fields={"member_id": "123456789012345678",
                                                      "job_id": f"job-{n}"}))
               for n in range(40)]
    sink.limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "9"})
    batch = next_batch(sink, pending)
    message = digest_message(sink, batch)
    assert [f.filename for f in message.files] == ["events.log"]
    text = message.files[0].data.decode()
    found = entries(text)
    assert len(found) == len(batch.items) == len(
        "\n".join(e["description"] for e in message.body["embeds"]).splitlines())
    for n, entry in enumerate(found):
        assert entry.startswith("── ERROR · ")
        assert f"Job failed #{n}" in entry and trace(n) in entry  # the traceback, whole
        assert "exception: TimeoutError" in entry and f"job_id: job-{n}" in entry
    assert "hunter22" not in text and "123456789012345678" not in text  # as sent elsewhere
    assert "member_id: 1234…5678" in text
    assert execute_webhook_errors(message.body) == []
    assert payload_errors(message.body, files=len(message.files)) == []


def test_what_a_digest_s_files_cannot_carry_goes_with_the_next_never_dropped() -> None:
    clock = Clock()
    sink = discord(clock, digest_after=0.0, max_request_bytes=131072, max_file_bytes=8192)
    room = 131072 - BODY_RESERVE
    pending = [error(n, frames=60) for n in range(60)]  # ~6 KB each: 10 or so a request
    sink.limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "9"})
    batches = send_all(sink, clock, pending)
    assert sum(batch.digest for batch in batches) > 3  # (the last few clear in full)
    seen: list[str] = []
    for batch in batches:
        if not batch.digest:
            continue
        message = digest_message(sink, batch)
        assert 1 <= len(message.files) <= FILES_MAX
        assert sum(len(f.data) for f in message.files) <= room
        found = [re.search(r"Job failed #(\d+)", e)[1]  # type: ignore[index]
                 for f in message.files for e in entries(f.data.decode())]
        assert found == [str(it.event.message.split("#")[1]) for it in batch.items]
        seen += found
        assert payload_errors(message.body, files=len(message.files)) == []
    assert sorted(map(int, seen)) == sorted(
        int(it.event.message.split("#")[1]) for b in batches if b.digest for it in b.items)
    assert sum(len(b.items) for b in batches) == 60


def test_without_files_a_digest_is_its_lines_alone() -> None:
    clock = Clock()
    sink = discord(clock, digest_after=0.0, files=False)
    sink.limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "9"})
    pending = [error(n) for n in range(40)]
    message = digest_message(sink, next_batch(sink, pending))
    assert message.files == ()
    assert "TimeoutError · [worker] Job failed #0 — job #0 timed out upstream" in str(
        message.body)


def test_a_plain_text_digest_attaches_its_events_too() -> None:
    clock = Clock()
    sink = discord(clock, digest_after=0.0, embeds=False)
    sink.limiter.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "9"})
    pending = [error(n) for n in range(40)]
    batch = next_batch(sink, pending)
    message = digest_message(sink, batch)
    assert "embeds" not in message.body and len(message.body["content"]) <= 2000
    assert len(entries(message.files[0].data.decode())) == len(batch.items)
    assert payload_errors(message.body, files=len(message.files)) == []


# -- digest lines name their event: every kind, every format --------------------------------


def lines_of(events: list[Event], renderer: Renderer | None = None) -> list[str]:
    shown = [renderer.shown(e) for e in events] if renderer else events
    return [digest_line(e, show_time=False) for e in shown]


def test_tree_log_text_lines_name_members_items_and_errors() -> None:
    run, join, leave, ban, heartbeat, failed, fatal, end = lines_of(parse("tree", TREE_LOG))
    assert join == "🔵 ➡️ Member Join (member=alice#0, id=123456789012345678, date=2025-07-15)"
    assert "member=bob#0" in leave and "id=234567890123456789" in leave
    assert "member=eve#0" in ban and "id=345678901234567890" in ban
    assert heartbeat.startswith("🔵 💓 Heartbeat Update (status=online, cpu=0.3%, memory=2.1%")
    assert failed == ("🔴 HTTPException · ❌ ERROR: Failed to update heartbeat — 503 Service "
                      "Unavailable (error code: 0): upstream")
    assert fatal.startswith("🚨 LoginFailure · ❌ CRITICAL: Invalid bot token — Improper")
    assert "run_id=3F9A1C2B" in run and "END OF SESSION" in end


def test_tree_log_json_lines_name_the_section_s_items() -> None:
    text = (tree_json("perfect_tree_section", "➡️ Member Join")
            + tree_json("tree_item", "├─ member: alice#0")
            + tree_json("tree_item", "└─ id: 123456789012345678")
            + tree_json("error", "❌ ERROR: Failed to update heartbeat", level="ERROR", second=3)
            + tree_json("error_detail", "└─ HTTPException: 503 Service Unavailable",
                        level="ERROR", second=3.5)
            + tree_json("perfect_tree_section", "💓 Heartbeat Update", second=30)
            + tree_json("tree_item", "└─ status: online", second=30))
    join, failed, heartbeat = lines_of(parse("json", text, STATSBOT_JSON))
    assert join == "🔵 ➡️ Member Join (member=alice#0, id=123456789012345678)"
    assert failed == ("🔴 HTTPException · ❌ ERROR: Failed to update heartbeat — 503 Service "
                      "Unavailable")
    assert heartbeat == "🔵 💓 Heartbeat Update (status=online)"


def test_structured_logger_text_lines_keep_service_operation_and_ids() -> None:
    beat, join, failed, fatal, memory, slow, traced, saved = lines_of(
        parse("auto", STRUCTURED_TEXT))
    assert beat.startswith("🔵 [monitoring] Heartbeat updated successfully (cpu=0.3%")
    assert join == ("🔵 Member joined: alice#0 (id=123456789012345678, "
                    "guild_id=987654321098765432)")
    assert failed == ("🔴 HTTPException · [monitoring] Failed to update heartbeat — 503 Service "
                      "Unavailable (error code: 0): upstream")
    assert fatal == "🚨 Maximum reconnection attempts reached, bot will exit (max_attempts=20)"
    assert memory == "🟠 High memory usage: 84.12MB (threshold: 80.00MB)"
    assert slow == "🟠 [database] Slow operation detected: update_stats took 2450.12ms"
    assert traced == ("🔴 StorageError · [database] Failed to save stats — could not save "
                      "(operation=save, duration_ms=12.5, guilds=3)")
    assert saved == "🔵 Stats saved"


def test_structured_logger_json_lines_keep_context_fields() -> None:
    records = [*STRUCTURED_JSON, {
        "timestamp": "2025-07-15T20:48:00+00:00", "level": "ERROR",
        "message": "Worker exceeded its time budget",
        "context": {"worker": "stats_flush", "duration_ms": 61234.5, "threshold_ms": 30000,
                    "guild_id": 987654321098765432},
        "service": "scheduler"}]
    text = "".join(json.dumps(record) + "\n" for record in records)
    join, leave, slow, saved, failed, budget = lines_of(parse("auto", text, STATSBOT_JSON))
    assert join == ("🔵 [StatsTracker] Member join recorded: alice#0 (id=123456789012345678, "
                    "date=2025-07-15)")
    assert leave == ("🔵 [StatsTracker] Member leave recorded: bob#0 (id=234567890123456789, "
                     "guild=Stats HQ, guild_id=987654321098765432)")
    assert slow == ("🟠 [database] Slow operation detected: update_stats took 2450.12ms "
                    "(threshold=1000.0)")
    assert saved == "🔵 [database] Stats saved (operation=save, duration_ms=12.5, guilds=3, " \
                    "event=flush)"
    assert failed == "🔴 HTTPException · [monitoring] Failed to update heartbeat — 503 ..."
    assert budget == ("🔴 [scheduler] Worker exceeded its time budget (guild_id="
                      "987654321098765432, worker=stats_flush, duration_ms=61234.5, "
                      "threshold_ms=30000)")


def test_sibling_tree_logger_lines_name_their_branches() -> None:
    banner, ready, slow, failed, crashed, boom, join = lines_of(
        parse("text", SIBLING, SIBLING_LOG))
    assert banner == "🔵 RUN ID: a1b2c3d4"  # (its run_id: the message says it)
    assert ready == ("🔵 🤖 Bot Ready (bot_id=1234567890, guilds=2, guilds.main=Quran HQ, "
                     "guilds.test=Sandbox, latency=52ms)")
    assert slow == "🟠 ⚠️ Slow voice reconnect (took=900ms)"
    assert failed == ("🔴 ConnectionClosed · ❌ Voice connection failed — code 4006 "
                      "(channel=987654321098765432)")
    assert crashed == "🚨 🚨 Audio player crashed"
    assert boom == "🔴 ValueError · 💥 Unhandled exception in on_message — surah out of range"
    assert join == "🔵 ➡️ Member Join (member=alice#0, id=123456789012345678)"


def test_python_logging_and_json_logger_lines_name_logger_and_exception() -> None:
    text = ("2025-07-15 20:42:07,123 ERROR statsbot.db: query failed\n"
            "Traceback (most recent call last):\n"
            '  File "/opt/StatsBot/src/db.py", line 41, in save\n'
            "sqlite3.OperationalError: database is locked\n")
    (failed,) = lines_of(parse("auto", text))
    assert failed == "🔴 OperationalError · [statsbot.db] query failed — database is locked"
    records = [
        {"asctime": "2025-07-15 20:42:07,123", "levelname": "WARNING", "name": "bot.voice",
         "msg": "Reconnecting to voice", "guild_id": 987654321098765432},
        {"event": "Member joined: carol#0", "level": "info", "logger": "bot.members",
         "timestamp": "2025-07-15T20:42:08.5Z", "member_id": 456789012345678901},
        {"event": "command failed", "level": "error", "logger": "bot.commands",
         "timestamp": "2025-07-15T20:42:09Z", "command": "/stats",
         "exception": [{"exc_type": "KeyError", "exc_value": "'guild'", "frames": []}]},
    ]
    voice, joined, command = lines_of(parse("auto", "".join(json.dumps(r) + "\n"
                                                            for r in records)))
    assert voice == "🟠 [bot.voice] Reconnecting to voice (guild_id=987654321098765432)"
    assert joined == "🔵 [bot.members] Member joined: carol#0 (id=456789012345678901)"
    assert command == "🔴 KeyError · [bot.commands] command failed — 'guild' (command=/stats)"


def test_a_member_line_shows_what_the_sink_s_privacy_leaves() -> None:
    renderer = Renderer(discord_sink("members", URL, privacy=Privacy(PrivacyConfig(
        ids="mask", usernames="drop"))))
    join = parse("tree", TREE_LOG)[1]
    (line,) = lines_of([join], renderer)
    assert "alice" not in line and "123456789012345678" not in line
    assert line == "🔵 ➡️ Member Join (id=1234…5678, date=2025-07-15)"


def test_lines_show_the_time_when_it_changes_and_one_level_per_embed() -> None:
    events = parse("tree", TREE_LOG)
    (critical, error_), _ = Renderer(discord_sink("errors", URL, files=False)).digest(
        sorted([events[6], events[5]], key=lambda e: -e.level))
    assert critical.data["title"] == "🚨 1 events (CRITICAL ×1)"
    assert critical.data["description"].startswith("`17:00:00` 🚨 LoginFailure")
    assert error_.data["description"].startswith("`16:42:00` 🔴 HTTPException")


# -- end to end: the worker against the emulator at Discord's limits ------------------------


def full_detail(messages: list[Received], count: int) -> set[int]:
    """Ids whose traceback, whole, and fields reached Discord: in an embed or a file."""
    found: set[int] = set()
    for received in messages:
        texts = [json.dumps(received.payload, ensure_ascii=False), received.attachment_text()]
        blob = "\n".join(texts).replace("\\n", "\n").replace('\\"', '"')
        found |= {n for n in range(count) if trace(n) in blob and f"job-{n}" in blob}
    return found


async def run_worker(worker: SinkWorker, items: list[Item]) -> None:
    for item in items:
        await worker.put(item)
    task = asyncio.create_task(worker.run())
    try:
        assert await worker.drain(timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def emulated_worker(fake: FakeDiscord, session: aiohttp.ClientSession, tmp_path: Path,
                    **options: Any) -> SinkWorker:
    config = discord_sink("errors", fake.webhook_url("123456789012345678", "tok"),
                          queue_size=2000, **options)
    limiter = RateLimits().limiter(channel="c", webhook_requests=fake.limits.webhook_limit,
                                   webhook_window=fake.limits.webhook_window,
                                   channel_messages=fake.limits.channel_limit,
                                   channel_window=fake.limits.channel_window)
    sink = DiscordSink(config, SinkContext(redactor=Redactor()),
                       client=WebhookClient(session), limiter=limiter)
    return SinkWorker(sink, Spool(tmp_path / "spool"), backoff=lambda *_: 0.0)


@pytest.mark.e2e
async def test_a_restart_burst_reaches_discord_in_full_embeds(
        fake: FakeDiscord, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    worker = emulated_worker(fake, session, tmp_path)
    progress = FileProgress(0)
    items = [error(n) for n in range(20)]
    for n, item in enumerate(items):
        item.event.offset = 10 * (n + 1)
        item.event.ack = progress.track(item.event.offset, 1)
    await run_worker(worker, items)
    assert worker.stats.digests == 0 and fake.stats.rate_limited == 0
    assert full_detail(fake.messages, 20) == set(range(20))
    assert progress.committed == 200


@pytest.mark.e2e
async def test_a_backlog_past_the_budget_reaches_discord_as_digests_with_every_event(
        session: aiohttp.ClientSession, tmp_path: Path) -> None:
    async with FakeDiscord(host="127.0.0.1", port=0, webhook_limit=2, webhook_window=1.0,
                           channel_limit=30, channel_window=60.0) as fake:
        worker = emulated_worker(fake, session, tmp_path, digest_after=1.0)
        await run_worker(worker, [error(n) for n in range(300)])
        assert worker.stats.digests >= 1 and fake.stats.rate_limited == 0
        assert fake.stats.by_status == {200: fake.stats.requests}  # none refused
        assert full_detail(fake.messages, 300) == set(range(300))
        attached = [e for m in fake.messages for e in entries(m.attachment_text())]
        assert len(attached) == sum(len(b) for b in [
            re.findall(r"Job failed #\d+", m.attachment_text()) for m in fake.messages])
        ids = [int(n) for e in attached for n in re.findall(r"Job failed #(\d+)", e)]
        assert len(ids) == len(set(ids))  # each event attached once
