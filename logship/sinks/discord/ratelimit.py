"""Staying under Discord's rate limits instead of discovering them with 429s.

Three budgets gate every request, and a request waits for all of them:

* the webhook's own: a local sliding window (5 requests per 2 s by default) until
  Discord's `X-RateLimit-*` headers say how much is left and when it resets;
* the channel's: messages per window, shared by every sink that names the same channel
  (Discord's `shared` scope: 30 messages per 60 s);
* a global pause, set by a 429 with `"global": true`, that stops every webhook.

Header budgets are keyed by (bucket hash, webhook id). Discord's `X-RateLimit-Bucket`
names a route's limit "non-inclusive of top-level resources": every webhook's execute
route reports the same hash, and the limit applies per webhook. So sinks on one webhook
(say, two threads of it) share its budget, and sinks on different webhooks never do.
The execute route (POST) and the edit route (PATCH of a message, for repeat counts) are
separate limits on Discord, with budgets of their own here: an edit neither spends nor
resets what posting has left.

Times are taken when a response arrives, which is never earlier than when Discord
counted the request, so the local windows can only err on the safe side.

`RateLimiter.time_for(n)` looks ahead: how long n more messages would take now, at every
budget above and at the webhook's own pace (its answers' latency: a sink's requests go
one at a time). The Discord sink decides with it whether a backlog goes out in full.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Literal

from logship.sinks.base import Holdup

Clock = Callable[[], float]
Route = Literal["execute", "edit"]  # POST a message; PATCH one (a repeat count)
BucketKey = tuple[str, str]  # (X-RateLimit-Bucket, webhook id)

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

    def projected(self, answered: float) -> list[float]:
        """When the requests that still count completed, oldest first; those in flight
        as if answered at `answered` (for `RateLimiter.time_for`)."""
        now = self._clock()
        done = [at for at in self._done if at + self.window > now]
        return done + [answered] * self._in_flight

    def earliest(self, completed: list[float]) -> float:
        """The earliest time one more request fits, given every completion that counts
        (`projected`, plus those planned after it): the limit-th latest must be over."""
        if len(completed) < self.limit:
            return 0.0
        return completed[-self.limit] + self.window


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

    def left_before_reset(self) -> int | None:
        """Requests the bucket still takes before it resets; None: no limit known now."""
        if self.remaining is None or self._clock() >= self.reset_at:
            return None
        return self.remaining


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
    """All the budgets one webhook must respect before it sends (or edits)."""

    def __init__(
        self,
        webhook: SlidingWindow,
        channel: SlidingWindow,
        global_pause: Pause,
        clock: Clock = time.monotonic,
        buckets: dict[BucketKey, HeaderBudget] | None = None,
        channel_pause: Pause | None = None,
        webhook_id: str = "",
    ) -> None:
        self.webhook = webhook
        self.channel = channel
        self.global_pause = global_pause
        self.headers = HeaderBudget(clock)
        self.pause = Pause(clock)
        self.channel_pause = channel_pause if channel_pause is not None else Pause(clock)
        self.webhook_id = webhook_id
        self._buckets = buckets if buckets is not None else {}
        # the edit route's own budgets: a local window like the webhook's, its headers
        self.edit_window = SlidingWindow(webhook.limit, webhook.window, clock)
        self.edit_headers = HeaderBudget(clock)
        self.edit_pause = Pause(clock)
        self._clock = clock
        self._sent: deque[float] = deque()  # when each post in flight was let go
        self.latency = 0.0  # seconds a post takes to be answered (smoothed); 0: unknown

    def holdup(self, route: Route = "execute") -> Holdup | None:
        """The longest of the waits `acquire(route)` faces now, and whose it is; None
        when a request may go at once. (The worker says so when a wait is long.)"""
        if route == "edit":
            waits = [(self.global_pause.wait_time(), "Discord's global limit"),
                     (max(self.edit_pause.wait_time(), self.edit_headers.wait_time(),
                          self.edit_window.wait_time()), "the webhook's limit for edits")]
        else:
            waits = [(self.global_pause.wait_time(), "Discord's global limit"),
                     (max(self.channel_pause.wait_time(), self.channel.wait_time()),
                      "Discord's channel limit"),
                     (max(self.pause.wait_time(), self.headers.wait_time(),
                          self.webhook.wait_time()), "the webhook's limit")]
        seconds, why = max(waits, key=lambda wait: wait[0])
        return Holdup(seconds, why) if seconds > 0 else None

    def wait_time(self, route: Route = "execute") -> float:
        if route == "edit":
            return max(self.global_pause.wait_time(), self.edit_pause.wait_time(),
                       self.edit_headers.wait_time(), self.edit_window.wait_time())
        return max(
            self.global_pause.wait_time(),
            self.channel_pause.wait_time(),
            self.pause.wait_time(),
            self.headers.wait_time(),
            self.webhook.wait_time(),
            self.channel.wait_time(),
        )

    async def acquire(self, route: Route = "execute") -> None:
        """Wait until one more request of `route` may go, then hold its place in every
        budget it spends (`take`)."""
        while (delay := self.wait_time(route)) > 0:
            await asyncio.sleep(delay)
        self.take(route)

    def take(self, route: Route = "execute") -> None:
        """Hold one request's place in every budget it spends, now (`wait_time` said it
        may go): a post spends the webhook's and the channel's, an edit only the edit
        route's."""
        if route == "edit":
            self.edit_headers.spend()
            self.edit_window.reserve()
            return
        self.headers.spend()
        self.webhook.reserve()
        self.channel.reserve()
        self._sent.append(self._clock())

    def time_for(self, messages: int) -> float:
        """Seconds from now until `messages` more posts, after those in flight, would all
        be answered at the budget this webhook has now: its window and its channel's
        (what is left of them), what Discord's headers said is left before the bucket
        resets, any pause (a 429's, a global one), and its own pace: its posts go one at
        a time, each answered after `latency` seconds (as measured so far).

        >>> now = [0.0]; lim = RateLimits(lambda: now[0]).limiter(
        ...     channel="c", webhook_requests=5, webhook_window=2.0, channel_messages=30,
        ...     channel_window=60.0)
        >>> lim.time_for(5), lim.time_for(6), lim.time_for(30), lim.time_for(31)
        (0.0, 2.0, 10.0, 60.0)
        """
        if messages <= 0:
            return 0.0
        now = self._clock()
        latency = self.latency
        in_flight = len(self._sent)
        # those in flight: answered a latency after the last was let go
        answered = max(now, self._sent[-1] + latency) if in_flight else now
        webhook = self.webhook.projected(answered)
        channel = self.channel.projected(answered)
        left = self.headers.left_before_reset()
        start = max(answered, now + max(self.global_pause.wait_time(),
                                        self.channel_pause.wait_time(),
                                        self.pause.wait_time()))
        if (len(webhook) + messages <= self.webhook.limit
                and len(channel) + messages <= self.channel.limit
                and (left is None or messages <= left)):
            return start + messages * latency - now  # every window has room: its pace
        for sent in range(messages):
            start = max(start, self.webhook.earliest(webhook), self.channel.earliest(channel))
            if left is not None and sent >= left:
                start = max(start, self.headers.reset_at)
            start += latency  # answered: the next one may go
            webhook.append(start)
            channel.append(start)
        return start - now

    def completed(self, headers: Mapping[str, str], route: Route = "execute") -> None:
        """The request `acquire(route)` allowed has its answer (or failed): start its
        windows, and take in what its headers say of its route's bucket."""
        if route == "edit":
            self.edit_window.release()
            self.edit_headers = self._budget(self.edit_headers, headers)
            self.edit_headers.update(headers)
            return
        self.webhook.release()
        self.channel.release()
        if self._sent:
            took = max(0.0, self._clock() - self._sent.popleft())
            self.latency = took if self.latency == 0.0 else 0.8 * self.latency + 0.2 * took
        self.headers = self._budget(self.headers, headers)
        self.headers.update(headers)

    def _budget(self, current: HeaderBudget, headers: Mapping[str, str]) -> HeaderBudget:
        """The budget of the bucket `headers` name, for this webhook: shared with every
        limiter of the same webhook that met that bucket, never with another webhook's."""
        bucket = headers.get("X-RateLimit-Bucket")
        if bucket is None or bucket == current.bucket:
            return current
        return self._buckets.setdefault((bucket, self.webhook_id), current)

    def rate_limited(self, retry_after: float, is_global: bool, scope: str | None = None,
                     route: Route = "execute") -> None:
        """A 429: `global` pauses every webhook, scope `shared` (the channel's limit)
        every webhook of the channel, anything else this webhook's `route`."""
        if is_global:
            self.global_pause.extend(retry_after)
        elif route == "edit":
            self.edit_pause.extend(retry_after)
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
        self._buckets: dict[BucketKey, HeaderBudget] = {}
        self.global_pause = Pause(clock)

    def limiter(self, *, channel: str, webhook_requests: int, webhook_window: float,
                channel_messages: int, channel_window: float, webhook: str = ""
                ) -> RateLimiter:
        """The budgets of a sink posting to `webhook` (its id) in `channel`."""
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
            webhook,
        )
