"""Dedupe windows across hosts, on a real Redis: the first host to see an error sends it,
the others count it; nothing is taken as sent before it is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from logship.cluster.link import RedisLink
from logship.cluster.windows import SharedWindows
from logship.config import ClusterConfig
from tests.redis_server import RedisServer

ERROR = ("errors", "alerts", "f1ngerpr1nt")


@pytest.fixture
async def hosts(redis_server: RedisServer) -> AsyncIterator[list[SharedWindows]]:
    links = [RedisLink(ClusterConfig(redis_server.url, name="t", host=f"host{n}"))
             for n in range(3)]
    for link in links:
        assert await link.start()
    yield [SharedWindows(link, claim_after=0.3) for link in links]
    for link in links:
        await link.close()


async def test_the_first_host_sends_the_others_count(hosts: list[SharedWindows]) -> None:
    a, b, c = hosts
    first = await a.admit(*ERROR, 300.0, holding_first=False)
    assert first.send and first.count == 1
    await a.sent(*ERROR, "111")
    seen = [await h.admit(*ERROR, 300.0, holding_first=h is a) for h in (b, c, a)]
    assert [v.send for v in seen] == [False, False, False]
    assert seen[-1].count == 4 and seen[-1].hosts == 3
    assert await b.totals(*ERROR) == (4, 3)


async def test_an_owner_that_crashed_before_sending_sends_it_again(
    hosts: list[SharedWindows]
) -> None:
    a, b, _ = hosts
    assert (await a.admit(*ERROR, 300.0, holding_first=False)).send  # then a kill -9
    assert not (await b.admit(*ERROR, 300.0, holding_first=False)).send  # counted
    again = await a.admit(*ERROR, 300.0, holding_first=False)  # re-read after restart
    assert again.send and again.count == 2  # the first again, and b's repeat


async def test_a_first_left_unsent_is_taken_over(hosts: list[SharedWindows]) -> None:
    a, b, _ = hosts
    assert (await a.admit(*ERROR, 300.0, holding_first=False)).send  # a dies for good
    assert not (await b.admit(*ERROR, 300.0, holding_first=False)).send
    await asyncio.sleep(0.4)  # past claim_after
    assert (await b.admit(*ERROR, 300.0, holding_first=False)).send
