"""End to end: secrets never leave the host, ids follow each sink's privacy setting,
and no log text pings anyone."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from logship.emulator.server import FakeDiscord
from tests.e2e import TOKEN, WAIT, WEBHOOK_IDS, Bot, Inbox, Logship, run_cli, write_config

pytestmark = pytest.mark.e2e

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
HOOK_TOKEN = "w3bh00k-t0k3n-abcdefghijklmnopqrstuvwxyz0123456789"
MEMBER_ID = "123456789012345678"


async def test_secrets_are_redacted_and_member_ids_hashed(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    secret = tmp_path / "id-key"
    secret.write_text("a-long-enough-secret-for-hmac-keys\n")
    config = write_config(tmp_path, fake)
    config.write_text(config.read_text().replace(
        "[sinks.members]", f'[sinks.members]\nprivacy = {{ ids = "hash", usernames = "drop", '
                           f'secret_file = "{secret}" }}'))
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        bot.log("ERROR", f"Login failed with token {BOT_TOKEN} @everyone <@{MEMBER_ID}>",
                password="hunter2", url=f"https://discord.com/api/webhooks/876543210987654321/{HOOK_TOKEN}")
        bot.log("INFO", "Member join recorded: alice#0", member_id=MEMBER_ID,
                username="alice#0")
        await inbox.wait_for(lambda: bool(inbox.embeds(WEBHOOK_IDS["errors"]))
                             and bool(inbox.embeds(WEBHOOK_IDS["members"])))
        sent = "\n".join(str(r.payload) for r in inbox.received)
        for leaked in (BOT_TOKEN, HOOK_TOKEN, "hunter2"):
            assert leaked not in sent
        members = "\n".join(str(r.payload) for r in inbox.received
                             if r.webhook_id == WEBHOOK_IDS["members"])
        assert MEMBER_ID not in members and "alice#0" not in members  # hashed, dropped
        assert "[redacted:discord_token]" in sent
        assert fake.stats.pings == 0
        spooled_or_logged = daemon.stderr
        assert BOT_TOKEN not in spooled_or_logged
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()


async def test_a_route_template_and_its_mention_reach_discord(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake, routes=[
        {"name": "critical", "min_level": "critical", "sinks": ["errors"],
         "mention": "<@&555555555555555555>", "template": "oncall"}])
    config.write_text(config.read_text() + '\n[templates.oncall]\n'
                      'title = "On call: {{ first_line }}"\n')
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        Bot(tmp_path).log("CRITICAL", "database down @everyone")
        await inbox.wait_for(lambda: bool(inbox.received))
        (received,) = inbox.received
        assert received.payload["embeds"][0]["title"].startswith("On call: database down")
        assert "<@&555555555555555555>" in received.payload["content"]
        assert received.payload["allowed_mentions"] == {"parse": [],
                                                        "roles": ["555555555555555555"]}
        assert fake.stats.pings == 1  # the role the route names, and nothing else
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()


# -- the spool: raw only when asked; Discord always redacted ------------------------------

SECRET = "hunter2-is-my-password"


def _spooled(spool_dir: Path) -> str:
    return "\n".join(path.read_text() for path in spool_dir.rglob("*.jsonl"))


@pytest.mark.parametrize("raw", [True, False], ids=["spool-redact-false", "default"])
async def test_the_spool_is_raw_only_when_asked_and_discord_never_sees_a_secret(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, raw: bool
) -> None:
    config = write_config(tmp_path, fake, routes=[
        {"name": "errors", "min_level": "error", "sinks": ["errors"]}])
    if raw:
        config.write_text(config.read_text() + "\n[spool]\nredact = false\n")
    url = fake.webhook_url(webhook_id=WEBHOOK_IDS["errors"], token=TOKEN)
    refusal = {"code": 50035, "message": f"Invalid Form Body for {url} ({TOKEN})"}
    fake.script((400, refusal), (400, refusal))  # refused, then refused plainly: dead
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        Bot(tmp_path).log("ERROR", f"login failed password={SECRET}", token=SECRET)
        await daemon.wait_until_logged("spooled as dead")
        _, _, log = await daemon.stop()
    finally:
        daemon.kill()
    spool_dir = tmp_path / "state" / "spool"
    spooled = _spooled(spool_dir)
    assert (SECRET in spooled) is raw
    assert "[redacted:" in spooled or raw
    assert TOKEN not in spooled and TOKEN not in log  # the refusal quoted the URL
    assert "Invalid Form Body" in spooled and "/****" in spooled
    assert inbox.received == []

    status, out, err = await run_cli("replay", str(spool_dir), "--config", str(config))
    assert status == 0, out + err
    (received,) = inbox.received
    sent = str(received.payload)
    assert SECRET not in sent and "[redacted:" in sent and "login failed" in sent
    assert TOKEN not in out + err


async def test_routes_see_the_log_as_written_and_what_they_send_is_redacted_and_cut(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake, routes=[
        {"name": "logins", "sinks": ["errors"], "match": {"message": f"token={SECRET}"}},
        {"name": "members", "sinks": ["members"], "match": {"message": "^Member"}}])
    config.write_text(config.read_text().replace(
        'start_at = "beginning"', 'start_at = "beginning"\nmax_event_bytes = 4096'))
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        bot.log("INFO", f"login with token={SECRET} worked")
        bot.log("INFO", "Member join recorded: " + "very long name " * 1000)
        await inbox.wait_for(lambda: bool(inbox.embeds(WEBHOOK_IDS["errors"]))
                             and bool(inbox.embeds(WEBHOOK_IDS["members"])))
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    logins = str(inbox.embeds(WEBHOOK_IDS["errors"]))
    assert "login with token=[redacted:secret_value] worked" in logins
    assert SECRET not in logins
    members = str(inbox.embeds(WEBHOOK_IDS["members"]))
    assert "[cut: " in members and len(members) < 8000


# -- no loops: logship's own log is never a source -----------------------------------------


async def _run_with_stderr(log_file: Path, *args: str) -> asyncio.subprocess.Process:
    with log_file.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "logship", *args, stdout=asyncio.subprocess.PIPE,
            stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def _logged(log_file: Path, text: str, process: asyncio.subprocess.Process) -> None:
    """Wait until `text` is in the log file (polling the file: it is a plain file)."""
    async def scan() -> None:
        while text not in log_file.read_text(errors="replace"):
            if process.returncode is not None:
                raise AssertionError(f"exited before logging {text!r}:\n"
                                     f"{log_file.read_text()}")
            await asyncio.sleep(0.05)

    await asyncio.wait_for(scan(), WAIT)


@pytest.mark.parametrize("command", ["run", "check"])
async def test_a_source_that_matches_logships_own_log_is_refused(
    tmp_path: Path, fake: FakeDiscord, command: str
) -> None:
    config = write_config(tmp_path, fake)
    own = tmp_path / "logs" / "2025-07-16" / "logs.json"  # the bot source's glob matches it
    own.parent.mkdir(parents=True)
    process = await _run_with_stderr(own, command, "--config", str(config))
    try:
        await asyncio.wait_for(process.wait(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 2
    logged = own.read_text()
    assert "sources[0].paths" in logged and "own log" in logged and str(own) in logged


async def test_the_own_log_is_never_read_and_failures_are_only_logged(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake, routes=[{"name": "all", "sinks": ["errors"]}])
    config.write_text(config.read_text().replace('format = "json"', 'format = "auto"'))
    own = tmp_path / "logship.log"  # no glob matches it: `run` accepts the config
    fake.script(503, 503)  # delivery failures, logged (and retried)
    process = await _run_with_stderr(own, "run", "--config", str(config))
    try:
        await _logged(own, "running:", process)
        later = tmp_path / "logs" / "2025-07-17" / "logs.json"
        later.parent.mkdir(parents=True)
        own.rename(later)  # now a glob matches logship's own log: it must not be read
        await _logged(later, "it is logship's own log", process)
        Bot(tmp_path).log("ERROR", "the bot's own error")
        await inbox.wait_for(lambda: bool(inbox.received))
        await _logged(later, "retry", process)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0
    logged = later.read_text()
    assert "HTTP 503" in logged  # the failures were logged, locally
    sent = [str(r.payload) for r in inbox.received]
    assert len(sent) == 1 and "the bot's own error" in sent[0]
    assert fake.stats.requests == 3  # two failures and the delivery: nothing else was sent
