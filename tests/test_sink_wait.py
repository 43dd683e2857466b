"""A sink waiting for Discord's channel limit says so: once per wait in logship's log (at
info level), in /metrics and in systemd's STATUS= line. The daemon in-process, the
emulator over 127.0.0.1, a real sd_notify socket."""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from logship.config import load_config
from logship.daemon import Daemon
from logship.emulator.server import FakeDiscord
from logship.sinks import worker as worker_module
from logship.sinks.worker import Waiting
from tests.e2e import WAIT, WEBHOOK_IDS, Bot, Inbox, write_config

ERRORS = WEBHOOK_IDS["errors"]


@pytest.fixture
async def notify_socket(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """systemd's side of sd_notify: the STATUS= values received, as they come."""
    with tempfile.TemporaryDirectory(prefix="sd") as folder:
        path = str(Path(folder) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        statuses: list[str] = []

        async def receive() -> None:
            loop = asyncio.get_running_loop()
            while True:
                data = (await loop.sock_recv(sock, 65536)).decode()
                statuses.extend(line[7:] for line in data.split("\n")
                                if line.startswith("STATUS="))

        task = asyncio.create_task(receive())
        yield statuses
        task.cancel()
        sock.close()


async def test_a_wait_for_the_channel_budget_is_said_shown_and_measured(
    tmp_path: Path, fake: FakeDiscord, inbox: Inbox, notify_socket: list[str],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(worker_module, "WAIT_WORTH_SAYING", 0.5)
    caplog.set_level(logging.INFO, logger="logship.sinks.worker")
    config = write_config(tmp_path, fake, routes=[
        {"name": "errors", "min_level": "error", "sinks": ["errors"]}],
        sink_options={"channel_messages": 1, "channel_window": 3.0})
    daemon = Daemon(load_config(config), handle_signals=False)
    seen: list[tuple[str, Waiting | None, float]] = []

    def on_wait(sink: str, waiting: Waiting | None) -> None:  # what /metrics shows then
        families = text_string_to_metric_families(daemon.metrics.exposition().decode())
        gauge = next(f for f in families if f.name == "logship_sink_waiting_seconds")
        seconds = next(s.value for s in gauge.samples if s.labels["sink"] == sink)
        seen.append((sink, waiting, seconds))

    daemon.on_sink_wait = on_wait
    running = asyncio.create_task(daemon.run())
    try:
        bot = Bot(tmp_path)
        bot.log("ERROR", "first #1")
        await inbox.wait_for(lambda: inbox.ids(ERRORS).keys() == {1})
        bot.log("ERROR", "second #2")  # the channel's one message a window is used up
        await inbox.wait_for(lambda: inbox.ids(ERRORS).keys() == {1, 2})
    finally:
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0

    said = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(said) == 1, said  # once per wait
    assert said[0].startswith("sink errors: waiting for Discord's channel limit, 1 queued, "
                              "next in "), said
    assert caplog.records[[r.getMessage() for r in caplog.records].index(said[0])
                          ].levelno == logging.INFO
    (sink, began, measured), (_, ended, after) = seen
    assert sink == "errors" and began is not None and ended is None
    assert 0 < measured <= 3.0 and after == 0
    assert any("errors: waiting for Discord's channel limit, 1 queued, next in" in status
               for status in notify_socket), notify_socket
