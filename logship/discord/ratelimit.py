"""Staying under Discord's rate limits instead of discovering them with 429s.

Three budgets gate every request, and a request waits for all of them:

* the webhook's own: a local sliding window (5 requests per 2 s by default) until
  Discord's `X-RateLimit-*` headers say how much is left and when it resets;
* the channel's: messages per window, shared by every sink that names the same channel
  (Discord's `shared` scope: 30 messages per 60 s);
* a global pause, set by a 429 with `"global": true`, that stops every webhook.

Webhooks whose responses name the same `X-RateLimit-Bucket` share that bucket's header
budget: what one spends, the others cannot.

Times are taken when a response arrives, which is never earlier than when Discord
counted the request, so the local windows can only err on the safe side.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping

Clock = Callable[[], float]

# Discord's reset times are rounded to milliseconds; wait a hair longer than they say.
SAFETY_MARGIN = 0.05


class SlidingWindow:
    """At most `limit` requests in any `window` seconds.

    A request is `reserve`d before it is sent and counts from then on; its window starts
    when it is `release`d (its response arrived), the latest moment Discord can have
    counted it.

    >>> now = [0.0]
    >>> w = SlidingWindow(2, 10.0, clock=lambda: now[0])
    >>> w.reserve(); w.release(); w.reserve(); w.release(); w.wait_time()
    10.0
    """

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._done: deque[float] = deque()  # completion times, oldest first
        self._in_flight = 0

    def wait_time(self) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        now = self._clock()
        done = self._done
        while done and done[0] + self.window <= now:
            done.popleft()
        excess = len(done) + self._in_flight + 1 - self.limit
        if excess <= 0:
            return 0.0
        if excess > len(done):  # the budget is held by requests still in flight
            return self.window
        return done[excess - 1] + self.window - now

    def reserve(self) -> None:
        self._in_flight += 1

    def release(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._done.append(self._clock())
        while len(self._done) > self.limit:
            self._done.popleft()


class HeaderBudget:
    """What Discord's `X-RateLimit-*` headers said about a bucket."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.bucket: str | None = None

    def update(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset_after = headers.get("X-RateLimit-Reset-After")
        if remaining is None or reset_after is None:
            return
        try:
            self.remaining = int(remaining)
            self.reset_at = self._clock() + float(reset_after) + SAFETY_MARGIN
        except ValueError:
            return
        self.bucket = headers.get("X-RateLimit-Bucket", self.bucket)

    def wait_time(self) -> float:
        now = self._clock()
        if self.remaining is None or self.remaining > 0 or now >= self.reset_at:
            return 0.0
        return self.reset_at - now

    def spend(self) -> None:
        if self.remaining is not None and self.remaining > 0:
            self.remaining -= 1


class Pause:
    """A shared 'not before' time: a 429's retry_after, or a global pause."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.until = 0.0

    def extend(self, seconds: float) -> None:
        self.until = max(self.until, self._clock() + seconds + SAFETY_MARGIN)

    def wait_time(self) -> float:
        return max(0.0, self.until - self._clock())


class RateLimiter:
    """All the budgets one webhook must respect before it sends."""

    def __init__(
        self,
        webhook: SlidingWindow,
        channel: SlidingWindow,
        global_pause: Pause,
        clock: Clock = time.monotonic,
        buckets: dict[str, HeaderBudget] | None = None,
        channel_pause: Pause | None = None,
    ) -> None:
        self.webhook = webhook
        self.channel = channel
        self.global_pause = global_pause
        self.headers = HeaderBudget(clock)
        self.pause = Pause(clock)
        self.channel_pause = channel_pause if channel_pause is not None else Pause(clock)
        self._buckets = buckets if buckets is not None else {}

    def wait_time(self) -> float:
        return max(
            self.global_pause.wait_time(),
            self.channel_pause.wait_time(),
            self.pause.wait_time(),
            self.headers.wait_time(),
            self.webhook.wait_time(),
            self.channel.wait_time(),
        )

    async def acquire(self) -> None:
        """Wait until one more message may be posted, then hold its place in every budget."""
        while (delay := self.wait_time()) > 0:
            await asyncio.sleep(delay)
        self.headers.spend()
        self.webhook.reserve()
        self.channel.reserve()

    def completed(self, headers: Mapping[str, str]) -> None:
        """The request `acquire` allowed has its answer (or failed): start its windows."""
        self.webhook.release()
        self.channel.release()
        bucket = headers.get("X-RateLimit-Bucket")
        if bucket is not None and bucket != self.headers.bucket:
            self.headers = self._buckets.setdefault(bucket, self.headers)
        self.headers.update(headers)

    def rate_limited(self, retry_after: float, is_global: bool, scope: str | None = None
                     ) -> None:
        """A 429: `global` pauses every webhook, scope `shared` (the channel's limit)
        every webhook of the channel, anything else this webhook."""
        if is_global:
            self.global_pause.extend(retry_after)
        elif scope == "shared":
            self.channel_pause.extend(retry_after)
        else:
            self.pause.extend(retry_after)


class RateLimits:
    """The shared state behind every sink's `RateLimiter`: channels and the global pause."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._channels: dict[str, SlidingWindow] = {}
        self._channel_pauses: dict[str, Pause] = {}
        self._buckets: dict[str, HeaderBudget] = {}
        self.global_pause = Pause(clock)

    def limiter(self, *, channel: str, webhook_requests: int, webhook_window: float,
                channel_messages: int, channel_window: float) -> RateLimiter:
        window = self._channels.get(channel)
        if window is None:
            window = self._channels[channel] = SlidingWindow(
                channel_messages, channel_window, self._clock)
        return RateLimiter(
            SlidingWindow(webhook_requests, webhook_window, self._clock),
            window,
            self.global_pause,
            self._clock,
            self._buckets,
            self._channel_pauses.setdefault(channel, Pause(self._clock)),
        )
