"""Discord's budgets shared through a real Redis: two sidecars on one webhook take their
requests from one window; one's 429 pauses the other; Redis gone, each falls back to its
share of the limits, and comes back to the shared budget when Redis answers again."""

from __future__ import annotations

import asyncio

import pytest

from logship.cluster.budget import SharedLimiter
from logship.cluster.link import RedisLink
from logship.config import ClusterConfig
from logship.sinks.discord.ratelimit import RateLimits
from tests.redis_server import RedisServer

WEBHOOK = "300000000000000021"


def limiter(link: RedisLink, *, requests: int = 3, window: float = 60.0,
            share: float = 1 / 3) -> SharedLimiter:
    local = RateLimits().limiter(channel="c", webhook_requests=max(1, int(requests * share)),
                                 webhook_window=window, channel_messages=1000,
                                 channel_window=1.0, webhook=WEBHOOK)
    return SharedLimiter(link, local, webhook=WEBHOOK, channel="c", webhook_requests=requests,
                         webhook_window=window, channel_messages=1000, channel_window=1.0)


async def granted(limiters: list[SharedLimiter], tries: int) -> int:
    """How many of `tries` acquisitions (spread over `limiters`) are granted at once."""
    count = 0
    for n in range(tries):
        try:
            await asyncio.wait_for(limiters[n % len(limiters)].acquire(), 0.5)
        except TimeoutError:
            continue
        count += 1
    return count


@pytest.fixture
async def links(redis_server: RedisServer) -> list[RedisLink]:
    made = [RedisLink(ClusterConfig(redis_server.url, name="t", host=f"host{n}"))
            for n in range(2)]
    for link in made:
        assert await link.start()
    yield made
    for link in made:
        await link.close()


async def test_two_sidecars_share_one_webhook_window(links: list[RedisLink]) -> None:
    both = [limiter(link) for link in links]
    assert await granted(both, 6) == 3  # 3 per 60 s for the webhook, whoever asks


async def test_a_429_pauses_every_sidecar_of_the_webhook(links: list[RedisLink]) -> None:
    first, second = (limiter(link, requests=100) for link in links)
    first.rate_limited(30.0, is_global=False, scope="user")
    await asyncio.sleep(0.1)  # (its bookkeeping runs without being awaited)
    assert await granted([second], 1) == 0


async def test_discord_s_headers_are_shared(links: list[RedisLink]) -> None:
    first, second = (limiter(link, requests=100) for link in links)
    await first.acquire()
    first.completed({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "30"})
    await asyncio.sleep(0.1)
    assert await granted([second], 1) == 0  # Discord said none is left: for both


async def test_redis_gone_each_falls_back_to_its_share_then_comes_back(
    redis_server: RedisServer, links: list[RedisLink]
) -> None:
    one = limiter(links[0], requests=6, share=1 / 3)
    redis_server.stop()
    assert await granted([one], 4) == 2  # a third of 6 per window, alone
    assert not links[0].up
    redis_server.start_again()
    assert await links[0].start()
    assert await granted([one], 2) == 2  # the shared window has room again


async def test_each_host_judges_its_backlog_and_its_waits_at_its_own_share(
    redis_server: RedisServer, links: list[RedisLink]
) -> None:
    """`time_for` (full embeds or digests, issue 18) is this host's call at its share,
    counting what Redis granted it; a wait is foretold only while Redis is down (while it
    is up, Redis decides at each request)."""
    one = limiter(links[0], requests=6, share=1 / 3)  # this host's share: 2 per 60 s
    assert one.time_for(2) == 0.0
    await one.acquire()
    one.completed({})
    await one.acquire()
    one.completed({})
    assert one.time_for(1) > 50  # its share of the window is spent: the next in a minute
    assert one.holdup() is None  # Redis up: it would still grant the webhook's third
    redis_server.stop()
    assert await granted([one], 1) == 0  # down: the fallback knows this host's two
    holdup = one.holdup()
    assert holdup is not None and holdup.why == "the webhook's limit"
