"""Shared test setup: scripted HTTP answers (aioresponses), an aiohttp session, and the
Discord emulator with an inbox that wakes tests when a message arrives."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import aioresponses.core
import pytest
from aiohttp import ClientResponse

from logship.emulator.server import FakeDiscord
from tests.e2e import Inbox
from tests.redis_server import RedisServer, running_redis
from tests.tools import pytest_runtest_setup  # noqa: F401  (the hook: see tests.tools)


class _ResponseWithWriter(ClientResponse):
    """aiohttp 3.14 made `stream_writer` a required argument of ClientResponse, and
    aioresponses (0.7.9) does not pass it yet (pnuckowski/aioresponses#289). Its mocked
    responses are "already sent" (writer=None), for which aiohttp only reads the writer's
    `output_size`; this subclass supplies that until aioresponses catches up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
    aioresponses.core.ClientResponse = _ResponseWithWriter  # type: ignore[misc]


@pytest.fixture
def mocked() -> Iterator[aioresponses.aioresponses]:
    with aioresponses.aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def fake(inbox: Inbox) -> AsyncIterator[FakeDiscord]:
    """The emulator on 127.0.0.1, every accepted message also in `inbox`."""
    async with FakeDiscord(host="127.0.0.1", port=0, on_message=inbox) as server:
        yield server


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis on a loopback port of its own (skipped if none is installed, except
    under CI)."""
    with running_redis(tmp_path / "redis") as server:
        yield server
