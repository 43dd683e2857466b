# ruff: noqa: E501 (sample lines are kept whole, as the bots write them)
"""Issue 4, bullet by bullet: every format and quirk of ../shared/formats.md, end to end.

Each test feeds lines as the tailer does (bytes, offsets past each newline) through
`make_parser`, with sample lines as StatsBot and its sibling bots write them, and checks
the events an alert needs: one event per record, its real level, kind, fields and time.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from logship.config import load_config
from logship.event import Event, Level
from logship.parse import AutoParser, make_parser
from logship.pipeline.route import Router

EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))
STATSBOT_LOG = "/opt/StatsBot/logs/2025-07-15/logs.log"
STATSBOT_JSON = "/opt/StatsBot/logs/2025-07-15/logs.json"
SIBLING_LOG = "/opt/QuranBot/logs/2025-07-15/QuranBot-2025-07-15.log"


def spaced(text: str) -> str:
    """A sample with its trailing spaces written as "␠" (tree_log's blank records end in
    one: `[07/15 03:42 PM EST] [INFO] `), so that no editor strips them."""
    return text.replace("␠", " ")


def split(text: str) -> tuple[list[bytes], list[int]]:
    """Newline-terminated `text` as the reader hands it out: lines and the end of each."""
    lines = text.encode().split(b"\n")
    assert lines.pop() == b"", "sample must end with a newline"
    ends, pos = [], 0
    for line in lines:
        pos += len(line) + 1
        ends.append(pos)
    return lines, ends


def parse(fmt: str, text: str, path: str = STATSBOT_LOG) -> list[Event]:
    parser = make_parser(fmt, source="statsbot", path=path)
    return parser.feed(*split(text)) + parser.flush()


def parse_at(now: datetime, text: str, path: str) -> list[Event]:
    """`format = "auto"` with the current time fixed (partial stamps depend on it)."""
    parser = AutoParser(source="statsbot", path=path, now=lambda: now)
    return parser.feed(*split(text)) + parser.flush()


def summary(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.level.name, e.message) for e in events]


# -- §1 tree_log text ---------------------------------------------------------------------

TREE_LOG = spaced("""\
[07/15 03:42 PM EST] [INFO]␠
[07/15 03:42 PM EST] [INFO] ================================================================================
[07/15 03:42 PM EST] [INFO] 🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST
[07/15 03:42 PM EST] [INFO] 🎯 StatsBot v1.0.0 - Run ID: 3F9A1C2B
[07/15 03:42 PM EST] [INFO] ================================================================================
[07/15 03:42 PM EST] [INFO]␠
[07/15 03:44 PM EST] [INFO] ➡️ Member Join
[07/15 03:44 PM EST] [INFO] ├─ member: alice#0
[07/15 03:44 PM EST] [INFO] ├─ id: 123456789012345678
[07/15 03:44 PM EST] [INFO] └─ date: 2025-07-15
[07/15 03:44 PM EST] [INFO]␠
[07/15 03:45 PM EST] [INFO] ⬅️ Member Leave
[07/15 03:45 PM EST] [INFO] ├─ member: bob#0
[07/15 03:45 PM EST] [INFO] ├─ id: 234567890123456789
[07/15 03:45 PM EST] [INFO] └─ date: 2025-07-15
[07/15 03:46 PM EST] [INFO] 🔨 Member Ban
[07/15 03:46 PM EST] [INFO] ├─ member: eve#0
[07/15 03:46 PM EST] [INFO] ├─ id: 345678901234567890
[07/15 03:46 PM EST] [INFO] └─ date: 2025-07-15
[07/15 03:47 PM EST] [INFO] 💓 Heartbeat Update
[07/15 03:47 PM EST] [INFO] ├─ status: online
[07/15 03:47 PM EST] [INFO] ├─ cpu: 0.3%
[07/15 03:47 PM EST] [INFO] ├─ memory: 2.1%
[07/15 03:47 PM EST] [INFO] ├─ threads: 12
[07/15 03:47 PM EST] [INFO] └─ next_update: in 60 minutes
[07/15 04:42 PM EST] [ERROR] ❌ ERROR: Failed to update heartbeat
[07/15 04:42 PM EST] [ERROR] └─ HTTPException: 503 Service Unavailable (error code: 0): upstream
[07/15 04:42 PM EST] [ERROR]    File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in update_heartbeat
    embed = await self.create_heartbeat_embed()
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
[07/15 05:00 PM EST] [CRITICAL] ❌ CRITICAL: Invalid bot token
[07/15 05:00 PM EST] [ERROR] └─ LoginFailure: Improper token has been passed.
[07/15 05:00 PM EST] [ERROR]    File "/opt/DiscordBots/StatsBot/src/bot.py", line 40, in start
    await self.start(token)
