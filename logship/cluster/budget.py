"""Discord's budgets shared by every sidecar of a cluster, in Redis.

One webhook takes 5 requests per 2 s and one channel 30 messages per 60 s, whoever
sends them: N sidecars each keeping their own budget send up to N times that. Here each
request takes its place in the same budgets, held in Redis, with one atomic script (one
round trip): the webhook's and the channel's sliding windows, what Discord's headers
last said of the webhook's bucket (remaining, reset), and the pauses a 429 set (for the
webhook, its channel, or everything). Times are Redis's own clock, so hosts need not
agree on theirs.

A request counts from the moment it is granted (it is "in flight", scored in the future
so that a crashed sender's request still counts for a while) until its answer, and its
window runs from the answer (`completed`): the local windows do the same, and both can
only err on the safe side.

While Redis is down, `SharedLimiter` falls back to a local `RateLimiter` whose limits
are `fallback_share` of the real ones (a third by default: three sidecars together stay
under Discord's limits), and goes back to Redis when it answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from logship.cluster.link import Down, RedisLink
from logship.sinks.base import Holdup
from logship.sinks.discord.ratelimit import SAFETY_MARGIN, RateLimiter, Route

IN_FLIGHT_MS = 15_000  # an unanswered request keeps its place this long (a crash)
MARGIN_MS = int(SAFETY_MARGIN * 1000)

_NOW = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: window 1, window 2 (or "" for none), header budget, pause 1..3
# ARGV: limit 1, window ms 1, limit 2, window ms 2, member, in-flight ms
ACQUIRE = _NOW + """
local wait = 0
for i = 4, 6 do
  if KEYS[i] ~= '' then
    local p = redis.call('PTTL', KEYS[i])
    if p > wait then wait = p end
  end
end
local remaining = redis.call('HGET', KEYS[3], 'remaining')
local reset_at = tonumber(redis.call('HGET', KEYS[3], 'reset_at') or '0')
if remaining and tonumber(remaining) <= 0 and reset_at > now then
  wait = math.max(wait, reset_at - now)
end
for i = 1, 2 do
  if KEYS[i] ~= '' then
    local limit = tonumber(ARGV[i * 2 - 1]); local window = tonumber(ARGV[i * 2])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local n = redis.call('ZCARD', KEYS[i])
    if n >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')
      wait = math.max(wait, tonumber(oldest[2]) + window - now)
    end
  end
end
if wait > 0 then return wait end
local inflight = tonumber(ARGV[6])
for i = 1, 2 do
  if KEYS[i] ~= '' then
    redis.call('ZADD', KEYS[i], now + inflight, ARGV[5])
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i * 2]) + inflight)
  end
end
if remaining and tonumber(remaining) > 0 then redis.call('HINCRBY', KEYS[3], 'remaining', -1) end
return 0
"""

# KEYS: window 1, window 2 (or ""), header budget. ARGV: member, remaining, reset ms, has
COMPLETED = _NOW + """
for i = 1, 2 do
  if KEYS[i] ~= '' then redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1]) end
end
if ARGV[4] == '1' then
  local reset = tonumber(ARGV[3])
  redis.call('HSET', KEYS[3], 'remaining', ARGV[2], 'reset_at', now + reset)
  redis.call('PEXPIRE', KEYS[3], reset + 60000)
end
return 0
"""

# KEYS: the pause. ARGV: milliseconds. A longer pause already set stays.
PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
"""


