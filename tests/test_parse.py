"""Parsers: real StatsBot and Python logger lines in, the events an alert needs out.

Lines are fed as the tailer feeds them: bytes without their newline, with the offset just
past each line's newline. Samples come from ../shared/formats.md.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

import logship.parse
from logship.event import Event, Level
from logship.parse import (
    AutoParser,
    JsonParser,
    TextParser,
    TreeParser,
    classify,
    clock,
    common,
    kinds,
    make_parser,
    multiline,
    structured,
    tree,
)
from logship.parse import auto as auto_module
from logship.parse import json as json_module
from logship.parse import text as text_module
from logship.parse.text import MAX_RECORD_LINES


def split(text: str, base: int = 0) -> tuple[list[bytes], list[int]]:
    """`text` (newline-terminated lines) as the reader hands it out from offset `base`."""
    lines = text.encode().split(b"\n")
    assert lines.pop() == b"", "sample must end with a newline"
    ends, pos = [], base
    for line in lines:
        pos += len(line) + 1
        ends.append(pos)
    return lines, ends


def parse(fmt: str, text: str, *, flush: bool = True) -> list[Event]:
    parser = make_parser(fmt, source="statsbot", path="/opt/StatsBot/logs/2025-07-15/x")
    events = parser.feed(*split(text))
    return events + parser.flush() if flush else events


def one(fmt: str, text: str) -> Event:
    events = parse(fmt, text)
    assert len(events) == 1, events
    return events[0]


# -- StructuredLogger JSON (formats.md §3) ------------------------------------------------

MEMBER_JOIN = (
    '{"timestamp": "2025-07-15T20:44:03.120044+00:00", "level": "INFO", "message": "Member join '
    'recorded: alice#0", "context": {"member_id": 123456789012345678, "username": "alice#0", '
    '"date": "2025-07-15"}, "service": "StatsTracker"}\n'
)
HEARTBEAT_FAILED = (
    '{"timestamp": "2025-07-15T20:42:07.902000+00:00", "level": "ERROR", "message": "Failed to '
    'update heartbeat", "context": {}, "service": "monitoring", "error": "HTTPException: 503 '
    'Service Unavailable (error code: 0): upstream"}\n'
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in '
    "update_heartbeat\n"
    "    embed = await self.create_heartbeat_embed()\n"
    "discord.errors.HTTPException: 503 Service Unavailable (error code: 0): upstream"
)


def test_structured_logger_member_join() -> None:
    event = one("json", MEMBER_JOIN)
    assert event.level == Level.INFO
    assert event.message == "Member join recorded: alice#0"
    assert event.ts == datetime(2025, 7, 15, 20, 44, 3, 120044, tzinfo=UTC)
    assert event.logger == "StatsTracker"
    assert event.fields == {
        "service": "StatsTracker",  # also kept as a field: routes match on it
        "member_id": "123456789012345678",
        "member_name": "alice#0",  # "username", renamed: every member event says it alike
        "date": "2025-07-15",
        "event_type": "join",
    }
    assert event.exception is None
    assert event.kind == "member"
    assert (event.source, event.path) == ("statsbot", "/opt/StatsBot/logs/2025-07-15/x")
    assert event.offset == len(MEMBER_JOIN.encode())


def test_structured_logger_error_string_is_the_exception_of_an_error() -> None:
    event = one("json", HEARTBEAT_FAILED)
    assert event.level == Level.ERROR
    assert event.kind == "error"
    assert event.exception == "HTTPException: 503 Service Unavailable (error code: 0): upstream"
    assert event.fields["error"] == event.exception
    assert event.fields["error_type"] == "HTTPException"
    assert event.logger == "monitoring"


def test_structured_logger_context_traceback_becomes_the_exception() -> None:
    record = {
        "timestamp": "2025-07-15T20:42:07.902000+00:00", "level": "ERROR",
        "message": "Failed to update heartbeat",
        "context": {"traceback": TRACEBACK, "error_type": "HTTPException"},
        "service": "monitoring", "error": "HTTPException: 503 Service Unavailable",
        "operation": "update_heartbeat", "duration_ms": 2450.12,
    }
    event = one("json", json.dumps(record) + "\n")
    assert event.exception == TRACEBACK
    assert "traceback" not in event.fields
    assert event.fields == {
        "service": "monitoring", "error": "HTTPException: 503 Service Unavailable",
        "operation": "update_heartbeat", "duration_ms": 2450.12,
        "error_type": "HTTPException",
    }


def test_an_error_string_on_a_warning_is_only_a_field() -> None:
    line = '{"level": "WARNING", "message": "retrying", "error": "timeout"}\n'
    event = one("json", line)
    assert event.exception is None
    assert event.kind == "log"
    assert event.fields == {"error": "timeout"}


def test_context_keys_that_collide_get_a_prefix() -> None:
    line = '{"message": "m", "user": "top", "context": {"user": "ctx", "guild": "g"}}\n'
    assert one("json", line).fields == {"user": "top", "context.user": "ctx", "guild": "g"}


def test_nested_dicts_become_dotted_keys() -> None:
    line = ('{"message": "m", "http": {"status": 503, "route": {"path": "/x"}}, '
            '"context": {"guild": {"id": 987654321098765432}}, "empty": {}}\n')
    assert one("json", line).fields == {
        "http.status": 503, "http.route.path": "/x", "guild.id": "987654321098765432",
    }


# -- tree_log JSON (formats.md §2) -------------------------------------------------------

TREE_SECTION = (
    '{"timestamp": "[07/15 03:44 PM EST]", "level": "INFO", "category": "perfect_tree_section",'
    ' "message": "\\u27a1\\ufe0f Member Join", "run_id": "A4E19B07", "iso_datetime": '
    '"2025-07-15T15:44:02.481516-05:00"}\n'
    '{"timestamp": "[07/15 03:44 PM EST]", "level": "INFO", "category": "tree_item", "message":'
    ' "\\u251c\\u2500 id: 123456789012345678", "run_id": "A4E19B07", "iso_datetime": '
    '"2025-07-15T15:44:02.482001-05:00"}\n'
    '{"timestamp": "[07/15 03:42 PM UTC-05:00]", "level": "INFO", "category": "run_header", '
    '"message": "\\ud83d\\udd04 NEW BOT RUN SESSION", "daemon": "logsync", "iso_datetime": '
    '"2025-07-15T15:42:00-05:00"}\n'
)


def test_tree_log_json_uses_iso_datetime_decodes_escapes_and_groups() -> None:
    section, run = parse("json", TREE_SECTION)
    est = timezone(timedelta(hours=-5))
    assert section.ts == datetime(2025, 7, 15, 15, 44, 2, 481516, tzinfo=est)
    assert section.message == "➡️ Member Join"
    assert section.fields == {"raw_time": "07/15 03:44 PM EST",
                              "category": "perfect_tree_section", "run_id": "A4E19B07",
                              "member_id": "123456789012345678", "event_type": "join"}
    assert section.kind == "member"
    assert run.message == "🔄 NEW BOT RUN SESSION"
    assert run.fields["daemon"] == "logsync"
    assert (run.kind, run.fields["event_type"]) == ("status", "run_start")
    _, ends = split(TREE_SECTION)
    assert (section.offset, run.offset) == (ends[1], ends[2])


# -- other Python JSON loggers (formats.md §5) -------------------------------------------

def test_python_json_logger_record() -> None:
    record = {"asctime": "2025-07-15 20:42:07,123", "levelname": "ERROR", "name": "bot.db",
              "message": "query failed", "exc_info": TRACEBACK, "taskName": None}
    event = one("json", json.dumps(record) + "\n")
    assert event.level == Level.ERROR
    assert event.logger == "bot.db"
    assert event.ts == datetime(2025, 7, 15, 20, 42, 7, 123000, tzinfo=UTC)  # naive: UTC
    assert event.exception == TRACEBACK
    assert event.fields == {"taskName": None, "error_type": "discord.errors.HTTPException"}


def test_structlog_record() -> None:
    record = {"event": "cache miss", "level": "warning", "timestamp": "2025-07-15T20:42:07Z",
              "logger": "bot.cache", "exception": TRACEBACK, "key": "guild:1"}
    event = one("json", json.dumps(record) + "\n")
    assert (event.level, event.message, event.logger) == (Level.WARNING, "cache miss",
                                                          "bot.cache")
    assert event.ts == datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)
    assert event.exception == TRACEBACK
    assert event.kind == "error"  # an exception makes it an error, whatever the level
    assert event.fields == {"key": "guild:1", "error_type": "discord.errors.HTTPException"}


def test_an_error_text_names_a_type_only_as_python_prints_one() -> None:
    # Python prints an exception's type capitalised (the builtins) or dotted
    # (socket.timeout): a bare lowercase word before a colon starts a message, not a type
    vague = one("json", '{"level": "ERROR", "msg": "x", "error": "error: connection refused"}\n')
    assert vague.kind == "error"
    assert "error_type" not in vague.fields
    dotted = one("json", '{"level": "ERROR", "msg": "x", "error": "socket.timeout: timed out"}\n')
    assert dotted.fields["error_type"] == "socket.timeout"
    assert kinds.error_type("warning: disk almost full") is None
    assert kinds.error_type("Traceback (most recent call last):\nKeyError: 'x'") == "KeyError"


def test_error_dict_gives_summary_or_its_traceback() -> None:
    summary = one("json", '{"msg": "x", "error": {"type": "ValueError", "message": "bad"}}\n')
    assert summary.exception == "ValueError: bad"
    assert summary.fields == {"error.type": "ValueError", "error.message": "bad",
                              "error_type": "ValueError"}
    traced = one("json", json.dumps({"msg": "x", "error": {"type": "E", "traceback": "tb"}})
                 + "\n")
    assert traced.exception == "tb"
    assert traced.fields == {"error.type": "E"}  # "tb" names no exception type


@pytest.mark.parametrize(("raw", "level", "name"), [
    ("DEBUG", Level.DEBUG, None), ("info", Level.INFO, None), ("Warn", Level.WARNING, None),
    ("FATAL", Level.CRITICAL, None), ("VERBOSE", Level.INFO, "VERBOSE"),
    (10, Level.DEBUG, None), (20, Level.INFO, None), (30, Level.WARNING, None),
    (40, Level.ERROR, None), (50, Level.CRITICAL, None), (25, Level.INFO, "25"),
    ("40", Level.ERROR, None), (None, Level.INFO, ""), (True, Level.INFO, "true"),
    ([1], Level.INFO, "[1]"),
])
def test_levels(raw: object, level: Level, name: str | None) -> None:
    event = one("json", json.dumps({"level": raw, "message": "m"}) + "\n")
    assert event.level == level
    assert event.fields.get("level_name") == name


def test_a_record_without_level_or_message() -> None:
    event = one("json", '{"a": 1}\n')
    assert (event.level, event.message, event.ts, event.logger) == (Level.INFO, "", None, None)
    assert event.fields == {"a": 1}


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-07-15T20:44:03Z", datetime(2025, 7, 15, 20, 44, 3, tzinfo=UTC)),
    ("2025-07-15T20:44:03.5+02:00",
     datetime(2025, 7, 15, 20, 44, 3, 500000, tzinfo=timezone(timedelta(hours=2)))),
    ("2025-07-15 20:44:03", datetime(2025, 7, 15, 20, 44, 3, tzinfo=UTC)),
    (1752612243, datetime(2025, 7, 15, 20, 44, 3, tzinfo=UTC)),
    (1752612243.5, datetime(2025, 7, 15, 20, 44, 3, 500000, tzinfo=UTC)),
    (1752612243120, datetime(2025, 7, 15, 20, 44, 3, 120000, tzinfo=UTC)),
    ("1752612243", datetime(2025, 7, 15, 20, 44, 3, tzinfo=UTC)),
])
def test_timestamps_are_aware(value: object, expected: datetime) -> None:
    event = one("json", json.dumps({"ts": value, "msg": "m"}) + "\n")
    assert event.ts == expected
    assert event.ts is not None and event.ts.tzinfo is not None
    assert "ts" not in event.fields


def test_a_time_key_that_holds_no_time_stays_a_field() -> None:
    event = one("json", '{"msg": "m", "time": 12, "timestamp": "soon"}\n')
    assert event.ts is None
    assert event.fields == {"time": 12, "timestamp": "soon"}


def test_snowflakes_become_text_everywhere_and_small_ints_stay() -> None:
    line = ('{"msg": "m", "member_id": 123456789012345678, "count": 1234567890123456, '
            '"ids": [12345678901234567, 5], "big": 99999999999999999999, '
            '"text_id": "234567890123456789", "huge": 123456789012345678901, "f": 2.5}\n')
    fields = one("json", line).fields
    assert fields == {
        "member_id": "123456789012345678",
        "count": 1234567890123456,  # 16 digits: not a snowflake
        "ids": ["12345678901234567", 5],
        "big": "99999999999999999999",  # over 64 bits: still every digit
        "text_id": "234567890123456789",
        "huge": 123456789012345678901,  # 21 digits: an int, exact
        "f": 2.5,
    }


def test_nan_and_infinity_from_python_json_dumps_are_read() -> None:
    event = one("json", '{"msg": "m", "duration_ms": NaN, "limit": Infinity}\n')
    assert event.fields["limit"] == float("inf")
    assert event.fields["duration_ms"] != event.fields["duration_ms"]
    assert "parse_error" not in event.fields


# -- lines that are no JSON object --------------------------------------------------------

def test_invalid_json_is_an_event_with_its_raw_text() -> None:
    event = one("json", "this is not json\n")
    assert event.level == Level.WARNING
    assert event.message == "this is not json"
    assert event.fields["parse_error"].startswith("invalid JSON")
    assert event.offset == 17


def test_a_json_value_that_is_no_object() -> None:
    event = one("json", "[1, 2]\n")
    assert event.message == "[1, 2]"
    assert event.fields == {"parse_error": "not a JSON object (list)"}


def test_a_cut_json_line_keeps_its_level_and_message() -> None:
    line = ('{"timestamp": "2025-07-15T20:42:07+00:00", "level": "ERROR", "message": '
            '"Failed to update \\"heartbeat\\"", "context": {"traceback": "Traceback (most rec')
    event = one("json", line + "\n")
    assert event.level == Level.ERROR
    assert event.message == 'Failed to update "heartbeat"'
    assert event.fields["raw"] == line
    assert event.kind == "error"


def test_an_overlong_invalid_line_is_cut_in_the_message() -> None:
    event = one("json", "x" * 10_000 + "\n")
    assert len(event.message) == common.MAX_RAW_CHARS + 1
    assert event.message.endswith("…")


def test_blank_lines_are_skipped_and_offsets_stay_right() -> None:
    events = parse("json", '\n   \n{"msg": "a"}\n\r\n{"msg": "b"}\r\n')
    assert [(e.message, e.offset) for e in events] == [("a", 18), ("b", 34)]


def test_invalid_utf8_and_lone_surrogates_are_replaced() -> None:
    parser = JsonParser(source="s", path="p")
    bad_bytes, lone = parser.feed([b'{"msg": "caf\xe9"}', b'{"msg": "\\ud83d x"}'], [16, 36])
    assert bad_bytes.message == "caf\ufffd"
    assert lone.message == "\ufffd x"
    lone.message.encode("utf-8")  # can be sent


def test_str_lines_are_accepted_too() -> None:
    parser = JsonParser(source="s", path="p")
    [event] = parser.feed(['{"level": "error", "msg": "x"}'], [31])
    assert (event.level, event.message) == (Level.ERROR, "x")


def test_record_and_context_merge_in_order_with_ids_as_text() -> None:
    line = ('{"message": "m", "ids": [123456789012345678], "http": {"status": 1}, '
            '"context": {"user": 234567890123456789, "n": 2}}\n')
    fields = one("json", line).fields
    assert list(fields.items()) == [("ids", ["123456789012345678"]), ("http.status", 1),
                                    ("user", "234567890123456789"), ("n", 2)]
    line = '{"message": "m", "a": 1, "context": {"b": 234567890123456789}}\n'
    assert list(one("json", line).fields.items()) == [("a", 1), ("b", "234567890123456789")]


def test_a_batch_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    lines = [b'{"level": "info", "msg": "ok"}', b"{not json", b"[1]", b'{"n": 1e999}']
    parser = JsonParser(source="s", path="p")
    assert gc.isenabled()
    assert len(parser.feed(lines, [31, 41, 45, 57])) == 4
    assert gc.isenabled()
    gc.disable()
    try:
        assert len(parser.feed(lines, [88, 98, 102, 114])) == 4
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_json_parser_holds_nothing() -> None:
    parser = make_parser("json", source="s", path="p")
    parser.feed(*split(MEMBER_JOIN))
    assert parser.buffered_from is None
    assert parser.flush() == []


# -- text: Python logging with tracebacks -------------------------------------------------

BASIC_WITH_CARETS = """\
INFO:statsbot:Heartbeat updated successfully
ERROR:statsbot.monitoring:Failed to update heartbeat
Traceback (most recent call last):
  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in update_heartbeat
    embed = await self.create_heartbeat_embed()
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 301, in create_embed
    ratio = stats["members"] / stats["guilds"]
            ~~~~~~~~~~~~~~~~~^~~~~~~~~~~~~~~~~
