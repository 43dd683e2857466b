"""Each host's backlog per channel, shared: storm mode judges the cluster's.

One host alone may keep up with its share while the channel, fed by every host, cannot.
Each host publishes, at most once a second and only while it has events to send, how
many wait for each channel; storm mode then sees the channel's backlog over every host
(`total`), as of the last second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from logship.cluster.link import Down, RedisLink

EVERY = 1.0  # seconds between a host's reports of its backlog, and between reads
TTL_MS = 10_000  # a host that stopped reporting no longer counts after this

PUBLISH = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local total = 0
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(value) end
return total
"""


class SharedBacklog:
    """The cluster's backlog per channel, as of the last second."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._totals: dict[str, int] = {}
        self._reported: dict[str, float] = {}

    def total(self, channel: str, mine: int) -> int:
        """The channel's backlog on every host (this one's, `mine`, reported now and
        then; at least `mine`)."""
        now = time.monotonic()
        if now - self._reported.get(channel, 0.0) >= EVERY and self.link.up:
            self._reported[channel] = now
            task = asyncio.ensure_future(self._publish(channel, mine))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return max(mine, self._totals.get(channel, mine))

    async def _publish(self, channel: str, mine: int) -> None:
        with contextlib.suppress(Down):
            total = await self.link.script(
                "backlog", PUBLISH, (self.link.key("backlog", channel),),
                (self.link.host, mine, TTL_MS))
            self._totals[channel] = int(total)
