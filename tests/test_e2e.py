"""End to end: the real `logship` process, real files, the emulator over 127.0.0.1."""

from __future__ import annotations

import re
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from logship.emulator import FakeDiscord, payload_errors
from logship.event import Event, Level
from logship.spool.store import Spool, SpoolRecord, segments
from tests.e2e import TOKEN, WEBHOOK_IDS, Bot, Inbox, Logship, run_cli, write_config

pytestmark = pytest.mark.e2e

ERRORS = WEBHOOK_IDS["errors"]
MEMBERS = WEBHOOK_IDS["members"]




@pytest.fixture
async def daemon(tmp_path: Path, fake: FakeDiscord) -> AsyncIterator[Logship]:
    config = write_config(tmp_path, fake)
    process = await Logship("run", "--config", str(config)).start()
    await process.wait_until_logged("running:")
    yield process
    process.kill()


async def test_errors_reach_their_webhook_and_ping_nobody(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, daemon: Logship
) -> None:
    bot = Bot(tmp_path)
    bot.log("INFO", "Heartbeat updated successfully")
    bot.log("ERROR", "Failed to update heartbeat #1", traceback="Traceback ...")
    bot.log("ERROR", "A user quoted @everyone #2", member_id=123456789012345678)
    bot.log("INFO", "Member join recorded: alice#0", member_id="987654321098765432")

    await inbox.wait_for(lambda: len(inbox.embeds(ERRORS)) == 2 and inbox.embeds(MEMBERS))

    assert inbox.ids(ERRORS) == Counter({1: 1, 2: 1})
    assert not any("Heartbeat" in t for t in inbox.titles())
    for received in inbox.received:
        assert received.payload["allowed_mentions"] == {"parse": []}
        assert payload_errors(received.payload) == []
    assert fake.stats.pings == 0
    assert fake.stats.rate_limited == 0
    status, _, stderr = await daemon.stop()
    assert status == 0
    assert TOKEN not in stderr
    assert f"/webhooks/{ERRORS}/****" in stderr
    assert all(re.match(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line)
               for line in stderr.splitlines()), stderr


async def test_run_names_a_source_whose_files_do_not_exist_yet(
    tmp_path: Path, daemon: Logship
) -> None:
    await daemon.wait_until_logged("no file matches")
    status, _, stderr = await daemon.stop()
    assert status == 0
    assert (f"WARNING logship.tail: source bot: no file matches {tmp_path}/logs/*/logs.json "
            f"(nearest existing folder: {tmp_path}); watching for one") in stderr


async def test_a_new_days_folder_is_followed_while_running(
    tmp_path: Path, inbox: Inbox, daemon: Logship
) -> None:
    Bot(tmp_path).log("ERROR", "yesterday #1")
    await inbox.wait_for(lambda: len(inbox.embeds(ERRORS)) == 1)

    Bot(tmp_path, day="2025-07-17").log("ERROR", "today #2")
    await inbox.wait_for(lambda: len(inbox.embeds(ERRORS)) == 2)

    assert inbox.ids(ERRORS) == Counter({1: 1, 2: 1})
    assert (await daemon.stop())[0] == 0


async def test_restart_resumes_exactly_where_it_stopped(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = str(write_config(tmp_path, fake))
    bot = Bot(tmp_path)
    for n in range(1, 6):
        bot.log("ERROR", f"before restart #{n}")
    first = await Logship("run", "--config", config).start()
    await inbox.wait_for(lambda: len(inbox.ids(ERRORS)) == 5)
    status, _, _ = await first.stop()
    assert status == 0
    assert (tmp_path / "state" / "checkpoints.json").exists()

    for n in range(6, 11):  # written while logship is down
        bot.log("ERROR", f"while stopped #{n}")
    second = await Logship("run", "--config", config).start()
    await second.wait_until_logged("running:")
    for n in range(11, 16):
        bot.log("ERROR", f"after restart #{n}")
    await inbox.wait_for(lambda: len(inbox.ids(ERRORS)) >= 15)
    assert (await second.stop())[0] == 0

    assert inbox.ids(ERRORS) == Counter(range(1, 16))  # each once, none missing


async def test_sigterm_drains_what_is_queued(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, daemon: Logship
) -> None:
    bot = Bot(tmp_path)
    for n in range(1, 31):
        bot.log("ERROR", f"burst #{n}")
    await inbox.wait_for(lambda: len(inbox.embeds(ERRORS)) >= 1)
    daemon.signal(signal.SIGTERM)
    status, _, _ = await daemon.wait()
    assert status == 0
    delivered = inbox.ids(ERRORS)
    spooled = Counter(
        int(n)
        for path in segments(tmp_path / "state" / "spool")
        for line in path.read_bytes().splitlines()
        for n in re.findall(r"#(\d+)", orjson.loads(line)["event"]["message"])
    )
    assert delivered + spooled == Counter(range(1, 31))
    assert fake.stats.rate_limited == 0


async def test_check_reports_the_file_key_and_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[daemon]\nstate_dir = "state"\n[sinks.errors]\n'
                      'url = "https://example.com/api/webhooks/1/x"\n')
    status, _, stderr = await run_cli("check", "--config", str(config))
    assert status == 2
    assert str(config) in stderr and "sinks.errors.url" in stderr
    assert "/x" not in stderr  # not even a bad URL's token is printed

    config.write_text("[daemon\n")
    status, _, stderr = await run_cli("check", "--config", str(config))
    assert status == 2 and "line 1" in stderr


async def test_check_prints_the_routing_table(tmp_path: Path, fake: FakeDiscord) -> None:
    status, out, _ = await run_cli("check", "--config", str(write_config(tmp_path, fake)))
    assert status == 0
    assert "errors: level >= error → errors" in out
    assert f"/webhooks/{ERRORS}/****" in out and TOKEN not in out


async def test_test_webhook_reports_success_and_a_deleted_webhook(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = str(write_config(tmp_path, fake))
    status, out, _ = await run_cli("test-webhook", "error", "--config", config)
    assert status == 0, out
    assert "HTTP 200" in out and "X-RateLimit-Remaining" in out
    assert len(inbox.embeds(ERRORS)) == 1 and inbox.received[0].payload["allowed_mentions"] == {
        "parse": []}

    fake.delete_webhook(ERRORS)
    status, out, _ = await run_cli("test-webhook", "errors", "--config", config)
    assert status == 1
    assert "webhook deleted (404, code 10015)" in out


async def test_replay_sends_the_spool_and_empties_it(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = str(write_config(tmp_path, fake))
    spool_dir = tmp_path / "state" / "spool"
    spool = Spool(spool_dir)
    spool.append([
        SpoolRecord(event=Event(ts=None, level=Level.ERROR, message=f"outage #{n}"),
                    sink="errors", reason="fallback", error="503")
        for n in range(1, 13)
    ])
    spool.close()
    status, out, _ = await run_cli("replay", str(spool_dir), "--config", config)
    assert status == 0, out
    assert inbox.ids(ERRORS) == Counter(range(1, 13))
    assert segments(spool_dir) == []


async def test_demo_ships_the_sample_bot(tmp_path: Path) -> None:
    status, out, err = await run_cli("demo", "--duration", "3", "--rate", "30", timeout=60)
    assert status == 0, err
    assert "#errors" in out and "#members" in out
    assert "pings: 0" in out and "rate-limited (429): 0" in out
    for channel in ("errors", "members", "warnings"):  # in events, each accounted for
        assert re.search(rf"^#{channel}: (\d+) events routed: \1 delivered$", out, re.M), out
    assert "spooled at shutdown" not in err
