"""End to end as systemd runs it: sd_notify over a real socket, /metrics and /health,
SIGHUP reloads (good and bad), SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from logship.emulator.server import FakeDiscord
from tests.e2e import TOKEN, WAIT, WEBHOOK_IDS, Bot, Inbox, Logship, run_cli, write_config

pytestmark = pytest.mark.e2e

ERRORS = WEBHOOK_IDS["errors"]


class NotifySocket:
    """The datagram socket systemd listens on for a Type=notify service."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    async def wait_for(self, assignment: str) -> None:
        loop = asyncio.get_running_loop()

        async def until() -> None:
            while not any(assignment in m.splitlines() for m in self.messages):
                self.messages.append((await loop.sock_recv(self.sock, 4096)).decode())

        await asyncio.wait_for(until(), WAIT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake_and_inbox() -> AsyncIterator[tuple[FakeDiscord, Inbox]]:
    inbox = Inbox()
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox) as server:
        yield server, inbox


async def scrape(base: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def health(base: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as resp:
        return resp.status, await resp.json()


async def test_service_lifecycle(tmp_path: Path,
                                 fake_and_inbox: tuple[FakeDiscord, Inbox]) -> None:
    fake, inbox = fake_and_inbox
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path, fake, metrics_listen=f"127.0.0.1:{port}")
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = await Logship("run", "--config", str(config),
                           env={"NOTIFY_SOCKET": str(notify.path)}).start()
    try:
        await notify.wait_for("READY=1")
        Bot(tmp_path).log("ERROR", "boom #1")
        await inbox.wait_for(lambda: inbox.ids(ERRORS)[1] == 1)

        figures = await scrape(base)
        assert figures["logship_lines_read_total[]"] == 1
        assert figures["logship_requests_total[('sink', 'errors'), ('status', '200')]"] == 1
        assert figures["logship_events_total[('kind', 'error'), ('route', 'errors')]"] == 1
        assert (await health(base))[0] == 200
        async with aiohttp.ClientSession() as session, session.get(
                f"{base}/history?n=5") as resp:
            (entry,) = await resp.json()
        assert entry["sink"] == "errors" and entry["outcome"] == "delivered"
        assert entry["status"] == 200 and entry["message_id"] and entry["route"] == "errors"

        # A new route by SIGHUP: warnings now go to the errors sink too.
        config.write_text(config.read_text().replace('min_level = "error"',
                                                     'min_level = "warning"'))
        daemon.signal(signal.SIGHUP)
        await notify.wait_for("RELOADING=1")
        await daemon.wait_until_logged("reloaded")
        Bot(tmp_path).log("WARNING", "careful #2")
        await inbox.wait_for(lambda: inbox.ids(ERRORS)[2] == 1)

        # A new source by SIGHUP: its folder is watched, the old files are not re-read.
        text = config.read_text()
        extra = tmp_path / "extra"
        extra.mkdir()
        config.write_text(text.replace(
            "[[sources]]", f'[[sources]]\nname = "extra"\npaths = ["{extra}/*.log"]\n'
                           'format = "json"\nstart_at = "beginning"\n\n[[sources]]', 1))
        daemon.signal(signal.SIGHUP)
        await daemon.wait_until_logged("reloaded")
        await daemon.wait_until_logged("2 sources")
        (extra / "side.log").write_text('{"level": "ERROR", "message": "side #5"}\n')
        await inbox.wait_for(lambda: inbox.ids(ERRORS)[5] == 1)
        assert inbox.ids(ERRORS) == {1: 1, 2: 1, 5: 1}

        # A broken config is refused; the running one stays.
        good = config.read_text()
        config.write_text(good + "\n[[routes]]\nname = 'x'\nsinks = ['nowhere']\n")
        daemon.signal(signal.SIGHUP)
        await daemon.wait_until_logged("reload refused")
        config.write_text(good)
        Bot(tmp_path).log("ERROR", "still shipping #3")
        await inbox.wait_for(lambda: inbox.ids(ERRORS)[3] == 1)

        fake.delete_webhook(ERRORS)
        Bot(tmp_path).log("ERROR", "into the void #4")
        await daemon.wait_until_logged("webhook deleted")
        status, body = await health(base)
        assert status == 503 and "errors" in str(body)

        daemon.signal(signal.SIGTERM)
        status, _, stderr = await daemon.wait()
        assert status == 0, stderr
        await notify.wait_for("STOPPING=1")
        status, out, _ = await run_cli("history", "--config", str(config), "--failed")
        assert status == 0 and "dead" in out and "10015" in out and TOKEN not in out
    finally:
        daemon.kill()
