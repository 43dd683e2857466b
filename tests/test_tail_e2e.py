"""End to end: how the real daemon finds and follows files across restarts (relative
globs, files that appear while it is stopped, copytruncate while stopped or just before
a crash)."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
import tomli_w

from bench.torture import (
    WAIT,
    Collector,
    Daemon,
    Result,
    Writer,
    account,
    emulator,
    ids_in_files,
    logrotate,
    received,
)
from bench.torture import write_config as torture_config
from logship.emulator.server import FakeDiscord
from tests.e2e import WEBHOOK_IDS, Bot, Inbox, Logship, write_config
from tests.tools import needs

pytestmark = pytest.mark.e2e

Start = Callable[..., Awaitable[Logship]]


@pytest.fixture
async def logship() -> AsyncIterator[Start]:
    """`await logship(*args, cwd=...)`: a started `logship` process, killed at the end
    of the test whatever happened."""
    started: list[Logship] = []

    async def start(*args: str, cwd: Path | None = None) -> Logship:
        process = await Logship(*args, cwd=cwd).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()

ERRORS = WEBHOOK_IDS["errors"]


def edit_sources(config: Path, **options: object) -> None:
    """Change the options of the config's one source."""
    data = tomllib.loads(config.read_text())
    data["sources"][0].update(options)
    config.write_text(tomli_w.dumps(data))


async def test_a_relative_glob_run_from_the_configs_folder_is_followed_live(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, logship: Start
) -> None:
    edit_sources(write_config(tmp_path, fake), paths=["logs/*/logs.json"])
    bot = Bot(tmp_path)
    bot.log("ERROR", "before start #1")
    first = await logship("run", "--config", "config.toml", cwd=tmp_path)
    await first.wait_until_logged("running:")
    await inbox.wait_for(lambda: 1 in inbox.ids(ERRORS))
    bot.log("ERROR", "appended while running #2")
    await inbox.wait_for(lambda: 2 in inbox.ids(ERRORS))
    assert (await first.stop())[0] == 0

    second = await logship("run", "--config", "config.toml", cwd=tmp_path)
    await second.wait_until_logged("running:")
    bot.log("ERROR", "after the restart #3")
    await inbox.wait_for(lambda: 3 in inbox.ids(ERRORS))
    status, _, stderr = await second.stop()
    assert status == 0
    assert "renamed from" not in stderr, stderr
    assert f"following {tmp_path}/logs/2025-07-16/logs.json at checkpoint" in stderr, stderr
    assert sorted(inbox.ids(ERRORS).elements()) == [1, 2, 3]


# -- copytruncate and the real daemon: torture's pieces ------------------------------------

needs_logrotate = needs("logrotate")


def logrotate_conf(root: Path, live: Path, *directives: str) -> Path:
    conf = root / "logrotate.conf"
    conf.write_text(f"{live} {{\n    rotate 10\n    missingok\n    ifempty\n    nomail\n"
                    + "".join(f"    {d}\n" for d in directives) + "}\n")
    conf.chmod(0o644)
    return conf


async def rotate(root: Path, conf: Path) -> None:
    status, out = await logrotate(conf, root / "logrotate.status")
    assert status == 0 and not out, out


@needs_logrotate
@pytest.mark.parametrize("directives", [("copytruncate",), ("copytruncate", "compress")],
                         ids=["plain-copy", "compressed-copy"])