ZeroDivisionError: division by zero
WARNING:statsbot:High memory usage: 84.12MB (threshold: 80.00MB)
"""


def test_python_default_format_with_a_311_traceback() -> None:
    lines, ends = split(BASIC_WITH_CARETS)
    parser = TextParser(source="s", path="p")
    events = parser.feed(lines, ends)
    assert [(e.level, e.logger) for e in events] == [
        (Level.INFO, "statsbot"), (Level.ERROR, "statsbot.monitoring")]
    info, error = events
    assert info.message == "Heartbeat updated successfully"
    assert info.offset == ends[0]
    assert error.message == "Failed to update heartbeat"
    assert error.exception == "\n".join(BASIC_WITH_CARETS.splitlines()[2:10])
    assert error.offset == ends[9]
    assert error.kind == "error"
    # the warning may still get a traceback: it is held, from the end of the line before it
    assert parser.buffered_from == ends[9]
    [warning] = parser.flush()
    assert warning.level == Level.WARNING
    assert warning.offset == ends[10]
    assert parser.buffered_from is None
    assert parser.flush() == []


CHAINED = """\
2025-07-15 20:42:07,123 - statsbot.db - ERROR - Failed to save stats
Traceback (most recent call last):
  File "/opt/StatsBot/src/db.py", line 41, in save
    self.conn.execute(sql, row)