[07/15 05:01 PM EST] [INFO]␠
[07/15 05:01 PM EST] [INFO] 🔚 END OF SESSION - 07/15 05:01 PM EST
""")


@pytest.mark.parametrize("fmt", ["tree", "text", "auto"])
def test_tree_log_text_is_one_event_per_section(fmt: str) -> None:
    events = parse(fmt, TREE_LOG)
    assert summary(events) == [
        ("status", "INFO", "🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST\n"
                           "🎯 StatsBot v1.0.0 - Run ID: 3F9A1C2B"),
        ("member", "INFO", "➡️ Member Join"),
        ("member", "INFO", "⬅️ Member Leave"),
        ("member", "INFO", "🔨 Member Ban"),
        ("status", "INFO", "💓 Heartbeat Update"),
        ("error", "ERROR", "❌ ERROR: Failed to update heartbeat"),
        ("error", "CRITICAL", "❌ CRITICAL: Invalid bot token"),  # its ERROR details: no
        ("status", "INFO", "🔚 END OF SESSION - 07/15 05:01 PM EST"),
    ]
    run, join, leave, ban, heartbeat, error, critical, end = events
    assert (run.fields["event_type"], run.fields["run_id"]) == ("run_start", "3F9A1C2B")
    assert join.fields == {"event_type": "join", "member_id": "123456789012345678",
                           "member_name": "alice#0", "date": "2025-07-15",
                           "raw_time": "07/15 03:44 PM EST"}
    assert (leave.fields["event_type"], leave.fields["member_id"]) == (
        "leave", "234567890123456789")
    assert (ban.fields["event_type"], ban.fields["member_name"]) == ("ban", "eve#0")
    assert heartbeat.fields["event_type"] == "heartbeat"
    assert {k: heartbeat.fields[k] for k in ("status", "cpu", "memory", "threads",
                                             "next_update")} == {
        "status": "online", "cpu": "0.3%", "memory": "2.1%", "threads": "12",
        "next_update": "in 60 minutes"}
    assert error.exception == (
        '   File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in '
        "update_heartbeat\n"
        "    embed = await self.create_heartbeat_embed()\n"
        "            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "HTTPException: 503 Service Unavailable (error code: 0): upstream")
    assert error.fields["error_type"] == "HTTPException"
    assert critical.exception is not None
    assert critical.exception.endswith("LoginFailure: Improper token has been passed.")
    assert "    await self.start(token)" in critical.exception.splitlines()
    assert end.fields["event_type"] == "run_end"
    _, ends = split(TREE_LOG)
    assert [e.offset for e in events] == [ends[4], ends[9], ends[14], ends[18], ends[24],
                                          ends[29], ends[33], ends[35]]


def test_tree_log_chained_traceback_logged_line_by_line_stays_one_event() -> None:
    text = spaced("""\
[07/15 04:44 PM EST] [ERROR] ❌ ERROR: Failed to save stats
[07/15 04:44 PM EST] [ERROR] Traceback (most recent call last):
[07/15 04:44 PM EST] [ERROR]   File "/opt/StatsBot/src/db.py", line 41, in save
    self.conn.execute(sql, row)
[07/15 04:44 PM EST] [ERROR] sqlite3.OperationalError: database is locked
[07/15 04:44 PM EST] [ERROR]␠
[07/15 04:44 PM EST] [ERROR] During handling of the above exception, another exception occurred:
[07/15 04:44 PM EST] [ERROR]␠
[07/15 04:44 PM EST] [ERROR] Traceback (most recent call last):
[07/15 04:44 PM EST] [ERROR]   File "/opt/StatsBot/src/stats.py", line 90, in flush
    raise KeyError("batch")
