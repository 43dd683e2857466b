"""One worker per sink: a bounded queue in, Discord requests out, the spool as fallback.

The worker sends as soon as the rate budget allows. While it waits for budget, events
pile up in its queue, and the next request carries as many of them as fit (10 embeds,
6000 characters), errors and criticals first. Each event's acknowledgement is resolved
only once Discord answered 200 with a message, or once the event is safely in the
spool, so the checkpoint never passes an event that could still be lost.

What the answers mean:
- 429: wait `retry_after` (global ones pause every sink), send the same batch again;
- 5xx, timeout, connection error: exponential backoff with full jitter, then spool as
  `fallback` after `max_attempts`;
- 400: never resend the same bytes: split the batch; a single event Discord refuses is
  spooled as `dead`;
- 401/403/404: the webhook is gone: stop calling it, say so loudly, spool its events.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from logship.config import RouteConfig, SinkConfig
from logship.discord.client import Outcome, Response, WebhookClient
from logship.discord.payload import Embed, build_payload, pack, render_embed
from logship.discord.ratelimit import RateLimiter
from logship.event import Event
from logship.spool import Spool, SpoolRecord

log = logging.getLogger("logship.deliver")

# How many queued events a worker looks at when it picks the next batch by priority.
LOOKAHEAD = 100


@dataclass(eq=False)
class Item:
    """One event on its way to one sink, through one route."""

    event: Event
    route: RouteConfig | None = None
    attempts: int = 0
    _embed: Embed | None = field(default=None, repr=False)

    def embed(self, host: str | None) -> Embed:
        if self._embed is None:
            self._embed = render_embed(self.event, host=host)
        return self._embed

    def done(self) -> None:
        if self.event.ack is not None:
            self.event.ack.resolve()


@dataclass
class SinkStats:
    requests: int = 0
    delivered: int = 0
    rate_limited: int = 0
    retries: int = 0
    spooled: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def full_jitter(attempt: int, base: float, cap: float) -> float:
    """Backoff before retry number `attempt` (1-based): uniform in [0, min(cap, base·2^n)]."""
    return random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


class SinkWorker:
    """Delivers one sink's events. Run `run()` as a task; feed it with `put()`."""

    def __init__(
        self,
        sink: SinkConfig,
        client: WebhookClient,
        limiter: RateLimiter,
        spool: Spool,
        *,
        host: str | None = None,
        backoff: Callable[[int, float, float], float] = full_jitter,
    ) -> None:
        self.sink = sink
        self.client = client
        self.limiter = limiter
        self.spool = spool
        self.host = host
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=sink.queue_size)
        self.stats = SinkStats()
        self.gone: str | None = None  # why the webhook is unusable, once it is
        self._backoff = backoff
        self._pending: list[Item] = []  # taken from the queue, not yet sent
        self._sending: list[Item] = []  # the batch being sent (or retried) now
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def name(self) -> str:
        return self.sink.name

    @property
    def backlog(self) -> int:
        return self.queue.qsize() + len(self._pending) + len(self._sending)

    async def put(self, item: Item) -> None:
        """Queue `item`; waits while the queue is full (that is the backpressure)."""
        self._idle.clear()
        await self.queue.put(item)

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                item = await self.queue.get()
                self._pending.append(item)
            if self.gone:
                self._take_queued()
                self._spool(self._pending, "fallback", self.gone)
                self._pending = []
                continue
            await self._send_next()

    async def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` s for everything queued to be resolved. True if it was."""
        try:
            await asyncio.wait_for(self._wait_idle(), timeout)
            return True
        except TimeoutError:
            return False

    async def _wait_idle(self) -> None:
        while self.backlog:
            self._idle.clear()
            await self._idle.wait()

    def abandon(self, reason: str) -> int:
        """Spool what is still queued or unsent (the run task must be stopped first)."""
        self._take_queued(limit=None)
        left, self._pending = self._pending, []
        if left:
            self._spool(left, "fallback", reason)
        return len(left)

    # -- batching -----------------------------------------------------------------

    def _take_queued(self, limit: int | None = LOOKAHEAD) -> None:
        """Move queued items into the pending list, then order it by level, highest
        first (sort is stable, so order within a level is kept)."""
        room = None if limit is None else max(0, limit - len(self._pending))
        moved = False
        while not self.queue.empty() and (room is None or room > 0):
            self._pending.append(self.queue.get_nowait())
            moved = True
            if room is not None:
                room -= 1
        if moved:
            self._pending.sort(key=lambda it: -it.event.level)

    def _next_batch(self) -> list[Item]:
        embeds = [it.embed(self.host) for it in self._pending[:10]]
        count = pack(embeds)
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    # -- sending ------------------------------------------------------------------

    async def _send_next(self) -> None:
        await self.limiter.acquire()
        self._take_queued()  # what arrived while we waited for budget rides along
        self._sending = self._next_batch()
        try:
            while self._sending:
                response = await self._post(self._sending)
                self._sending = await self._handle(self._sending, response)
                if self._sending:
                    await self.limiter.acquire()
        except asyncio.CancelledError:
            self._pending[:0] = self._sending  # shutdown: abandon() spools them
            self._sending = []
            raise

    async def _post(self, batch: list[Item]) -> Response:
        payload = build_payload(
            [it.embed(self.host) for it in batch],
            username=self.sink.username,
            avatar_url=self.sink.avatar_url,
        )
        try:
            response = await self.client.execute(self.sink.url, payload)
        except asyncio.CancelledError:
            self.limiter.completed({})
            raise
        self.limiter.completed(response.headers)
        self.stats.requests += 1
        self.stats.by_status[response.status] = self.stats.by_status.get(response.status, 0) + 1
        return response

    async def _handle(self, batch: list[Item], response: Response) -> list[Item]:
        """Act on one answer; returns the batch to send again (empty when done)."""
        outcome = response.outcome
        if outcome is Outcome.DELIVERED:
            self.stats.delivered += len(batch)
            for item in batch:
                item.done()
            return []
        if outcome is Outcome.RATE_LIMITED:
            self.stats.rate_limited += 1
            log.warning("sink %s: rate limited (%s), waiting %.2f s", self.name,
                        "global" if response.is_global else
                        response.headers.get("X-RateLimit-Scope", "webhook"),
                        response.retry_after)
            self.limiter.rate_limited(response.retry_after, response.is_global)
            return batch
        if outcome is Outcome.GONE:
            self.gone = response.describe()
            log.error("sink %s: %s; no more requests to %s, its events go to the spool",
                      self.name, self.gone, self.sink.url.masked)
            self._spool(batch, "fallback", self.gone)
            return []
        if outcome is Outcome.REJECTED:
            return self._rejected(batch, response)
        return await self._retry(batch, response)

    def _rejected(self, batch: list[Item], response: Response) -> list[Item]:
        reason = response.describe()
        if len(batch) > 1:
            half = len(batch) // 2
            log.warning("sink %s: Discord refused a batch of %d (%s); sending it split",
                        self.name, len(batch), reason)
            self._pending[:0] = batch[half:]
            return batch[:half]
        log.error("sink %s: Discord refused an event for good (%s); spooled as dead",
                  self.name, reason)
        self._spool(batch, "dead", reason)
        return []

    async def _retry(self, batch: list[Item], response: Response) -> list[Item]:
        for item in batch:
            item.attempts += 1
        attempts = batch[0].attempts
        reason = response.describe()
        if attempts >= self.sink.max_attempts:
            log.error("sink %s: giving up after %d attempts (%s); %d events spooled",
                      self.name, attempts, reason, len(batch))
            self._spool(batch, "fallback", reason)
            return []
        delay = self._backoff(attempts, self.sink.retry_base, self.sink.retry_cap)
        self.stats.retries += 1
        log.warning("sink %s: %s; retry %d in %.2f s", self.name, reason, attempts, delay)
        await asyncio.sleep(delay)
        return batch

    def _spool(self, items: list[Item], reason: str, error: str) -> None:
        records = [
            SpoolRecord(event=it.event, sink=self.name, reason=reason, error=error,
                        route=it.route.name if it.route else None, attempts=it.attempts)
            for it in items
        ]
        try:
            self.spool.append(records)
        except OSError as exc:
            # Not resolving keeps the checkpoint before these events: they are read
            # again after a restart instead of being lost.
            log.error("sink %s: cannot write %d events to the spool (%s); they will be "
                      "read again from their files after a restart", self.name, len(items),
                      exc.strerror or exc)
            return
        self.stats.spooled += len(items)
        for item in items:
            item.done()
