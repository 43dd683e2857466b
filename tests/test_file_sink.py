"""`type = "file"`: routed events as JSON lines in a file, redacted like everything sent,
appended across the file's rotation; the second sink type, through the same worker."""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path

import orjson
import pytest
import tomli_w

from logship.config import ConfigError, parse_config
from logship.emulator.server import FakeDiscord
from logship.event import Event, Level
from logship.sinks import build_worker
from logship.sinks.base import SinkContext
from logship.sinks.file import FileOptions
from logship.sinks.worker import Item
from logship.spool.store import MemorySpool
from logship.tail.checkpoint import FileProgress
from tests.e2e import WAIT, Bot, Logship, write_config


def lines_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


async def until(predicate: object, timeout: float = WAIT) -> None:
    async def poll() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def test_options_are_the_file_type_s_own(tmp_path: Path) -> None:
    data = {"daemon": {"state_dir": str(tmp_path)},
            "sinks": {"debug": {"type": "file", "path": "out/debug.jsonl"}}}
    config = parse_config(data, tmp_path / "config.toml", {})
    assert config.sinks["debug"].options == FileOptions(tmp_path / "out" / "debug.jsonl")
    data["sinks"]["debug"]["url"] = "https://discord.com/api/webhooks/1/x"
    with pytest.raises(ConfigError, match=r"sinks\.debug\.url: unknown key"):
        parse_config(data, tmp_path / "config.toml", {})
    with pytest.raises(ConfigError, match=r"sinks\.debug\.path: is required"):
        parse_config({"sinks": {"debug": {"type": "file"}}}, tmp_path / "c.toml", {})


async def test_a_worker_appends_across_a_rotation(tmp_path: Path) -> None:
    data = {"daemon": {"state_dir": str(tmp_path)},
            "sinks": {"debug": {"type": "file", "path": str(tmp_path / "debug.jsonl")}}}
    config = parse_config(data, tmp_path / "config.toml", {})
    worker = build_worker(config.sinks["debug"], SinkContext(config), MemorySpool())
    task = asyncio.create_task(worker.run())
    progress = FileProgress(0)
    try:
        for n in range(1, 4):
            if n == 3:  # logrotate's rename + create
                os.rename(tmp_path / "debug.jsonl", tmp_path / "debug.jsonl.1")
            event = Event(None, Level.ERROR, f"#{n}", offset=n)
            event.ack = progress.track(n, 1)
            await worker.put(Item(event))
            assert await worker.drain(timeout=WAIT)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        worker.sink.close()
    assert [r["message"] for r in lines_of(tmp_path / "debug.jsonl.1")] == ["#1", "#2"]
    assert [r["message"] for r in lines_of(tmp_path / "debug.jsonl")] == ["#3"]
    assert progress.committed == 3  # each delivered: the checkpoint passed them


@pytest.mark.e2e
async def test_the_daemon_routes_events_to_a_file_and_reads_back(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    config = write_config(tmp_path, fake, routes=[
        {"name": "errors", "min_level": "error", "sinks": ["errors", "debug"]}])
    data = tomllib.loads(config.read_text())
    data["sinks"]["debug"] = {"type": "file", "path": "debug/errors.jsonl"}
    config.write_text(tomli_w.dumps(data))
    out = tmp_path / "debug" / "errors.jsonl"
    daemon = await Logship("run", "--config", str(config)).start()
    try:
        await daemon.wait_until_logged("running:")
        bot = Bot(tmp_path)
        bot.log("ERROR", "login failed token=hunter22 #1")
        bot.log("INFO", "not routed #2")
        await until(lambda: len(lines_of(out)) == 1)
        os.rename(out, out.with_name("errors.jsonl.1"))  # rotated while logship runs
        bot.log("CRITICAL", "database gone #3")
        await until(lambda: len(lines_of(out)) == 1)
        assert (await daemon.stop())[0] == 0
    finally:
        daemon.kill()
    (first,) = lines_of(out.with_name("errors.jsonl.1"))
    assert first["level"] == "ERROR" and "hunter22" not in str(first)
    assert "token=[redacted:secret_value]" in str(first["message"])
    (second,) = lines_of(out)
    assert second["message"] == "database gone #3" and second["source"] == "bot"