[07/15 04:44 PM EST] [ERROR] KeyError: 'batch'
[07/15 04:44 PM EST] [INFO]␠
[07/15 04:45 PM EST] [INFO] ✅ Recovered
""")
    error, recovered = parse("tree", text)
    assert error.kind == "error"
    assert error.exception == (
        "Traceback (most recent call last):\n"
        '  File "/opt/StatsBot/src/db.py", line 41, in save\n'
        "    self.conn.execute(sql, row)\n"
        "sqlite3.OperationalError: database is locked\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/StatsBot/src/stats.py", line 90, in flush\n'
        '    raise KeyError("batch")\n'
        "KeyError: 'batch'")
    assert error.fields["error_type"] == "KeyError"
    _, ends = split(text)
    assert error.offset == ends[11]
    assert recovered.message == "✅ Recovered"


def test_tree_log_info_blank_record_ends_an_error_at_once() -> None:
    text = ("[07/15 04:42 PM EST] [ERROR] ❌ ERROR: x\n"
            "[07/15 04:42 PM EST] [ERROR] └─ ValueError: bad\n"
            "[07/15 04:42 PM EST] [INFO] \n")
    parser = make_parser("tree", source="s", path=STATSBOT_LOG)
    [error] = parser.feed(*split(text))
    assert error.exception == "ValueError: bad"
    assert parser.buffered_from is None


# -- §2 tree_log JSON ---------------------------------------------------------------------

def tree_json(category: str, message: str, *, level: str = "INFO", second: float = 2.48,
              run_id: str | None = "A4E19B07", daemon: str | None = None,
              stamp: str = "[07/15 03:44 PM EST]") -> str:
    """One tree_log JSON line as `json.dump` writes it (ASCII escapes, surrogate pairs)."""
    record: dict[str, object] = {"timestamp": stamp, "level": level, "category": category,
                                 "message": message}
    if run_id is not None:
        record["run_id"] = run_id
    if daemon is not None:
        record["daemon"] = daemon
    whole, micro = divmod(round(second * 1_000_000), 1_000_000)
    minute, whole = divmod(whole, 60)
    record["iso_datetime"] = f"2025-07-15T15:{44 + minute:02d}:{whole:02d}.{micro:06d}-05:00"
    return json.dumps(record) + "\n"


def test_tree_log_json_lines_are_ascii_escaped_like_the_bot_writes_them() -> None:
    line = tree_json("tree_item", "├─ id: 1")
    assert "\\u251c\\u2500" in line
    assert "\\ud83d\\udd04" in tree_json("run_header", "🔄 NEW BOT RUN SESSION")


def test_tree_log_json_error_with_detail_and_traceback_is_one_event() -> None:
    text = (tree_json("error", "❌ ERROR: Failed to update heartbeat", level="ERROR")
            + tree_json("error_detail", "└─ HTTPException: 503 Service Unavailable (error "
                        "code: 0): upstream", level="ERROR", second=2.5)
            + tree_json("traceback", '   File "/opt/StatsBot/src/services/monitoring.py", '
                        "line 265, in update_heartbeat", level="ERROR", second=2.5)
            + tree_json("traceback", "    embed = await self.create_heartbeat_embed()",
                        level="ERROR", second=2.5)
            + tree_json("perfect_tree_section", "💓 Heartbeat Update", second=30))
    error, heartbeat = parse("json", text, STATSBOT_JSON)
    assert (error.kind, error.level, error.message) == (
        "error", Level.ERROR, "❌ ERROR: Failed to update heartbeat")
    assert error.exception == (
        '   File "/opt/StatsBot/src/services/monitoring.py", line 265, in update_heartbeat\n'
        "    embed = await self.create_heartbeat_embed()\n"
        "HTTPException: 503 Service Unavailable (error code: 0): upstream")
    assert error.ts == datetime(2025, 7, 15, 15, 44, 2, 480000, tzinfo=EST)  # iso_datetime
    assert error.fields["raw_time"] == "07/15 03:44 PM EST"  # the stamp as written
    assert (error.fields["run_id"], error.fields["error_type"]) == ("A4E19B07",
                                                                    "HTTPException")
    _, ends = split(text)
    assert error.offset == ends[3]
    assert heartbeat.kind == "status"


def test_tree_log_json_run_header_lines_are_one_status_event() -> None:
    text = (tree_json("run_header", "=" * 80, second=0.1)
            + tree_json("run_header", "🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST", second=0.2)
            + tree_json("run_header", "🎯 StatsBot v1.0.0 - Run ID: A4E19B07", second=0.3)
            + tree_json("run_header", "=" * 80, second=0.4))
    [run] = parse("json", text, STATSBOT_JSON)
    assert run.kind == "status"
    assert run.message == ("🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST\n"
                           "🎯 StatsBot v1.0.0 - Run ID: A4E19B07")
    assert (run.fields["event_type"], run.fields["run_id"]) == ("run_start", "A4E19B07")


def test_tree_log_json_run_end_lines_are_one_status_event() -> None:
    text = (tree_json("run_end", "=" * 80, second=40)
            + tree_json("run_end", "🔚 END OF SESSION - 07/15 03:44 PM EST", second=40)
            + tree_json("run_end", "=" * 80, second=40))
    [end] = parse("json", text, STATSBOT_JSON)
    assert (end.kind, end.message, end.fields["event_type"]) == (
        "status", "🔚 END OF SESSION - 07/15 03:44 PM EST", "run_end")
    _, ends = split(text)
    assert end.offset == ends[2]


def test_tree_log_json_groups_only_within_one_run_close_in_time() -> None:
    text = (tree_json("perfect_tree_section", "➡️ Member Join")
            + tree_json("tree_item", "├─ member: alice#0")
            + tree_json("tree_item", "├─ id: 123456789012345678", run_id="B0000000")  # run
            + tree_json("perfect_tree_section", "⬅️ Member Leave", second=3)
            + tree_json("tree_item", "├─ member: bob#0", second=3.5)
            + tree_json("tree_item", "└─ id: 234567890123456789", second=20))  # 16.5 s on
    join, stray, leave, late = parse("json", text, STATSBOT_JSON)
    assert (join.kind, join.fields["member_name"]) == ("member", "alice#0")
    assert "member_id" not in join.fields
    assert (stray.message, stray.fields["run_id"]) == ("├─ id: 123456789012345678",
                                                       "B0000000")
    assert (leave.kind, leave.fields["event_type"], leave.fields["member_name"]) == (
        "member", "leave", "bob#0")
    assert "member_id" not in leave.fields
    assert late.message == "└─ id: 234567890123456789"


def test_tree_log_json_logsync_helper_groups_by_daemon() -> None:
    stamp = "[07/15 03:42 PM UTC-05:00]"
    text = (tree_json("run_header", "🔄 NEW BOT RUN SESSION", run_id=None, daemon="logsync",
                      stamp=stamp)
            + tree_json("run_header", "Run ID: 9C0FFEE1", run_id=None, daemon="logsync",
                        stamp=stamp, second=2.5))
    [run] = parse("json", text, STATSBOT_JSON)
    assert run.fields["daemon"] == "logsync"
    assert run.fields["raw_time"] == "07/15 03:42 PM UTC-05:00"
    assert (run.kind, run.fields["event_type"], run.fields["run_id"]) == (
        "status", "run_start", "9C0FFEE1")


def test_tree_log_json_holds_a_group_that_may_grow() -> None:
    lines, ends = split(tree_json("perfect_tree_section", "➡️ Member Join")
                        + tree_json("tree_item", "├─ member: alice#0"))
    parser = make_parser("json", source="s", path=STATSBOT_JSON)
    assert parser.feed(lines, ends) == []
    assert parser.buffered_from == 0
    more, more_ends = split(tree_json("tree_item", "└─ id: 123456789012345678"))
    [join] = parser.feed(more, [ends[-1] + e for e in more_ends])
    assert join.fields["member_id"] == "123456789012345678"
    assert parser.buffered_from is None


# -- §3 StructuredLogger text and JSON ----------------------------------------------------

STRUCTURED_TEXT = """\
[2025-07-15 20:42:07] [INFO] [monitoring] Heartbeat updated successfully (cpu=0.3% memory=2.1% threads=12 next_update=in 60 minutes)
[2025-07-15 20:44:01] [INFO] Member joined: alice#0 (member_id=123456789012345678 guild_id=987654321098765432)
[2025-07-15 20:42:07] [ERROR] [monitoring] Failed to update heartbeat [error=HTTPException: 503 Service Unavailable (error code: 0): upstream]
[2025-07-15 20:50:00] [CRITICAL] Maximum reconnection attempts reached, bot will exit (max_attempts=20)
[2025-07-15 20:51:00] [WARNING] High memory usage: 84.12MB (threshold: 80.00MB)
[2025-07-15 20:52:00] [WARNING] [database] Slow operation detected: update_stats took 2450.12ms [operation=update_stats, duration=2450.12ms]
[2025-07-15 20:53:00] [ERROR] [database] Failed to save stats (guilds=3) [operation=save, duration=12.50ms] [error=StorageError: could not save]
Traceback (most recent call last):
  File "/opt/StatsBot/src/db.py", line 41, in save
    self.conn.execute(sql, row)
    ~~~~~~~~~~~~~~~~~^^^^^^^^^^
