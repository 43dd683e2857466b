"""A sink's `api_base`: send through a Discord REST rate-limit proxy (nirn-proxy and its
kin keep Discord's paths), honouring its 429s and 408s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from logship.config import ConfigError, parse_config
from logship.emulator.server import FakeDiscord
from logship.event import Event, Level
from logship.sinks import build_worker
from logship.sinks.base import SinkContext
from logship.sinks.worker import Item
from logship.spool.store import MemorySpool
from tests.e2e import WAIT

HOOK = "https://discord.com/api/webhooks/300000000000000031/the-token"


def config_with(tmp_path: Path, **sink: object) -> object:
    return parse_config({"daemon": {"state_dir": str(tmp_path)},
                         "sinks": {"errors": {"url": HOOK, **sink}}}, tmp_path / "c.toml", {})


def test_api_base_is_a_proxy_that_keeps_discord_s_paths(tmp_path: Path) -> None:
    options = config_with(tmp_path, api_base="http://127.0.0.1:8080/").sinks["errors"].options
    assert options.url.post_url == ("http://127.0.0.1:8080/api/v10/webhooks/"
                                    "300000000000000031/the-token")
    assert options.url.masked == "…/webhooks/300000000000000031/****"  # still a secret
    for bad in ("127.0.0.1:8080", "ftp://proxy", "http://proxy:8080/api"):
        with pytest.raises(ConfigError, match=r"sinks\.errors\.api_base"):
            config_with(tmp_path, api_base=bad)


async def test_the_proxy_s_408_and_429_are_retried(tmp_path: Path, fake: FakeDiscord) -> None:
    config = config_with(tmp_path, api_base=fake.base_url, retry_base=0.0, retry_cap=0.0)
    fake.script(408, (429, {"retry_after": 0.1, "global": False}), 200)
    worker = build_worker(config.sinks["errors"], SinkContext(config), MemorySpool())
    task = asyncio.create_task(worker.run())
    try:
        event = Event(None, Level.ERROR, "through the proxy #1")
        await worker.put(Item(event))
        assert await worker.drain(timeout=WAIT)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert fake.stats.by_status == {408: 1, 429: 1, 200: 1}
    assert worker.stats.delivered == 1 and worker.stats.spooled == 0
    assert worker.stats.retries == 1  # the 408 was retried as it was, not "repaired"
