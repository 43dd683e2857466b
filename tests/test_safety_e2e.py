"""End to end: secrets never leave the host, ids follow each sink's privacy setting,
and no log text pings anyone."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.fake_discord import FakeDiscord
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, write_config

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