class SharedLimiter:
    """A Discord webhook's budgets, shared with every sidecar through Redis; `fallback`
    (a local limiter with cut limits) while Redis is down. The same interface as the
    local `RateLimiter`, which the Discord sink and noise control's edits call."""

    def __init__(self, link: RedisLink, fallback: RateLimiter, *, webhook: str, channel: str,
                 webhook_requests: int, webhook_window: float, channel_messages: int,
                 channel_window: float) -> None:
        self.link = link
        self.fallback = fallback
        self.webhook_id = webhook
        self._limits = (webhook_requests, int(webhook_window * 1000), channel_messages,
                        int(channel_window * 1000))
        self._keys = {
            "execute": (link.key("win", "webhook", webhook), link.key("win", "channel", channel),
                        link.key("hdr", "execute", webhook)),
            "edit": (link.key("win", "edit", webhook), "", link.key("hdr", "edit", webhook)),
        }
        self._pauses = {"execute": (link.key("pause", "webhook", webhook),
                                    link.key("pause", "channel", channel),
                                    link.key("pause", "global")),
                        "edit": (link.key("pause", "edit", webhook), "",
                                 link.key("pause", "global"))}
        # per route: the member names of requests granted by Redis, oldest first (their
        # answers come back in that order: one request in flight per worker)
        self._granted: dict[str, list[str]] = {"execute": [], "edit": []}
        self._local: dict[str, int] = {"execute": 0, "edit": 0}  # granted by the fallback

    def wait_time(self, route: Route = "execute") -> float:
        """The local view (the fallback's): Redis decides at `acquire`."""
        return self.fallback.wait_time(route)

    def holdup(self, route: Route = "execute") -> Holdup | None:
        """What `acquire` waits for, when this host can tell: while Redis is down, the
        fallback's wait; while it is up, Redis decides at each request (none foretold)."""
        return None if self.link.up else self.fallback.holdup(route)

    def time_for(self, messages: int) -> float:
        """How long `messages` more posts would take at this host's share of the budget
        (the fallback's cut limits, which see every request this host made): whether a
        backlog goes out in full is each host's own call."""
        return self.fallback.time_for(messages)

    async def acquire(self, route: Route = "execute") -> None:
        """Wait until Redis (or, while it is down, the fallback) grants one more request."""
        while True:
            if not self.link.up:
                await self.fallback.acquire(route)
                self._local[route] += 1
                return
            member = self.link.token()
            try:
                wait = await self.link.script("acquire", ACQUIRE, (*self._keys[route],
                                                                  *self._pauses[route]),
                                              (*self._limits, member, IN_FLIGHT_MS))
            except Down:
                continue  # the fallback decides from now on
            if int(wait) <= 0:
                self._granted[route].append(member)
                self.fallback.take(route)  # this host's own share, seen locally too
                return
            await asyncio.sleep(int(wait) / 1000 + SAFETY_MARGIN)

    def completed(self, headers: Mapping[str, str], route: Route = "execute") -> None:
        """The request `acquire` allowed has its answer: its windows start now, and what
        Discord's headers say of the bucket is shared."""
        self.fallback.completed(headers, route)
        if self._local[route]:
            self._local[route] -= 1
            return
        if not self._granted[route]:
            return
        member = self._granted[route].pop(0)
        remaining, reset_after = headers.get("X-RateLimit-Remaining"), headers.get(
            "X-RateLimit-Reset-After")
        has = remaining is not None and reset_after is not None
        try:
            reset_ms = int(float(reset_after or 0) * 1000) + MARGIN_MS
            args = (member, int(remaining or 0), reset_ms, "1" if has else "0")
        except ValueError:
            args = (member, 0, 0, "0")
        self._spawn(self.link.script("completed", COMPLETED, self._keys[route], args))

    def rate_limited(self, retry_after: float, is_global: bool, scope: str | None = None,
                     route: Route = "execute") -> None:
        """A 429: every sidecar sending there waits (the webhook's route, its channel for
        scope `shared`, everything for `global`)."""
        self.fallback.rate_limited(retry_after, is_global, scope, route)
        webhook, channel, everything = self._pauses[route]
        key = everything if is_global else channel if scope == "shared" and channel else webhook
        milliseconds = int(retry_after * 1000) + MARGIN_MS
        self._spawn(self.link.script("pause", PAUSE, (key,), (max(1, milliseconds),)))

    def _spawn(self, call: object) -> None:
        """Run a script without waiting for it (an answer's bookkeeping); a link that
        went down meanwhile only loses what the fallback keeps anyway."""
        if not self.link.up:
            call.close()  # type: ignore[attr-defined]
            return
        task = asyncio.ensure_future(call)  # type: ignore[arg-type]
        task.add_done_callback(_quiet)


def _quiet(task: asyncio.Future[object]) -> None:
    if not task.cancelled():
        exc = task.exception()
        if exc is not None and not isinstance(exc, Down):
            import logging

            logging.getLogger("logship.cluster").warning("cluster bookkeeping failed: %r",
                                                         exc)