async def test_copytruncate_while_stopped_loses_nothing(
    tmp_path: Path, directives: tuple[str, ...]
) -> None:
    logs = tmp_path / "logs"
    live = logs / "logs.log"
    writer = Writer(live, reopen=False)  # keeps its descriptor: what copytruncate is for
    writer.write(20)
    conf = logrotate_conf(tmp_path, live, *directives)
    collector = Collector()
    result = Result("copytruncate while stopped")
    async with emulator(collector) as fake:
        config = torture_config(tmp_path, fake, [live])
        first = await Daemon(config, tmp_path / "logship.log").start()
        try:
            await first.wait_logged("running:")
            assert await collector.wait_all(writer.ids()), first.output()
            assert await first.stop() == 0
            writer.write(30)  # past the checkpoint, only in the copy after the rotation
            await rotate(tmp_path, conf)
            writer.write(5)  # the truncated file's new content
            second = await Daemon(config, tmp_path / "logship.log").start()
            try:
                await second.wait_logged("running:")
                assert await collector.wait_all(writer.ids()), second.output()
                await collector.settle()
                result.exit_status = await second.stop()
            finally:
                await second.kill()
        finally:
            await first.kill()
        result.log = first.output()
    writer.close()
    assert sorted(p.name for p in logs.iterdir())[1].startswith("logs.log.1")
    got = received(tmp_path, result, collector)
    account(result, writer.ids(), ids_in_files(logs), got)
    print(f"\n{result.figure()}")
    assert result.lost == 0 and result.duplicated == 0, result.explain()
    assert result.exit_status == 0, result.explain()


def head_hash(data: bytes) -> str:
    return hashlib.blake2b(data[:256], digest_size=16).hexdigest()


def checkpoint_heads(state: Path, path: Path) -> set[str]:
    """The head hashes checkpoints.json holds for `path` now."""
    try:
        files = orjson.loads((state / "checkpoints.json").read_bytes())["files"]
    except (FileNotFoundError, orjson.JSONDecodeError):
        return set()
    return {f["identity"]["head_hash"] for f in files if f["path"] == str(path)}


async def until(predicate: Callable[[], bool], what: str, daemon: Daemon) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"never {what}:\n{daemon.output()}"
        await asyncio.sleep(0.02)


@needs_logrotate
@pytest.mark.parametrize("directives", [("copytruncate",), ("copytruncate", "compress")],
                         ids=["plain-copy", "compressed-copy"])
async def test_sigkill_right_after_a_copytruncate_loses_nothing_in_flight(
    tmp_path: Path, directives: tuple[str, ...]
) -> None:
    logs = tmp_path / "logs"
    live = logs / "logs.log"
    writer = Writer(live, reopen=False)
    writer.write(20)
    old_head = head_hash(live.read_bytes())
    conf = logrotate_conf(tmp_path, live, *directives)
    collector = Collector()
    result = Result("SIGKILL right after copytruncate")
    async with emulator(collector) as fake:
        # every request fails and is retried for good: what was read stays in flight
        fake.configure(fail_rate=1.0)
        config = torture_config(tmp_path, fake, [live], sink={
            "max_attempts": 1000, "circuit_failures": 1000, "retry_base": 0.05,
            "retry_cap": 0.2})
        first = await Daemon(config, tmp_path / "logship.log").start()
        try:
            await first.wait_logged("running:")
            await until(lambda: fake.stats.requests > 0, "tried to deliver", first)
            await rotate(tmp_path, conf)
            writer.write(5)
            await first.wait_logged("was truncated")
            # the checkpoints saved since the truncation was seen: the new content's
            await until(lambda: checkpoint_heads(tmp_path / "state", live) - {old_head},
                        "saved a checkpoint after the truncation", first)
            await first.kill()
            fake.configure(fail_rate=0.0)
            second = await Daemon(config, tmp_path / "logship.log").start()
            try:
                await second.wait_logged("running:")
                await collector.wait_all(ids_in_files(logs))
                await collector.settle()
                result.exit_status = await second.stop()
            finally:
                await second.kill()
        finally:
            await first.kill()
        result.log = first.output()
    writer.close()
    got = received(tmp_path, result, collector)
    account(result, writer.ids(), ids_in_files(logs), got)
    print(f"\n{result.figure()}")
    assert result.on_disk == writer.written, result.explain()  # the copy holds 1-20
    assert result.lost == 0 and result.duplicated == 0, result.explain()
    assert result.exit_status == 0, result.explain()


