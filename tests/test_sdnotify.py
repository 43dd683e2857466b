"""sd_notify against a real datagram socket, as systemd would listen on it."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.observe.sdnotify import Notifier


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A socket bound on a short path (AF_UNIX paths are limited to 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="sd") as folder:
        path = str(Path(folder) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            monkeypatch.delenv(name, raising=False)
        yield sock
        sock.close()


def fields(sock: socket.socket) -> dict[str, str]:
    lines = sock.recv(4096).decode().split("\n")
    return dict(line.split("=", 1) for line in lines)


def test_without_notify_socket_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog_interval() is None


def test_ready_with_status(listener: socket.socket) -> None:
    notifier = Notifier()
    assert notifier.enabled
    assert notifier.ready("3 sources, 2 sinks")
    assert fields(listener) == {"READY": "1", "STATUS": "3 sources, 2 sinks"}


def test_each_message(listener: socket.socket) -> None:
    notifier = Notifier()
    assert notifier.stopping("draining")
    assert fields(listener) == {"STOPPING": "1", "STATUS": "draining"}
    assert notifier.watchdog()
    assert fields(listener) == {"WATCHDOG": "1"}
    assert notifier.status("queued 3\nspool 0")  # a status stays on one line
    assert fields(listener) == {"STATUS": "queued 3 spool 0"}
    assert notifier.ready()
    assert fields(listener) == {"READY": "1"}
    notifier.close()


def test_reloading_carries_the_monotonic_clock(listener: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert Notifier().reloading()
    got = fields(listener)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert got["RELOADING"] == "1"
    assert before <= int(got["MONOTONIC_USEC"]) <= after


def test_abstract_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"logship-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert Notifier().ready()
        assert fields(sock) == {"READY": "1"}


def test_a_missing_socket_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    notifier = Notifier()
    assert notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_watchdog_interval(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Notifier().watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    assert Notifier().watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier().watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert Notifier().watchdog_interval() is None


async def test_keepalive_pings_and_refreshes_the_status(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "40000")  # a ping every 20 ms
    statuses = iter(["queued 1", "queued 1", "queued 2"])
    task = asyncio.create_task(Notifier().keepalive(lambda: next(statuses, "queued 2")))
    listener.setblocking(False)
    got: list[dict[str, str]] = []
    loop = asyncio.get_running_loop()
    while len(got) < 3:
        got.append(dict(line.split("=", 1) for line in
                        (await loop.sock_recv(listener, 4096)).decode().split("\n")))
    task.cancel()
    assert got == [{"WATCHDOG": "1", "STATUS": "queued 1"}, {"WATCHDOG": "1"},
                   {"WATCHDOG": "1", "STATUS": "queued 2"}]


async def test_keepalive_returns_at_once_without_a_watchdog(listener: socket.socket) -> None:
    await asyncio.wait_for(Notifier().keepalive(lambda: "x"), timeout=1)


async def test_a_failing_status_does_not_stop_the_pings(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "40000")

    def broken() -> str:
        raise RuntimeError("no tailer yet")

    task = asyncio.create_task(Notifier().keepalive(broken))
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    got = [await loop.sock_recv(listener, 4096) for _ in range(2)]
    task.cancel()
    assert got == [b"WATCHDOG=1", b"WATCHDOG=1"]
