"""The delivery history: journal round trip, rotation by size, filters, torn lines, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from logship.cli import app
from logship.event import Event, Level
from logship.observe.history import (
    HISTORY_NAME,
    HistoryEntry,
    HistoryJournal,
    _lines_backwards,
    describe,
    entries_json,
    history_files,
    read_history,
    tail,
)

HOOK = "http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token"
CONFIG = f"""
[daemon]
state_dir = "state"

[[sources]]
name = "bot"
paths = ["logs/*.log"]
format = "json"

[sinks.errors]
url = "{HOOK}"

[[routes]]
name = "errors"
min_level = "error"
sinks = ["errors"]
"""


def entry(n: int, *, sink: str = "errors", outcome: str = "delivered", minute: int = 0,
          error: str | None = None) -> HistoryEntry:
    delivered = outcome == "delivered"
    return HistoryEntry(
        at=f"2025-07-16T12:{minute:02d}:{n % 60:02d}.000Z", sink=sink, route="errors",
        source="bot", path="/var/log/bot.log", offset=n, message_id=str(1000 + n)
        if delivered else None, status=200 if delivered else 503,
        attempts=1 if delivered else 3, outcome=outcome, error=error)


def offsets(entries: list[HistoryEntry]) -> list[int]:
    return [e.offset for e in entries]


def write(state: Path, entries: list[HistoryEntry], **kwargs: int) -> HistoryJournal:
    journal = HistoryJournal(state, **kwargs)
    for one in entries:
        assert journal.record([one])
    journal.close()
    return journal


def test_record_and_read_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state"  # created on the first record
    written = [entry(1), entry(2, outcome="spooled", error="HTTP 503"), entry(3, outcome="dead")]
    journal = HistoryJournal(state)
    assert journal.record(written[:2]) and journal.record(written[2:]) and journal.record([])
    assert read_history(state) == written  # readable while the journal is open
    journal.close()
    assert (state / HISTORY_NAME).read_bytes().count(b"\n") == 3
    assert (state / HISTORY_NAME).stat().st_mode & 0o777 == 0o600
    assert read_history(state) == written


def test_for_event_takes_the_events_place_and_masks_tokens(tmp_path: Path) -> None:
    event = Event(ts=None, level=Level.ERROR, message="boom", source="bot",
                  path="/var/log/bot.log", offset=4321)
    made = HistoryEntry.for_event(event, sink="errors", route=None, outcome="spooled",
                                  status=0, attempts=2, error=f"InvalidURL: {HOOK}",
                                  at=datetime(2025, 7, 16, 12, tzinfo=UTC))
    assert (made.at, made.source, made.path, made.offset) == (
        "2025-07-16T12:00:00.000Z", "bot", "/var/log/bot.log", 4321)
    assert made.error == "InvalidURL: http://127.0.0.1:9/api/webhooks/123456789012345678/****"
    write(tmp_path, [made])
    assert b"secret-token" not in (tmp_path / HISTORY_NAME).read_bytes()
    assert entries_json(read_history(tmp_path)).startswith(b'[{"at":"2025-07-16T12:00:00.000Z"')


def test_a_write_that_fails_is_logged_once_and_never_raises(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "state").write_text("a file, not a folder")
    journal = HistoryJournal(tmp_path / "state")
    assert not journal.record([entry(1)]) and not journal.record([entry(2)])
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
    (tmp_path / "state").unlink()
    assert journal.record([entry(3)])
    journal.close()
    assert offsets(read_history(tmp_path / "state")) == [3]


def test_rotation_keeps_at_most_keep_files_and_reads_span_them_in_order(tmp_path: Path) -> None:
    size = len(entry(10).to_json()) + 1  # offsets 10-99: one size
    write(tmp_path, [entry(n) for n in range(10, 50)], max_bytes=4 * size, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["history.1.jsonl", "history.2.jsonl", "history.jsonl"]
    assert history_files(tmp_path) == [tmp_path / n for n in
                                       ("history.2.jsonl", "history.1.jsonl", "history.jsonl")]
    assert all(p.stat().st_size <= 4 * size for p in tmp_path.iterdir())
    assert offsets(read_history(tmp_path)) == list(range(38, 50))  # 3 files of 4, in order


def test_rotation_after_a_restart_and_a_smaller_keep(tmp_path: Path) -> None:
    size = len(entry(10).to_json()) + 1  # offsets 10-99: one size
    write(tmp_path, [entry(n) for n in range(10, 30)], max_bytes=2 * size, keep=4)
    assert len(list(tmp_path.iterdir())) == 5
    write(tmp_path, [entry(n) for n in range(30, 33)], max_bytes=2 * size, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.1.jsonl", "history.jsonl"]
    assert offsets(read_history(tmp_path)) == [30, 31, 32]


def test_keep_zero_starts_over(tmp_path: Path) -> None:
    size = len(entry(10).to_json()) + 1  # offsets 10-99: one size
    write(tmp_path, [entry(n) for n in range(10, 15)], max_bytes=2 * size, keep=0)
    assert [p.name for p in tmp_path.iterdir()] == [HISTORY_NAME]
    assert offsets(read_history(tmp_path)) == [14]


def test_filters_sink_since_failed_limit(tmp_path: Path) -> None:
    write(tmp_path, [
        entry(1, minute=0),
        entry(2, sink="alerts", minute=1),
        entry(3, outcome="spooled", minute=2),
        entry(4, outcome="dead", sink="alerts", minute=3),
        entry(5, minute=4),
    ])
    assert offsets(read_history(tmp_path, sink="alerts")) == [2, 4]
    assert offsets(read_history(tmp_path, failed=True)) == [3, 4]
    since = datetime(2025, 7, 16, 12, 2, tzinfo=UTC)
    assert offsets(read_history(tmp_path, since=since)) == [3, 4, 5]
    assert offsets(read_history(tmp_path, since=since.replace(tzinfo=None))) == [3, 4, 5]
    assert offsets(read_history(tmp_path, limit=2)) == [4, 5]  # the newest, newest last
    assert offsets(read_history(tmp_path, sink="errors", failed=True, limit=5)) == [3]
    assert read_history(tmp_path, limit=0) == []


def test_torn_last_line_and_unreadable_lines_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, [entry(1), entry(2)])
    path = tmp_path / HISTORY_NAME
    with path.open("ab") as f:
        f.write(b'{"not": "an entry"}\n[1, 2]\n' + entry(3).to_json() + b"\n"
                + entry(4).to_json()[:30])  # a crash mid-write
    assert offsets(read_history(tmp_path)) == [1, 2, 3]
    assert offsets(tail(tmp_path, 1)) == [3]
    write(tmp_path, [entry(5)])  # reopening cuts the torn line off, the new one is whole
    assert path.read_bytes().endswith(b"\n")
    assert offsets(read_history(tmp_path)) == [1, 2, 3, 5]


def test_a_file_that_is_only_a_torn_line(tmp_path: Path) -> None:
    (tmp_path / HISTORY_NAME).write_bytes(entry(1).to_json()[:40])
    assert read_history(tmp_path) == []


@pytest.mark.parametrize("block", [1, 2, 7, 64, 1 << 16])
def test_lines_backwards_across_block_boundaries(tmp_path: Path, block: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"first\n\nsecond line\nx\n" + b"y" * 20 + b"\ntorn")
    assert list(_lines_backwards(path, block)) == [b"y" * 20, b"x", b"second line", b"first"]
    path.write_bytes(b"only\n")
    assert list(_lines_backwards(path, block)) == [b"only"]


def test_tail_spans_a_rotation(tmp_path: Path) -> None:
    size = len(entry(10).to_json()) + 1  # offsets 10-99: one size
    write(tmp_path, [entry(n) for n in range(10, 20)], max_bytes=3 * size, keep=3)
    assert [p.name for p in history_files(tmp_path)][-2:] == ["history.1.jsonl", HISTORY_NAME]
    assert offsets(tail(tmp_path, 1)) == [19]  # files of 3: the current one holds only 19
    assert offsets(tail(tmp_path, 5)) == [15, 16, 17, 18, 19]  # then history.1, history.2
    assert offsets(tail(tmp_path, 100)) == list(range(10, 20))
    assert tail(tmp_path / "missing", 5) == []


def test_describe_names_no_secrets() -> None:
    (line,) = describe([entry(7, outcome="spooled", error=f"ClientError at {HOOK}")])
    assert line.startswith("2025-07-16T12:00:07Z errors route=errors 503 spooled bot ")
    assert line.endswith("/var/log/bot.log:7 (3 attempts): ClientError at "
                         "http://127.0.0.1:9/api/webhooks/123456789012345678/****")


# -- the command ------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["history", "--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_entries(config: Path) -> None:
    write(config.parent / "state", [entry(n, outcome="dead" if n == 3 else "delivered",
                                          minute=n) for n in range(1, 6)])
    code, out, _ = run(config)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    assert lines[0] == ("2025-07-16T12:01:01Z errors route=errors 200 delivered msg 1001 bot "
                        "/var/log/bot.log:1 (1 attempt)")
    assert offsets_in(run(config, "--failed")[1]) == [3]
    assert offsets_in(run(config, "--limit", "2")[1]) == [4, 5]
    assert offsets_in(run(config, "--since", "2025-07-16T12:04")[1]) == [4, 5]
    assert offsets_in(run(config, "--sink", "errors", "--limit", "0")[1]) == [1, 2, 3, 4, 5]
    assert "secret-token" not in out


def offsets_in(out: str) -> list[int]:
    return [int(line.split(":")[-1].split(" ")[0]) for line in out.splitlines()]


def test_cli_says_when_nothing_was_recorded(config: Path) -> None:
    journal = config.parent / "state" / HISTORY_NAME
    assert run(config) == (0, f"no deliveries recorded: {journal} does not exist yet (the "
                              "daemon and `logship replay` write it as they send)\n", "")
    write(config.parent / "state", [entry(1)])
    assert run(config, "--sink", "alerts")[1] == (
        "no deliveries to sink alerts among the 1 recorded\n")


def test_cli_says_what_it_filtered_when_nothing_failed(config: Path) -> None:
    write(config.parent / "state", [entry(1), entry(2)])
    assert run(config, "--failed", "--since", "2025-07-16T12:00")[1] == (
        "no failed deliveries since 2025-07-16T12:00 among the 2 recorded\n")
    _, out, err = run(config, "--limit", "1")
    assert offsets_in(out) == [2] and err == "(the last 1 entries; --limit 0 shows all)\n"


def test_a_failure_delivered_since_is_no_longer_failed(config: Path) -> None:
    state = config.parent / "state"
    write(state, [entry(1, outcome="dead", minute=1), entry(2, outcome="spooled", minute=1),
                  entry(1, minute=2)])  # event 1 went out later (a replay, the drain)
    assert offsets_in(run(config, "--failed")[1]) == [2]
    write(state, [entry(2, minute=3)])
    assert run(config, "--failed")[1] == (
        "no failed deliveries among the 4 recorded (2 failed ones were delivered since, by "
        "the spool's drain or `logship replay`)\n")
    assert offsets_in(run(config)[1]) == [1, 2, 1, 2]


def test_entries_say_which_were_sent_by_replay_or_the_drain() -> None:
    replayed = HistoryEntry("2025-07-16T12:00:03.120Z", "errors", "errors", "bot",
                            "/var/log/bot.log", 1234, "1395", 200, 1, "delivered", via="replay")
    assert HistoryEntry.from_json(orjson.loads(replayed.to_json())) == replayed
    assert describe([replayed]) == [
        "2025-07-16T12:00:03Z errors route=errors 200 delivered msg 1395 bot "
        "/var/log/bot.log:1234 (1 attempt, by replay)"]


def test_cli_rejects_a_bad_since(config: Path) -> None:
    code, out, err = run(config, "--since", "yesterday")
    assert code == 2 and out == ""
    assert err == "error: --since: 'yesterday' is neither an ISO time nor an age like 2h\n"