async def test_with_start_at_end_a_days_file_created_while_stopped_is_read_whole(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, logship: Start
) -> None:
    config = write_config(tmp_path, fake)
    edit_sources(config, start_at="end")
    bot = Bot(tmp_path)
    bot.log("ERROR", "before the first start #1")  # start_at = "end": not sent
    first = await logship("run", "--config", str(config))
    await first.wait_until_logged("running:")
    bot.log("ERROR", "while running #2")
    await inbox.wait_for(lambda: 2 in inbox.ids(ERRORS))
    assert (await first.stop())[0] == 0

    bot.new_day("2025-07-17").log("ERROR", "the new day's first line, while stopped #3")
    bot.log("ERROR", "the old day's last line, while stopped #4")
    second = await logship("run", "--config", str(config))
    await second.wait_until_logged("running:")
    await inbox.wait_for(lambda: {3, 4} <= set(inbox.ids(ERRORS)))
    assert (await second.stop())[0] == 0
    assert sorted(inbox.ids(ERRORS).elements()) == [2, 3, 4]


async def test_a_kill_in_the_first_second_keeps_where_start_at_end_started(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, logship: Start
) -> None:
    # no periodic checkpoint save before the kill: only the one made at start
    config = write_config(tmp_path, fake, checkpoint_interval=60.0)
    edit_sources(config, start_at="end")
    bot = Bot(tmp_path)
    bot.log("ERROR", "before the first start #1")
    first = await logship("run", "--config", str(config))
    await first.wait_until_logged("running:")
    first.kill()
    await first.wait()

    bot.log("ERROR", "while killed #2")
    bot.new_day("2025-07-17").log("ERROR", "a new day, while killed #3")
    second = await logship("run", "--config", str(config))
    await second.wait_until_logged("running:")
    await inbox.wait_for(lambda: {2, 3} <= set(inbox.ids(ERRORS)))
    assert (await second.stop())[0] == 0
    assert sorted(inbox.ids(ERRORS).elements()) == [2, 3]


def checkpoint_offsets(state: Path) -> dict[str, int]:
    try:
        files = orjson.loads((state / "checkpoints.json").read_bytes())["files"]
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return {f["path"]: f["offset"] for f in files}


@pytest.mark.parametrize("start_at", ["end", "beginning"])
async def test_a_source_removed_by_sighup_and_added_back_resumes_where_it_stopped(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, logship: Start, start_at: str
) -> None:
    config = write_config(tmp_path, fake)
    data = tomllib.loads(config.read_text())
    data["sources"][0]["start_at"] = start_at
    other = tmp_path / "other" / "x.log"
    data["sources"].append({**data["sources"][0], "name": "other",
                            "paths": [str(other.parent / "*.log")]})
    with_bot = tomli_w.dumps(data)
    config.write_text(with_bot)
    data["sources"].pop(0)
    without_bot = tomli_w.dumps(data)
    bot = Bot(tmp_path)
    bot.log("ERROR", "before #1")
    daemon = await logship("run", "--config", str(config))
    await daemon.wait_until_logged("running:")
    bot.log("ERROR", "while followed #2")
    await inbox.wait_for(lambda: 2 in inbox.ids(ERRORS))
    config.write_text(without_bot)
    daemon.signal(signal.SIGHUP)
    await daemon.wait_until_logged("no longer following")
    bot.log("ERROR", "while the source was out of the config #3")
    other.parent.mkdir()
    other.write_text('{"level": "ERROR", "message": "another source #10"}\n')
    await inbox.wait_for(lambda: 10 in inbox.ids(ERRORS))
    # a checkpoint save since (the daemon's, about once a second)
    deadline = time.monotonic() + WAIT
    while checkpoint_offsets(tmp_path / "state").get(str(other)) != other.stat().st_size:
        assert time.monotonic() < deadline, daemon.stderr
        await asyncio.sleep(0.02)
    config.write_text(with_bot)
    daemon.signal(signal.SIGHUP)
    await inbox.wait_for(lambda: 3 in inbox.ids(ERRORS))
    bot.log("ERROR", "after #4")
    await inbox.wait_for(lambda: 4 in inbox.ids(ERRORS))
    assert (await daemon.stop())[0] == 0
    expected = [2, 3, 4, 10] if start_at == "end" else [1, 2, 3, 4, 10]
    assert sorted(inbox.ids(ERRORS).elements()) == expected