sqlite3.OperationalError: database is locked

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/StatsBot/src/stats.py", line 88, in flush
    await self.db.save(batch)
  File "/opt/StatsBot/src/db.py", line 43, in save
    raise StorageError("could not save") from exc
statsbot.errors.StorageError: could not save

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/StatsBot/src/stats.py", line 90, in flush
    self.log.exception("Failed to save stats")
KeyError: 'batch'

2025-07-15 20:42:08,000 - statsbot - INFO - recovered
"""


def test_chained_exceptions_stay_one_record_with_their_blank_lines() -> None:
    error, recovered = parse("text", CHAINED)
    source_lines = CHAINED.splitlines()
    assert error.ts == datetime(2025, 7, 15, 20, 42, 7, 123000, tzinfo=UTC)
    assert (error.level, error.logger, error.message) == (Level.ERROR, "statsbot.db",
                                                          "Failed to save stats")
    assert error.exception == "\n".join(source_lines[1:21])
    assert error.exception.endswith("KeyError: 'batch'")
    _, ends = split(CHAINED)
    assert error.offset == ends[20]  # the trailing blank line is not part of it
    assert (recovered.level, recovered.message, recovered.offset) == (Level.INFO, "recovered",
                                                                      ends[22])


def test_exception_group_lines_join_the_record() -> None:
    text = """\
