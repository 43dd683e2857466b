"""One daemon per state dir: a second `logship run` on the same state dir must not start
(it would read the same files from the same checkpoints and ship every line again).
The lock is the kernel's (flock), so a kill -9 never leaves it held; `logship replay`
runs beside the daemon."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import tomli_w

from logship.emulator.server import FakeDiscord
from tests.e2e import Bot, Inbox, Logship, run_cli, write_config

pytestmark = pytest.mark.e2e


def second_config(tmp_path: Path, first: Path) -> Path:
    """Another config (another folder, other logs) naming the same state dir."""
    import tomllib

    config = tomllib.loads(first.read_text())
    config["sources"][0]["paths"] = [str(tmp_path / "other" / "*.json")]
    path = tmp_path / "other.toml"
    path.write_text(tomli_w.dumps(config))
    path.chmod(0o600)
    return path


async def test_a_second_daemon_on_the_same_state_dir_exits_2_naming_the_first(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = write_config(tmp_path, fake)
    Bot(tmp_path).log("ERROR", "before both #1")
    first = await Logship("run", "--config", str(config)).start()
    try:
        await first.wait_until_logged("running:")
        await inbox.wait_for(lambda: len(inbox.embeds()) == 1)
        assert first.process is not None
        state_dir = str(tmp_path / "state")
        for other in (config, second_config(tmp_path, config)):
            second = await Logship("run", "--config", str(other)).start()
            try:
                status, _, stderr = await second.wait()
            finally:
                second.kill()  # before the fix it runs: do not leave it behind
            assert status == 2, stderr
            assert state_dir in stderr and str(first.process.pid) in stderr, stderr
        Bot(tmp_path).log("ERROR", "while the second tried #2")
        await inbox.wait_for(lambda: len(inbox.embeds()) == 2)
        assert sorted(inbox.ids()) == [1, 2]  # nothing shipped twice
        spool_dir = tmp_path / "state" / "spool"
        spool_dir.mkdir(exist_ok=True)
        status, _, stderr = await run_cli("replay", str(spool_dir), "--config", str(config))
        assert status == 0, stderr  # replay keeps its own locks, beside the daemon
        assert (await first.stop())[0] == 0
    finally:
        first.kill()


async def test_the_lock_goes_with_its_process_even_after_kill_9(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox
) -> None:
    config = str(write_config(tmp_path, fake))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "logship.lock").write_text("999999\n")  # stale: no one holds it
    first = await Logship("run", "--config", config).start()
    try:
        await first.wait_until_logged("running:")
        first.signal(signal.SIGKILL)
        await first.wait()
    finally:
        first.kill()
    second = await Logship("run", "--config", config).start()
    try:
        await second.wait_until_logged("running:")
        Bot(tmp_path).log("ERROR", "after the kill #1")
        await inbox.wait_for(lambda: len(inbox.embeds()) == 1)
        assert (await second.stop())[0] == 0
    finally:
        second.kill()