sqlite3.OperationalError: database is locked

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/StatsBot/src/stats.py", line 88, in flush
    await self.db.save(batch)
statsbot.errors.StorageError: could not save
[2025-07-15 20:54:00] [INFO] Stats saved
"""


def test_structured_logger_text_suffixes_become_fields() -> None:
    events = parse("auto", STRUCTURED_TEXT)
    assert summary(events) == [
        ("status", "INFO", "Heartbeat updated successfully"),
        ("member", "INFO", "Member joined: alice#0"),
        ("error", "ERROR", "Failed to update heartbeat"),
        ("status", "CRITICAL", "Maximum reconnection attempts reached, bot will exit"),
        ("performance", "WARNING", "High memory usage: 84.12MB (threshold: 80.00MB)"),
        ("performance", "WARNING", "Slow operation detected: update_stats took 2450.12ms"),
        ("error", "ERROR", "Failed to save stats"),
        ("log", "INFO", "Stats saved"),
    ]
    heartbeat, join, failed, fatal, memory, slow, traced, saved = events
    assert all(e.ts is not None and e.ts.utcoffset() == timedelta(0) for e in events)
    assert heartbeat.ts == datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)
    assert heartbeat.logger == "monitoring"
    assert heartbeat.fields == {"service": "monitoring", "cpu": "0.3%", "memory": "2.1%",
                                "threads": 12, "next_update": "in 60 minutes",
                                "event_type": "heartbeat"}
    assert join.fields == {"event_type": "join", "member_name": "alice#0",
                           "member_id": "123456789012345678",
                           "guild_id": "987654321098765432"}
    assert failed.exception == "HTTPException: 503 Service Unavailable (error code: 0): upstream"
    assert failed.fields["error_type"] == "HTTPException"
    assert fatal.fields == {"max_attempts": 20, "event_type": "reconnect_failed"}
    assert (memory.fields["value"], memory.fields["threshold"], memory.fields["ratio"]) == (
        84.12, 80.0, 1.052)
    assert (slow.fields["operation"], slow.fields["duration_ms"], slow.fields["value"]) == (
        "update_stats", 2450.12, 2450.12)
    assert traced.fields["operation"] == "save"
    assert traced.fields["duration_ms"] == 12.5
    assert traced.fields["guilds"] == 3
    assert traced.fields["error"] == "StorageError: could not save"
    assert traced.exception is not None
    assert traced.exception.startswith("Traceback (most recent call last):")
    assert "The above exception was the direct cause" in traced.exception
    assert traced.exception.endswith("statsbot.errors.StorageError: could not save")
    assert traced.fields["error_type"] == "statsbot.errors.StorageError"
    _, ends = split(STRUCTURED_TEXT)
    assert traced.offset == ends[18]
    assert saved.fields == {}


STRUCTURED_JSON = [
    {"timestamp": "2025-07-15T20:44:03.120044+00:00", "level": "INFO",
     "message": "Member join recorded: alice#0",
     "context": {"member_id": 123456789012345678, "username": "alice#0",
                 "date": "2025-07-15"}, "service": "StatsTracker"},
    {"timestamp": "2025-07-15T20:44:05.000000+00:00", "level": "INFO",
     "message": "Member leave recorded: bob#0",
     "context": {"member_id": "234567890123456789", "username": "bob#0",
                 "guild_id": 987654321098765432, "guild_name": "Stats HQ"},
     "service": "StatsTracker"},
    {"timestamp": "2025-07-15T20:45:00.000000+00:00", "level": "WARNING",
     "message": "Slow operation detected: update_stats took 2450.12ms",
     "context": {"threshold_ms": 1000}, "service": "database",
     "operation": "update_stats", "duration_ms": 2450.12},
    {"timestamp": "2025-07-15T20:46:00.000000+00:00", "level": "INFO", "message": "Stats saved",
     "context": {"guilds": 3, "event": "flush"}, "service": "database", "operation": "save",
     "duration_ms": 12.5},
    {"timestamp": "2025-07-15T20:47:00.000000+00:00", "level": "ERROR",
     "message": "Failed to update heartbeat",
     "context": {"traceback": "Traceback (most recent call last):\n  File \"m.py\", line 1, "
                              "in f\ndiscord.errors.HTTPException: 503 ...",
                 "error_type": "HTTPException"},
     "service": "monitoring", "error": "HTTPException: 503 ..."},
]


def test_structured_logger_json_context_is_flattened_and_known_keys_kept() -> None:
    text = "".join(json.dumps(record) + "\n" for record in STRUCTURED_JSON)
    join, leave, slow, saved, failed = parse("auto", text, STATSBOT_JSON)
    assert join.fields["member_id"] == "123456789012345678"  # an int in the file
    assert leave.fields == {"event_type": "leave", "member_name": "bob#0",
                            "service": "StatsTracker", "member_id": "234567890123456789",
                            "guild_id": "987654321098765432", "guild_name": "Stats HQ"}
    assert slow.kind == "performance"
    assert {k: slow.fields[k] for k in ("operation", "duration_ms", "value", "threshold",
                                        "ratio", "service")} == {
        "operation": "update_stats", "duration_ms": 2450.12, "value": 2450.12,
        "threshold": 1000.0, "ratio": 2.45, "service": "database"}
    assert saved.kind == "log"
    assert saved.fields == {"service": "database", "operation": "save", "duration_ms": 12.5,
                            "guilds": 3, "event": "flush"}
    assert saved.message == "Stats saved"  # context.event is a field, not the message
    assert failed.exception is not None
    assert failed.exception.endswith("discord.errors.HTTPException: 503 ...")
    assert failed.fields == {"service": "monitoring", "error": "HTTPException: 503 ...",
                             "error_type": "HTTPException"}


# -- §4 the sibling bots' tree logger -----------------------------------------------------

SIBLING = """\

