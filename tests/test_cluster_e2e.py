"""Three sidecars, one channel: `logship run` three times (three state dirs, one host)
against the Discord emulator with Discord's limits, sharing a real Redis."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from logship.emulator.server import FakeDiscord, Received
from tests.e2e import TOKEN, Bot, Inbox, Logship
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

WEBHOOK = "200000000000000031"
HOSTS = ("shard-a", "shard-b", "shard-c")


def cluster_config(root: Path, fake: FakeDiscord, redis: str, host: str, **route: Any) -> Path:
    folder = root / host
    config = {
        "daemon": {"state_dir": str(folder / "state"), "drain_timeout": 5.0,
                   "checkpoint_interval": 0.2},
        **({"cluster": {"redis": redis, "name": "bot", "host": host}} if redis else {}),
        "sources": [{"name": "bot", "paths": [str(folder / "logs" / "*" / "logs.json")],
                     "format": "json", "start_at": "beginning"}],
        "sinks": {"errors": {"url": fake.webhook_url(webhook_id=WEBHOOK, token=TOKEN)}},
        "routes": [{"name": "errors", "min_level": "error", "sinks": ["errors"], **route}],
    }
    path = folder / "config.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


def delivered_ids(received: list[Received]) -> Counter[int]:
    """Each "#N" that reached the channel, in an embed or an attached file (once per
    message: a digest names it in its line and carries it in its file)."""
    counts: Counter[int] = Counter()
    for message in received:
        text = str(message.payload) + message.attachment_text()
        counts.update(set(int(n) for n in re.findall(r"#(\d+)\b", text)))
    return counts


async def start_all(root: Path, fake: FakeDiscord, redis: str, **route: Any) -> list[Logship]:
    daemons = [await Logship("run", "--config",
                             str(cluster_config(root, fake, redis, host, **route))).start()
               for host in HOSTS]
    for daemon in daemons:
        await daemon.wait_until_logged("running:")
    return daemons


async def stop_all(daemons: list[Logship]) -> None:
    for daemon in daemons:
        try:
            assert (await daemon.stop())[0] == 0, daemon.stderr
        finally:
            daemon.kill()


def write_errors(tmp_path: Path, per_host: int, *, worker: bool = False) -> None:
    """Each host's bot logs `per_host` errors, numbered #1.. across the hosts (with the
    host as their `worker` field, if asked)."""
    for n, host in enumerate(HOSTS):
        bot = Bot(tmp_path / host)
        for i in range(per_host):
            fields = {"worker": host} if worker else {}
            bot.log("ERROR", f"Failed to update heartbeat #{n * per_host + i + 1}", **fields)


async def test_three_sidecars_share_one_budget_in_a_burst(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, redis_server: RedisServer
) -> None:
    daemons = await start_all(tmp_path, fake, redis_server.url)
    try:
        write_errors(tmp_path, 700, worker=True)
        await inbox.wait_for(lambda: len(delivered_ids(inbox.received)) == 2100, timeout=180)
    finally:
        await stop_all(daemons)
    assert fake.stats.rate_limited == 0, fake.stats
    assert set(delivered_ids(inbox.received)) == set(range(1, 2101))


async def test_the_same_error_on_three_hosts_is_one_message_showing_x3(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, redis_server: RedisServer
) -> None:
    daemons = await start_all(tmp_path, fake, redis_server.url, dedupe_window="5m")
    try:
        for host in HOSTS:
            Bot(tmp_path / host).log("ERROR", "Database connection refused")
            await asyncio.sleep(0.3)  # (the first to see it sends it)

        def edited_to_three() -> bool:
            return any("×3 on 3 hosts" in str(m.payload) for m in fake.messages)

        await inbox.wait_for(lambda: bool(inbox.received))
        await asyncio.wait_for(_until(edited_to_three), 20)
    finally:
        await stop_all(daemons)
    assert len(inbox.received) == 1  # one message; the others counted into it


async def test_redis_killed_mid_burst_loses_nothing(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, redis_server: RedisServer
) -> None:
    daemons = await start_all(tmp_path, fake, redis_server.url)
    try:
        write_errors(tmp_path, 300)
        await inbox.wait_for(lambda: len(inbox.received) >= 2)
        redis_server.stop()
        await inbox.wait_for(lambda: len(delivered_ids(inbox.received)) == 900, timeout=240)
        for daemon in daemons:
            await daemon.wait_until_logged("does not answer")
    finally:
        await stop_all(daemons)
    assert set(delivered_ids(inbox.received)) == set(range(1, 901))
    assert fake.stats.rate_limited <= 3, fake.stats  # each host on a third of the limits


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.05)