ERROR:bot:tasks failed
  + Exception Group Traceback (most recent call last):
  |   File "bot.py", line 9, in main
  |     async with asyncio.TaskGroup() as tg:
  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | ValueError: one
    +------------------------------------
  +---------------- 2 ----------------
    | KeyError: 'two'
    +====================================
INFO:bot:next
"""
    error, nxt = parse("text", text)
    assert error.exception is not None
    header = "  + Exception Group Traceback (most recent call last):"
    assert error.exception.splitlines()[0] == header
    assert len(error.exception.splitlines()) == 10
    assert nxt.message == "next"


@pytest.mark.parametrize(("line", "level", "logger", "message"), [
    ("2025-07-16 12:00:00,123 - bot.db - ERROR - query failed", Level.ERROR, "bot.db",
     "query failed"),
    ("2025-07-15 20:42:07,123 ERROR bot.db: query failed", Level.ERROR, "bot.db",
     "query failed"),
    ("2025-07-15 20:42:07,123 WARNING query slow", Level.WARNING, None, "query slow"),
    ("2025-07-15 20:42:07.123 | CRITICAL | bot:main:12 - dying", Level.CRITICAL, None,
     "bot:main:12 - dying"),
    ("2025-07-15T20:42:07Z [ERROR] bracketed", Level.ERROR, None, "bracketed"),
    ("2025-07-15 20:42:07 started", Level.INFO, None, "started"),
    ("[2025-07-15 20:42:07] [INFO] [monitoring] Heartbeat updated successfully (cpu=0.3%)",
     Level.INFO, "monitoring", "Heartbeat updated successfully"),
    ("[2025-07-15 20:50:00] [CRITICAL] Maximum reconnection attempts reached, bot will exit "
     "(max_attempts=20)", Level.CRITICAL, None,
     "Maximum reconnection attempts reached, bot will exit"),
    ("[ERROR] plain bracket", Level.ERROR, None, "plain bracket"),
    ("CRITICAL:root:token invalid", Level.CRITICAL, "root", "token invalid"),
    ("just a line", Level.INFO, None, "just a line"),
    ("Note:this:is not a level", Level.INFO, None, "Note:this:is not a level"),
    ("[monitoring] not a level", Level.INFO, None, "[monitoring] not a level"),
])
def test_text_prefixes(line: str, level: Level, logger: str | None, message: str) -> None:
    event = one("text", line + "\n")
    assert (event.level, event.logger, event.message) == (level, logger, message)


def test_structured_logger_text_times_are_utc() -> None:
    event = one("text", "[2025-07-15 20:42:07] [WARNING] High memory usage: 84.12MB\n")
    assert event.ts == datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)


def test_tree_log_text_joins_items_frames_and_unprefixed_source_lines() -> None:
    text = (
        "[07/15 03:42 PM EST] [INFO] \n"  # a blank record: the trailing space is real
        "[07/15 04:42 PM EST] [ERROR] ❌ ERROR: Failed to update heartbeat\n"
        '[07/15 04:42 PM EST] [ERROR]    File "/opt/StatsBot/src/services/monitoring.py", '
        "line 265, in x\n"
        "    embed = await self.create_heartbeat_embed()\n"
        "[07/15 05:00 PM EST] [CRITICAL] ❌ CRITICAL: Invalid bot token\n"
    )
    error, critical = parse("tree", text)  # the blank record says nothing: dropped
    assert error.message == "❌ ERROR: Failed to update heartbeat"
    assert error.exception is not None
    assert error.exception.endswith("    embed = await self.create_heartbeat_embed()")
    assert error.fields["raw_time"] == "07/15 04:42 PM EST"
    assert error.ts == datetime(2025, 7, 15, 16, 42, tzinfo=timezone(timedelta(hours=-5)))
    assert critical.level == Level.CRITICAL


def test_plain_lines_and_indented_continuations() -> None:
    text = "[03:42:09 PM EDT] 🤖 Bot Ready\n  ├─ Bot ID: 1234567890\n  └─ Latency: 52ms\n\nnext\n"
    ready, nxt = parse("text", text)
    assert ready.level == Level.INFO
    assert ready.message == "🤖 Bot Ready"
    assert ready.fields["bot_id"] == "1234567890"
    assert ready.fields["latency"] == "52ms"
    assert nxt.message == "next"
    indented = one("text", "INFO:bot:payload was\n    line one\n    line two\n")
    assert indented.message == "payload was\n    line one\n    line two"


def test_a_traceback_with_no_record_before_it_is_an_error_of_its_own() -> None:
    text = ("Traceback (most recent call last):\n  File \"main.py\", line 3, in <module>\n"
            "RuntimeError: boom\n")
    event = one("text", text)
    assert (event.level, event.message, event.kind) == (Level.ERROR, "RuntimeError: boom",
                                                        "error")
    assert event.exception == text.rstrip("\n")


def test_a_type_like_line_outside_a_traceback_starts_a_record() -> None:
    first, second = parse("text", "INFO:bot:a\nValueError: not in a traceback\n")
    assert second.message == "ValueError: not in a traceback"
    assert first.exception is None


def test_a_record_start_ends_a_cut_traceback() -> None:
    text = "ERROR:bot:a\nTraceback (most recent call last):\n  File \"x\"\nERROR:bot:b\n"
    first, second = parse("text", text)
    assert first.exception == 'Traceback (most recent call last):\n  File "x"'
    assert (second.level, second.message) == (Level.ERROR, "b")


def test_text_holding_across_batches_and_from_a_checkpoint() -> None:
    lines, ends = split(BASIC_WITH_CARETS, base=1000)  # the tailer resumed at offset 1000
    parser = TextParser(source="s", path="p")
    assert parser.feed(lines[:1], ends[:1]) == []
    assert parser.buffered_from == 1000
    [info] = parser.feed(lines[1:4], ends[1:4])
    assert info.offset == ends[0]
    assert parser.buffered_from == ends[0]  # the error record, still growing
    assert parser.feed(lines[4:10], ends[4:10]) == []
    assert parser.buffered_from == ends[0]
    [error] = parser.feed(lines[10:], ends[10:])
    assert error.offset == ends[9]
    assert error.exception is not None and error.exception.endswith("division by zero")
    assert parser.buffered_from == ends[9]


def test_a_runaway_record_is_emitted_at_the_line_cap() -> None:
    text = "ERROR:bot:x\n" + "  more\n" * (MAX_RECORD_LINES + 5)
    events = parse("text", text)
    assert len(events) == 2
    assert len(events[0].message.splitlines()) == MAX_RECORD_LINES
    assert events[0].offset < events[1].offset


def test_text_lines_with_invalid_utf8_and_crlf() -> None:
    parser = TextParser(source="s", path="p")
    [event] = parser.feed([b"ERROR:bot:caf\xe9\r"], [18]) + parser.flush()
    assert event.message == "caf\ufffd"


# -- auto ---------------------------------------------------------------------------------

def test_auto_keeps_file_order_across_json_and_text() -> None:
    text = ("ERROR:bot:failed\nTraceback (most recent call last):\n  File \"x.py\"\n"
            "ValueError: v\n" + MEMBER_JOIN + "[WARNING] plain\n" + HEARTBEAT_FAILED)
    lines, ends = split(text)
    parser = AutoParser(source="s", path="p")
    events = parser.feed(lines, ends)
    assert [e.message for e in events] == ["failed", "Member join recorded: alice#0",
                                           "plain", "Failed to update heartbeat"]
    assert [e.offset for e in events] == [ends[3], ends[4], ends[5], ends[6]]
    assert events[0].exception == "\n".join(text.splitlines()[1:4])
    assert events[1].fields["member_id"] == "123456789012345678"
    assert parser.buffered_from is None


def test_auto_emits_the_held_text_record_before_a_batch_of_json() -> None:
    parser = AutoParser(source="s", path="p")
    assert parser.feed([b"ERROR:bot:held"], [15]) == []
    assert parser.buffered_from == 0
    lines, ends = split(MEMBER_JOIN + HEARTBEAT_FAILED, base=15)
    events = parser.feed(lines, ends)
    assert [(e.message, e.offset) for e in events] == [
        ("held", 15), ("Member join recorded: alice#0", ends[0]),
        ("Failed to update heartbeat", ends[1])]
    assert parser.buffered_from is None
    assert parser.feed([b"after"], [ends[1] + 6]) == []
    assert parser.buffered_from == ends[1]
    assert [(e.message, e.offset) for e in parser.flush()] == [("after", ends[1] + 6)]


def test_auto_holds_text_from_where_it_starts_after_json() -> None:
    parser = AutoParser(source="s", path="p")
    lines, ends = split(MEMBER_JOIN + "INFO:bot:text\n")
    [json_event] = parser.feed(lines, ends)
    assert json_event.offset == ends[0]
    assert parser.buffered_from == ends[0]
    [text_event] = parser.flush()
    assert (text_event.message, text_event.offset) == ("text", ends[1])


def test_auto_brace_lines_that_are_not_json_are_flagged() -> None:
    event = one("auto", "{not json at all\n")
    assert event.fields["parse_error"].startswith("invalid JSON")


def test_auto_indented_json_is_text_continuation() -> None:
    event = one("auto", 'ERROR:bot:bad payload\n    {"a": 1}\n')
    assert event.message == 'bad payload\n    {"a": 1}'


# -- the package surface ------------------------------------------------------------------

def test_make_parser_formats() -> None:
    assert isinstance(make_parser("json", source="s", path="p"), JsonParser)
    assert isinstance(make_parser("text", source="s", path="p"), TextParser)
    assert isinstance(make_parser("auto", source="s", path="p"), AutoParser)
    assert isinstance(make_parser("tree", source="s", path="p"), TreeParser)
    tree = make_parser("tree", source="s", path="p")
    assert tree.feed([b"[07/15 03:42 PM EST] [ERROR] x"], [31]) == []
    assert [e.level for e in tree.flush()] == [Level.ERROR]
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        make_parser("xml", source="s", path="p")


def test_each_file_gets_its_own_parser() -> None:
    first = make_parser("text", source="s", path="a")
    second = make_parser("text", source="s", path="b")
    first.feed([b"INFO:x:held"], [12])
    assert first.buffered_from == 0 and second.buffered_from is None


def test_classify_is_the_one_kind_hook() -> None:
    assert classify(Event(ts=None, level=Level.CRITICAL, message="x")) == "error"
    assert classify(Event(ts=None, level=Level.INFO, message="x", exception="E")) == "error"
    assert classify(Event(ts=None, level=Level.WARNING, message="x")) == "log"


def test_a_json_event_sets_every_slot_an_event_has() -> None:
    for event in parse("json", MEMBER_JOIN + HEARTBEAT_FAILED):
        copy = Event(**{f.name: getattr(event, f.name) for f in dataclasses.fields(Event)})
        assert copy.to_record() == event.to_record()
        assert event.ack is None and event.fingerprint is None


def test_json_fields_and_time_wait_until_read() -> None:
    event = one("json", MEMBER_JOIN)
    assert isinstance(event, json_module.JsonEvent) and event.pending
    assert (event.level, event.message, event.kind, event.logger, event.exception) == (
        Level.INFO, "Member join recorded: alice#0", "member", "StatsTracker", None)
    assert event.pending  # routing reads all of those: still nothing worked out
    assert event.ts == datetime(2025, 7, 15, 20, 44, 3, 120044, tzinfo=UTC)
    assert not event.pending
    assert event.fields == {"member_id": "123456789012345678", "member_name": "alice#0",
                            "date": "2025-07-15", "service": "StatsTracker",
                            "event_type": "join"}


def test_fields_set_on_a_pending_json_event_stay() -> None:
    event = one("json", MEMBER_JOIN)
    event.fields = {"only": 1}
    assert event.ts is not None and event.fields == {"only": 1}
    again = one("json", MEMBER_JOIN)
    again.ts = None
    assert again.ts is None and again.fields["member_id"] == "123456789012345678"


def test_a_replaced_json_event_is_a_settled_copy() -> None:
    event = one("json", HEARTBEAT_FAILED)
    copy = dataclasses.replace(event, message="changed")
    assert not copy.pending and copy.message == "changed"
    assert copy.fields == event.fields and copy.ts == event.ts
    assert copy == dataclasses.replace(event, message="changed")
    assert copy != event


def test_an_integer_orjson_reads_as_a_float_is_read_again_when_fields_are() -> None:
    event = one("json", '{"msg": "m", "guild": {"id": 18446744073709551616}, "n": 1}\n')
    assert event.pending and event.message == "m"
    assert event.fields == {"guild.id": "18446744073709551616", "n": 1}


def test_the_continuation_rules_directly() -> None:
    role, state = multiline.continuation("Traceback (most recent call last):", multiline.OUTSIDE)
    assert (role, state) == (multiline.EXCEPTION, multiline.IN_TRACEBACK)
    assert multiline.continuation("   ", state) == (multiline.BLANK, state)
    assert multiline.continuation("Stack (most recent call last):", multiline.OUTSIDE)[0] == (
        multiline.MESSAGE)


@pytest.mark.parametrize("module", [
    logship.parse, common, json_module, text_module, auto_module, multiline,
    kinds, clock, structured, tree,
])
def test_docstring_examples(module: object) -> None:
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert failures == 0