════════════════════════════════════════
RUN ID: a1b2c3d4
════════════════════════════════════════

[03:42:09 PM EDT] 🤖 Bot Ready
  ├─ Bot ID: 1234567890
  ├─ Guilds: 2
  │   ├─ main: Quran HQ
  │   └─ test: Sandbox
  └─ Latency: 52ms

[03:43:00 PM EDT] ⚠️ Slow voice reconnect
  └─ Took: 900ms

[03:44:00 PM EDT] ❌ Voice connection failed
  ├─ Channel: 987654321098765432
  └─ Error: ConnectionClosed: code 4006

[03:45:00 PM EDT] 🚨 Audio player crashed

[03:46:00 PM EDT] 💥 Unhandled exception in on_message
Traceback (most recent call last):
  File "/opt/QuranBot/src/bot.py", line 88, in on_message
    await self.play(surah)
          ^^^^^^^^^^^^^^^^
ValueError: surah out of range

[03:47:00 PM EDT] ➡️ Member Join
  ├─ Member: alice#0
  └─ ID: 123456789012345678
"""


@pytest.mark.parametrize("fmt", ["text", "auto", "tree"])
def test_sibling_tree_logger_branches_join_their_record_and_emoji_sets_level(
        fmt: str) -> None:
    events = parse(fmt, SIBLING, SIBLING_LOG)
    assert summary(events) == [
        ("status", "INFO", "RUN ID: a1b2c3d4"),
        ("status", "INFO", "🤖 Bot Ready"),
        ("log", "WARNING", "⚠️ Slow voice reconnect"),
        ("error", "ERROR", "❌ Voice connection failed"),
        ("error", "CRITICAL", "🚨 Audio player crashed"),
        ("error", "ERROR", "💥 Unhandled exception in on_message"),
        ("member", "INFO", "➡️ Member Join"),
    ]
    banner, ready, slow, failed, _, boom, join = events
    assert (banner.fields["run_id"], banner.fields["event_type"]) == ("a1b2c3d4", "run_start")
    assert ready.ts == datetime(2025, 7, 15, 15, 42, 9, tzinfo=EDT)  # dated by the file name
    assert ready.fields == {"raw_time": "03:42:09 PM EDT", "bot_id": "1234567890",
                            "guilds": "2", "guilds.main": "Quran HQ",
                            "guilds.test": "Sandbox", "latency": "52ms",
                            "event_type": "run_start"}
    assert slow.fields["took"] == "900ms"
    assert failed.fields["channel"] == "987654321098765432"
    assert failed.exception == "ConnectionClosed: code 4006"
    assert boom.exception is not None
    assert boom.exception.splitlines()[0] == "Traceback (most recent call last):"
    assert boom.exception.endswith("          ^^^^^^^^^^^^^^^^\nValueError: surah out of range")
    assert (join.fields["member_id"], join.fields["member_name"]) == (
        "123456789012345678", "alice#0")
    _, ends = split(SIBLING)
    assert ready.offset == ends[10]  # "└─ Latency": the blank line after is not its own


@pytest.mark.parametrize("rule", ["=" * 40, "═" * 40])
def test_sibling_run_banner_of_either_rule(rule: str) -> None:
    text = f"{rule}\nRUN ID: a1b2c3d4\n{rule}\n\n[03:42:09 PM EDT] 🤖 Bot Ready\n"
    banner, ready = parse("auto", text, SIBLING_LOG)
    assert (banner.kind, banner.message, banner.fields["run_id"]) == (
        "status", "RUN ID: a1b2c3d4", "a1b2c3d4")
    assert ready.message == "🤖 Bot Ready"


def test_sibling_tree_ends_at_the_blank_line_after_it() -> None:
    parser = make_parser("text", source="s", path=SIBLING_LOG)
    lines, ends = split("[03:42:09 PM EDT] 🤖 Bot Ready\n  └─ Latency: 52ms\n\n")
    [ready] = parser.feed(lines, ends)
    assert ready.offset == ends[1]
    assert parser.buffered_from is None


# -- §5 anything else ---------------------------------------------------------------------

def test_python_logging_default_text_formats() -> None:
    text = ("WARNING:discord.gateway:Shard ID None heartbeat blocked for more than 10 seconds\n"
            "2025-07-15 20:42:07,123 ERROR statsbot.db: query failed\n"
            "Traceback (most recent call last):\n"
            '  File "/opt/StatsBot/src/db.py", line 41, in save\n'
            "sqlite3.OperationalError: database is locked\n")
    blocked, failed = parse("auto", text)
    assert (blocked.level, blocked.logger) == (Level.WARNING, "discord.gateway")
    assert (failed.level, failed.logger, failed.message) == (Level.ERROR, "statsbot.db",
                                                             "query failed")
    assert failed.ts == datetime(2025, 7, 15, 20, 42, 7, 123000, tzinfo=UTC)
    assert failed.fields["error_type"] == "sqlite3.OperationalError"


def test_python_json_logger_and_structlog_in_one_auto_file() -> None:
    records = [
        {"asctime": "2025-07-15 20:42:07,123", "levelname": "WARNING", "name": "bot.voice",
         "msg": "Reconnecting to voice", "guild_id": 987654321098765432},
        {"event": "Member joined: carol#0", "level": "info", "logger": "bot.members",
         "timestamp": "2025-07-15T20:42:08.5Z", "member_id": 456789012345678901},
        {"event": "command failed", "level": "error", "logger": "bot.commands",
         "timestamp": "2025-07-15T20:42:09Z",
         "exception": [{"exc_type": "KeyError", "exc_value": "'guild'", "frames": []}]},
    ]
    text = "".join(json.dumps(r) + "\n" for r in records)
    voice, joined, failed = parse("auto", text)
    assert (voice.kind, voice.level, voice.logger, voice.message) == (
        "status", Level.WARNING, "bot.voice", "Reconnecting to voice")
    assert voice.fields == {"guild_id": "987654321098765432", "event_type": "reconnect"}
    assert (joined.kind, joined.logger, joined.fields["member_id"]) == (
        "member", "bot.members", "456789012345678901")
    assert joined.fields["member_name"] == "carol#0"
    assert joined.ts == datetime(2025, 7, 15, 20, 42, 8, 500000, tzinfo=UTC)
    assert (failed.kind, failed.exception) == ("error", "KeyError: 'guild'")


# -- format = "auto" ----------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "text", "path"), [
    ("tree", TREE_LOG, STATSBOT_LOG),
    ("text", STRUCTURED_TEXT, STATSBOT_LOG),
    ("text", SIBLING, SIBLING_LOG),
    ("json", "".join(json.dumps(r) + "\n" for r in STRUCTURED_JSON), STATSBOT_JSON),
    ("json", tree_json("perfect_tree_section", "➡️ Member Join")
     + tree_json("tree_item", "└─ id: 123456789012345678"), STATSBOT_JSON),
])
def test_auto_reads_each_format_as_its_own_parser_does(fmt: str, text: str,
                                                       path: str) -> None:
    assert parse("auto", text, path) == parse(fmt, text, path)


def test_auto_is_the_default_format(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ""), env={})
    assert [source.format for source in config.sources] == ["auto"]


def test_auto_picks_per_line_in_a_mixed_file() -> None:
    text = (TREE_LOG.splitlines(keepends=True)[6]  # ➡️ Member Join (tree_log text)
            + "".join(TREE_LOG.splitlines(keepends=True)[7:10])
            + json.dumps(STRUCTURED_JSON[0]) + "\n"
            + STRUCTURED_TEXT.splitlines(keepends=True)[4]
            + tree_json("error", "❌ ERROR: x", level="ERROR")
            + tree_json("error_detail", "└─ ValueError: bad", level="ERROR")
            + "[03:47:00 PM EDT] 🚨 Audio player crashed\n")
    events = parse("auto", text)
    assert summary(events) == [
        ("member", "INFO", "➡️ Member Join"),
        ("member", "INFO", "Member join recorded: alice#0"),
        ("performance", "WARNING", "High memory usage: 84.12MB (threshold: 80.00MB)"),
        ("error", "ERROR", "❌ ERROR: x"),
        ("error", "CRITICAL", "🚨 Audio player crashed"),
    ]
    assert events[3].exception == "ValueError: bad"
    offsets = [e.offset for e in events]
    assert offsets == sorted(offsets)


# -- kinds and routes ---------------------------------------------------------------------

@pytest.mark.parametrize(("line", "kind", "fields"), [
    ("[2025-07-15 20:44:01] [INFO] Member unbanned: eve#0 (member_id=345678901234567890)",
     "member", {"event_type": "unban", "member_name": "eve#0",
                "member_id": "345678901234567890"}),
    ("[2025-07-15 20:44:01] [INFO] Member banned: eve#0 (user_id=345678901234567890 "
     "guild_id=987654321098765432 guild_name=Stats HQ)",
     "member", {"event_type": "ban", "member_name": "eve#0",
                "member_id": "345678901234567890", "guild_id": "987654321098765432",
                "guild_name": "Stats HQ"}),
    ("[2025-07-15 20:51:00] [CRITICAL] Critical memory usage: 160.50MB (threshold: 150.00MB)",
     "performance", {"event_type": "high_usage", "metric": "memory", "value": 160.5,
                     "unit": "MB", "threshold": 150.0, "ratio": 1.07}),
    ("[2025-07-15 20:52:00] [WARNING] Slow operation detected: fetch_guilds took 3.5s",
     "performance", {"event_type": "slow_operation", "metric": "duration",
                     "operation": "fetch_guilds", "value": 3.5, "unit": "s"}),
    ("[2025-07-15 20:54:00] [WARNING] Attempting to reconnect (attempt=3)",
     "status", {"attempt": 3, "event_type": "reconnect"}),
    ("[2025-07-15 20:55:00] [INFO] Bot is ready (guilds=3)",
     "status", {"guilds": 3, "event_type": "run_start"}),
    ("[2025-07-15 20:56:00] [INFO] Bot shutting down", "status", {"event_type": "run_end"}),
    ("[2025-07-15 20:57:00] [ERROR] Heartbeat failed", "error", {}),
    ("[2025-07-15 20:58:00] [ERROR] Something broke", "error", {}),
    ("[2025-07-15 20:59:00] [INFO] Cache refreshed (entries=412)", "log", {"entries": 412}),
])
def test_kinds_and_their_fields(line: str, kind: str, fields: dict[str, object]) -> None:
    [event] = parse("auto", line + "\n")
    assert event.kind == kind
    assert event.fields == fields


@pytest.mark.parametrize(("record", "fields"), [
    ({"level": "WARNING", "message": "Slow operation detected", "context": {"threshold_ms": 1000},
      "operation": "update_stats", "duration_ms": 2450.0},
     {"value": 2450.0, "unit": "ms", "threshold": 1000.0, "ratio": 2.45,
      "operation": "update_stats"}),
    ({"level": "WARNING", "message": "High memory usage",
      "context": {"memory_mb": 90.0, "threshold_mb": 80.0}},
     {"value": 90.0, "threshold": 80.0, "ratio": 1.125, "metric": "memory"}),
    ({"level": "WARNING", "message": "High CPU usage: 92.5% (threshold: 80%)", "context": {}},
     {"value": 92.5, "unit": "%", "threshold": 80.0, "ratio": 1.156, "metric": "cpu"}),
])
def test_performance_value_threshold_and_ratio_from_the_record_too(
        record: dict[str, object], fields: dict[str, object]) -> None:
    [event] = parse("json", json.dumps(record) + "\n", STATSBOT_JSON)
    assert event.kind == "performance"
    assert {key: event.fields.get(key) for key in fields} == fields


def write_config(tmp_path: Path, routes: str) -> Path:
    hook = "https://discord.com/api/webhooks/123456789012345678/tok-en_1"
    sinks = "".join(f'[sinks.{name}]\nurl = "{hook}"\n\n'
                    for name in ("errors", "performance", "members", "logs"))
    path = tmp_path / "config.toml"
    path.write_text(f'[daemon]\nstate_dir = "state"\n\n[[sources]]\nname = "statsbot"\n'
                    f'paths = ["logs/*/logs.log"]\n\n{sinks}{routes}')
    return path


SEED_ROUTES = """\
[[routes]]
name = "errors"
sinks = ["errors"]
match = { kind = "error" }

