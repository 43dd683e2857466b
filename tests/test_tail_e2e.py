"""End to end: how the real daemon finds and follows files across restarts (relative
globs, files that appear while it is stopped, copytruncate while stopped or just before
a crash)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from logship.fake_discord import FakeDiscord
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, write_config

pytestmark = pytest.mark.e2e

ERRORS = WEBHOOK_IDS["errors"]


def edit_sources(config: Path, **options: object) -> None:
    """Change the options of the config's one source."""
    data = tomllib.loads(config.read_text())
    data["sources"][0].update(options)
    config.write_text(tomli_w.dumps(data))


async def test_a_relative_glob_run_from_the_configs_folder_is_followed_live(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    edit_sources(write_config(tmp_path, fake), paths=["logs/*/logs.json"])
    bot = Bot(tmp_path)
    bot.log("ERROR", "before start #1")
    first = await Logship("run", "--config", "config.toml", cwd=tmp_path).start()
    await first.wait_until_logged("running:")
    await inbox.wait_for(lambda: 1 in inbox.ids(ERRORS))
    bot.log("ERROR", "appended while running #2")
    await inbox.wait_for(lambda: 2 in inbox.ids(ERRORS))
    assert (await first.stop())[0] == 0

    second = await Logship("run", "--config", "config.toml", cwd=tmp_path).start()
    await second.wait_until_logged("running:")
    bot.log("ERROR", "after the restart #3")
    await inbox.wait_for(lambda: 3 in inbox.ids(ERRORS))
    status, _, stderr = await second.stop()
    assert status == 0
    assert "renamed from" not in stderr, stderr
    assert f"following {tmp_path}/logs/2025-07-16/logs.json at checkpoint" in stderr, stderr
    assert sorted(inbox.ids(ERRORS).elements()) == [1, 2, 3]