[[routes]]
name = "performance"
sinks = ["performance"]
match = { kind = "performance" }

[[routes]]
name = "members"
sinks = ["members"]
match = { kind = "member" }

[[routes]]
name = "general"
sinks = ["logs"]
match = { kind = "^(status|log)$" }
"""


def test_routes_match_on_kind_like_the_seeds_channels(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, SEED_ROUTES), env={})
    router = Router(config.routes)
    events = parse("auto", TREE_LOG + STRUCTURED_TEXT)
    channels: dict[str, list[str]] = {}
    for event in events:
        for _, sink in router.match(event):
            channels.setdefault(sink, []).append(event.message.splitlines()[0])
    assert channels == {
        "logs": ["🔄 NEW BOT RUN SESSION - 07/15 03:42 PM EST", "💓 Heartbeat Update",
                 "🔚 END OF SESSION - 07/15 05:01 PM EST", "Heartbeat updated successfully",
                 "Maximum reconnection attempts reached, bot will exit", "Stats saved"],
        "members": ["➡️ Member Join", "⬅️ Member Leave", "🔨 Member Ban",
                    "Member joined: alice#0"],
        "errors": ["❌ ERROR: Failed to update heartbeat", "❌ CRITICAL: Invalid bot token",
                   "Failed to update heartbeat", "Failed to save stats"],
        "performance": ["High memory usage: 84.12MB (threshold: 80.00MB)",
                        "Slow operation detected: update_stats took 2450.12ms"],
    }


# -- timestamps ---------------------------------------------------------------------------

def stamp_of(line: str, path: str, now: datetime) -> Event:
    [event] = parse_at(now, line + "\n", path)
    return event


LATER = datetime(2026, 3, 1, tzinfo=UTC)  # reading an old folder, long after


@pytest.mark.parametrize(("line", "path", "now", "expected", "raw"), [
    # no year: the folder's; no seconds; "EST" is UTC-5
    ("[07/15 03:42 PM EST] [INFO] a", "/logs/2025-07-15/logs.log", LATER,
     datetime(2025, 7, 15, 15, 42, tzinfo=EST), "07/15 03:42 PM EST"),
    # a stamp from the last evening of a year, in the next year's folder (host-local date)
    ("[12/31 11:58 PM EST] [INFO] a", "/logs/2026-01-01/logs.log", LATER,
     datetime(2025, 12, 31, 23, 58, tzinfo=EST), "12/31 11:58 PM EST"),
    # no folder date: the year nearest now
    ("[12/31 11:58 PM EST] [INFO] a", "/logs/logs.log", datetime(2026, 1, 1, 6, tzinfo=UTC),
     datetime(2025, 12, 31, 23, 58, tzinfo=EST), "12/31 11:58 PM EST"),
    # the log-sync helper's numeric zone
    ("[07/15 03:42 PM UTC-05:00] [INFO] a", "/logs/2025-07-15/logs.log", LATER,
     datetime(2025, 7, 15, 15, 42, tzinfo=EST), "07/15 03:42 PM UTC-05:00"),
    # the sibling bots: a time only, the date from the file name
    ("[03:42:09 PM EDT] 🤖 Bot Ready", "/logs/2025-07-15/QuranBot-2025-07-15.log", LATER,
     datetime(2025, 7, 15, 15, 42, 9, tzinfo=EDT), "03:42:09 PM EDT"),
    # a time only, no date anywhere, later than now: yesterday's
    ("[11:50:00 PM EDT] 🤖 Bot Ready", "/logs/bot.log", datetime(2025, 7, 16, 3, tzinfo=UTC),
     datetime(2025, 7, 14, 23, 50, tzinfo=EDT), "11:50:00 PM EDT"),
    # an impossible stamp: no time, the raw stamp kept
    ("[13/45 03:42 PM EST] [INFO] a", "/logs/2025-07-15/logs.log", LATER, None,
     "13/45 03:42 PM EST"),
])
def test_partial_stamps_resolved_against_folder_date_and_now(
        line: str, path: str, now: datetime, expected: datetime | None, raw: str) -> None:
    event = stamp_of(line, path, now)
    assert event.ts == expected
    assert event.fields["raw_time"] == raw


def test_a_utc_host_printing_est_is_recognised_from_fresh_lines() -> None:
    """tree_log prints "EST" whatever the host clock is: on a UTC host a fresh line says
    08:42 PM "EST" at 20:42 UTC. Taken as UTC-5 it would be five hours in the future."""
    now = datetime(2025, 7, 15, 20, 43, tzinfo=UTC)
    text = "[07/15 08:42 PM EST] [INFO] a\n[07/15 08:50 PM EST] [INFO] b\n"
    first, second = parse_at(now, text, "/logs/2025-07-15/logs.log")
    assert first.ts == datetime(2025, 7, 15, 20, 42, tzinfo=UTC)
    assert second.ts == datetime(2025, 7, 15, 20, 50, tzinfo=UTC)  # learned for the file
    assert first.fields["raw_time"] == "07/15 08:42 PM EST"


def test_an_old_line_read_after_a_restart_takes_the_hosts_own_offset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first line that gives the label away may be hours old (a backlog read after a
    restart): "12:00 EST" read at 15:00 UTC on a UTC host is noon UTC, not 15:00."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        now = datetime(2025, 7, 15, 15, 0, tzinfo=UTC)
        text = "[07/15 12:00 PM EST] [INFO] a\n[07/15 02:30 PM EST] [INFO] b\n"
        first, second = parse_at(now, text, "/logs/2025-07-15/logs.log")
        assert first.ts == datetime(2025, 7, 15, 12, 0, tzinfo=UTC)
        assert second.ts == datetime(2025, 7, 15, 14, 30, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_time_only_stamps_cross_midnight() -> None:
    text = "[11:59:59 PM EDT] 📊 late\n[12:00:01 AM EDT] 📊 after midnight\n"
    late, after = parse_at(LATER, text, SIBLING_LOG)
    assert late.ts == datetime(2025, 7, 15, 23, 59, 59, tzinfo=EDT)
    assert after.ts == datetime(2025, 7, 16, 0, 0, 1, tzinfo=EDT)


def test_json_true_time_wins_over_the_partial_stamp() -> None:
    [event] = parse("json", tree_json("perfect_tree_section", "💓 Heartbeat Update"),
                    "/logs/2024-01-01/logs.json")
    assert event.ts == datetime(2025, 7, 15, 15, 44, 2, 480000, tzinfo=EST)
    assert event.fields["raw_time"] == "07/15 03:44 PM EST"
