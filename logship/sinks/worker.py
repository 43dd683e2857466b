"""One worker per sink: a bounded queue in, Discord requests out, the spool as fallback.

The worker sends as soon as the rate budget allows. Its queue holds at most
`queue_size` events and `queue_max_bytes` bytes of them (counted from `put` until each is
delivered or spooled): `put` waits while either is reached, and that wait is what pauses
the tailer, so nothing is lost and memory stays bounded. While it waits for budget, events
pile up in its queue, and the next request carries as many of them as fit (10 embeds,
6000 characters), errors and criticals first. Each event's acknowledgement is resolved
only once Discord answered 200 with a message, or once the event is safely in the
spool, so the checkpoint never passes an event that could still be lost.

When the backlog is more than two requests' worth, the worker switches to digests:
several events share one embed, one line each, so a storm of errors goes out in the
fewest requests the limits allow, and every event is still named.

What the answers mean:
- 429: wait `retry_after` (global ones pause every sink), send the same batch again;
- 5xx, timeout, connection error: exponential backoff with full jitter, then spool as
  `fallback` after `max_attempts`. `circuit_failures` failed requests in a row open the
  circuit: events go straight to the spool until, after `circuit_cooldown`, one request
  probes the webhook again. A timeout may have delivered: it is retried all the same
  (at-least-once) and counted as a possible duplicate;
- 400: never resend the same bytes: drop a username or avatar Discord blames, split the
  batch, render a refused event plainly; what Discord still refuses is spooled as `dead`;
- 401/403/404: the webhook is gone: stop calling it, say so loudly once, spool its events
  as `dead` (replay sends them once the URL is fixed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logship.config import RouteConfig, SinkConfig
from logship.event import Event
from logship.pipeline.outgoing import event_bytes
from logship.redact.scrub import scrub_tokens
from logship.redact.secrets import Redactor
from logship.sinks.discord.client import Outcome, Response, WebhookClient
from logship.sinks.discord.ratelimit import RateLimiter
from logship.sinks.discord.render import (
    EMBEDS_MAX,
    Attachment,
    Embed,
    Message,
    Renderer,
    TemplateSet,
)
from logship.spool.store import Spool, SpoolRecord

log = logging.getLogger("logship.sinks.worker")

# How many queued events a worker looks at when it picks the next batch by priority.
LOOKAHEAD = 200
# A backlog of more than this many full requests is sent as digests.
DIGEST_AFTER_REQUESTS = 2
# Seconds between tries to write to a full spool when no drain frees space sooner.
SPOOL_RETRY = 10.0


@dataclass(eq=False)
class Item:
    """One event on its way to one sink, through one route."""

    event: Event
    route: RouteConfig | None = None
    attempts: int = 0
    minimal: bool = False  # Discord refused the full rendering: send the plain one
    # The spool record a drained event came from: `attempts` count this pass only (a
    # drained event gets its full retries again); spooling it anew adds the record's
    # attempts, keeps its first failure and replaces it (exempt from the byte cap).
    origin: SpoolRecord | None = None
    queued_at: float = field(default_factory=time.monotonic)
    _embed: Embed | None = field(default=None, repr=False)
    size: int = field(default=-1, repr=False)  # bytes, for the queue's byte cap (-1: measure)
    # A storm summary carries the events it counts (`counted`, each in full in `files`):
    # they are done when it is delivered, and spooled one by one when it is spooled.
    counted: list[Item] = field(default_factory=list, repr=False)
    files: tuple[Attachment, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = event_bytes(self.event) + sum(it.size for it in self.counted)

    def embed(self, renderer: Renderer) -> Embed:
        """The event's embed as its sink shows it (template, privacy, kind layout), with
        the item's own files (a summary's events: even the plain repair keeps them)."""
        if self.minimal:
            return self._with_files(renderer.minimal(self.event))
        if self._embed is None:
            self._embed = self._with_files(renderer.embed(self.event, self.route))
        return self._embed

    def _with_files(self, embed: Embed) -> Embed:
        if not self.files:
            return embed
        return Embed(embed.data, embed.size, embed.files + self.files, embed.text)

    def with_counted(self) -> list[Item]:
        """This item and the events it carries: what its delivery or spooling resolves."""
        return [self, *self.counted] if self.counted else [self]

    def done(self) -> None:
        for item in self.with_counted():
            if item.event.ack is not None:
                item.event.ack.resolve()


@dataclass(frozen=True, slots=True)
class BatchEnd:
    """How a batch ended, for the delivery history."""

    outcome: str  # "delivered" | "spooled" | "dead"
    status: int  # the last HTTP status (0: no answer, or never sent)
    message_id: str | None
    error: str | None


@dataclass(eq=False)
class Batch:
    """The events of one request; a digest lists them in shared embeds."""

    items: list[Item]
    digest: bool = False
    # A digest's embeds, rendered once when the batch is made: a retry sends the same
    # thing even if the sink's rendering changed meanwhile (a reload).
    embeds: list[Embed] = field(default_factory=list)
    message: Message | None = None  # the request as first sent: a retry resends it


@dataclass
class _Held:
    """A batch the spool refused while the drain ran, waiting in memory for room."""

    items: list[Item]
    reason: str
    error: str
    status: int


@dataclass
class SinkStats:
    requests: int = 0
    delivered: int = 0
    rate_limited: int = 0
    retries: int = 0
    spooled: int = 0
    possible_duplicates: int = 0  # events in requests that timed out, then were resent
    digests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class Circuit:
    """Closed until `threshold` failures in a row; then open for `cooldown` seconds,
    after which one request probes (a failed probe opens it again at once).

    >>> now = [0.0]; circuit = Circuit(2, 30.0, clock=lambda: now[0])
    >>> circuit.failed(), circuit.failed(), circuit.is_open
    (False, True, True)
    >>> now[0] = 31.0; circuit.is_open, circuit.failed(), circuit.is_open
    (False, True, True)
    >>> circuit.succeeded(); circuit.is_open
    False
    """

    def __init__(self, threshold: int, cooldown: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None and self._clock() < self._open_until

    @property
    def tripped(self) -> bool:
        """Opened and not yet closed by a successful request (probing counts)."""
        return self._open_until is not None

    def failed(self) -> bool:
        """Count a failed request; True when this one opened the circuit."""
        self._failures += 1
        if self._failures < self.threshold:
            return False
        self._open_until = self._clock() + self.cooldown
        return True

    def succeeded(self) -> None:
        self._failures = 0
        self._open_until = None


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
        templates: TemplateSet | None = None,
        routes: Sequence[RouteConfig] = (),
        redactor: Redactor | None = None,
    ) -> None:
        self.sink = sink
        self.client = client
        self.limiter = limiter
        self.spool = spool
        self.host = host
        self.renderer = Renderer(sink, templates, host, routes, redactor=redactor)
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=sink.queue_size)
        self.queued_bytes = 0  # of the events put and not yet delivered or spooled
        self._room = asyncio.Event()  # bytes were released
        self.stats = SinkStats()
        self.gone: str | None = None  # why the webhook is unusable, once it is
        self._backoff = backoff
        self.circuit = Circuit(sink.circuit_failures, sink.circuit_cooldown)
        self.on_recover: Callable[[], None] | None = None  # the circuit closed again
        self.on_trip: Callable[[float], None] | None = None  # it opened (cool-down, s)
        # told (sink, seconds from queued to delivered) for each delivered event
        self.on_delivered: Callable[[str, float], None] | None = None
        # told how each batch ended (delivered, spooled, dead): the delivery history
        self.on_outcome: Callable[[str, list[Item], BatchEnd], None] | None = None
        self._waiting_for_room = False  # `_spool` waits for the spool to take a batch
        self._space = asyncio.Event()
        # Batches the spool refused while the drain fed this worker: held in memory (their
        # acknowledgements unresolved), written once there is room (see `_set_aside`).
        self._held: list[_Held] = []
        self._held_retry: asyncio.TimerHandle | None = None
        spool.on_freed.append(self._space_freed)
        self._plain_profile = False  # Discord refused the sink's username or avatar
        self._pending: list[Item] = []  # taken from the queue, not yet sent
        self._sending: list[Item] = []  # the batch being sent (or retried) now
        self._idle = asyncio.Event()
        self._idle.set()
        self.retired: str | None = None  # why the sink was removed, once `retire()` ran
        # The spool drainer is feeding this worker and waits for it: room in a full spool
        # comes only after this worker is through, so it must not wait for room itself.
        self.draining = False

    @property
    def name(self) -> str:
        return self.sink.name

    @property
    def spool_blocked(self) -> bool:
        """The spool refuses this sink's events: they are held, and reading pauses."""
        return self._waiting_for_room or bool(self._held)

    @property
    def backlog(self) -> int:
        return self.queue.qsize() + len(self._pending) + len(self._sending)

    @property
    def congested(self) -> bool:
        """The queue is full, by count or by bytes: `put` would wait."""
        return (self.backlog >= self.queue.maxsize
                or (self.queued_bytes >= self.sink.queue_max_bytes and self.backlog > 0))

    def hold(self, item: Item) -> None:
        """Take `item` now, past the queue's caps (a stop must not wait for room): the
        drain sends it, or the shutdown spools it with what else is left. A retired
        worker spools it at once (if the spool refuses, it stays unresolved: read again
        after the restart)."""
        if self.retired is not None:
            self._write_spool([item], "fallback", self.retired)
            return
        self._idle.clear()
        self.queued_bytes += item.size
        if self.queue.full():  # the run loop is not waiting for the queue: it has items
            self._pending.append(item)
        else:
            self.queue.put_nowait(item)

    async def put(self, item: Item) -> None:
        """Queue `item`; waits while the queue is full, by count or by bytes (that is the
        backpressure). An event larger than the byte cap still goes once the queue is
        empty, so the cap is exceeded by at most one event. Once the worker is retired,
        `item` goes to the spool instead, so its acknowledgement still resolves."""
        self._idle.clear()
        while (self.queued_bytes >= self.sink.queue_max_bytes and self.backlog > 0
               and self.retired is None):
            self._room.clear()
            await self._room.wait()
        if self.retired is not None:
            await self._spool([item], "fallback", self.retired)
            return
        self.queued_bytes += item.size
        try:
            await self.queue.put(item)
        except BaseException:
            self.queued_bytes -= item.size
            raise
        if self.retired is not None:  # retired while this put waited for room
            await self.retire(self.retired)

    def _release(self, items: Sequence[Item]) -> None:
        """`items` are delivered or spooled: their bytes no longer count."""
        self.queued_bytes = max(0, self.queued_bytes - sum(it.size for it in items))
        self._room.set()

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                item = await self.queue.get()
                self._pending.append(item)
            try:
                if self.gone or self.circuit.is_open:
                    await self._divert()
                else:
                    await self._send_next()
            except Exception as exc:  # a bug must not stop the sink for good
                await self._recover(exc)

    async def _recover(self, exc: Exception) -> None:
        """An unexpected error while sending: spool the batch it hit (or, if it hit
        while a batch was being made, what is pending), so its events' acknowledgements
        resolve, then carry on with the rest."""
        failed = self._sending or self._pending
        if failed is self._pending:
            self._pending = []
        self._sending = []
        log.error("sink %s: unexpected error while delivering; %d events go to the spool",
                  self.name, len(failed), exc_info=exc)
        try:
            await self._spool(failed, "fallback", f"internal error: {exc!r}")
        except Exception:
            log.exception("sink %s: could not spool %d events after an unexpected error",
                          self.name, len(failed))

    async def _divert(self) -> None:
        """The webhook is gone or its circuit is open: what is queued goes to the spool."""
        self._take_queued(limit=None)
        if self.gone:
            await self._spool(self._pending, "dead", self.gone)
        else:
            await self._spool(self._pending, "fallback", "circuit open: webhook failing")
        self._pending = []

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

    async def retire(self, reason: str) -> int:
        """The sink was removed (its run task must be stopped first): spool what is still
        queued or unsent, and from now on whatever is put, waiting while the spool is
        full, so every event's acknowledgement resolves. How many were spooled now."""
        self.retired = reason
        left = self._take_all()
        if left:
            await self._spool(left, "fallback", reason)
        return len(left)

    def abandon(self, reason: str) -> int:
        """Spool what is still queued or unsent (the run task must be stopped first)."""
        self._write_held()
        left = self._take_all()
        if left and not self._write_spool(left, "fallback", reason):
            return 0
        return len(left)

    # -- batching -----------------------------------------------------------------

    def _take_all(self) -> list[Item]:
        """Everything queued, pending or held, out of the worker's hands (highest level
        first)."""
        self._take_queued(limit=None)
        taken, self._pending = self._pending, []
        taken += [item for held in self._held for item in held.items]
        self._held = []
        if self._held_retry is not None:
            self._held_retry.cancel()
            self._held_retry = None
        return taken

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

    def _next_batch(self) -> Batch:
        """Full embeds while they keep up; digests once a backlog builds. A storm summary
        goes alone, first: its files are the events it counts (a digest has no room for
        them), and its delivery resolves them all."""
        carrier = next((n for n, it in enumerate(self._pending) if it.counted), None)
        if carrier is not None:
            return Batch([self._pending.pop(carrier)])
        count = self.renderer.pack([it.embed(self.renderer)
                                    for it in self._pending[:EMBEDS_MAX]])
        if self.backlog > DIGEST_AFTER_REQUESTS * count:
            return self._digest_batch(self._pending)
        items, self._pending = self._pending[:count], self._pending[count:]
        return Batch(items)

    def _digest_batch(self, candidates: list[Item]) -> Batch:
        """A digest of as many leading `candidates` as one message holds; the others go
        back to the front of the pending list."""
        embeds, count = self.renderer.digest([it.event for it in candidates])
        count = max(1, count)
        items, rest = candidates[:count], candidates[count:]
        if candidates is self._pending:
            self._pending = rest
        else:
            self._pending[:0] = rest
        return Batch(items, digest=True, embeds=embeds)

    # -- sending ------------------------------------------------------------------

    async def _send_next(self) -> None:
        await self.limiter.acquire()
        self._take_queued()  # what arrived while we waited for budget rides along
        batch: Batch | None = self._next_batch()
        self._sending = batch.items
        try:
            while batch is not None:
                response = await self._post(batch)
                batch = await self._handle(batch, response)
                self._sending = batch.items if batch else []
                if batch is not None:
                    await self.limiter.acquire()
        except asyncio.CancelledError:
            self._pending[:0] = self._sending  # shutdown: abandon() spools them
            self._sending = []
            raise

    def _embeds(self, batch: Batch) -> list[Embed]:
        if batch.digest:
            return batch.embeds
        return [it.embed(self.renderer) for it in batch.items]

    async def _post(self, batch: Batch) -> Response:
        if batch.message is None:
            batch.message = self.renderer.payload(
                self._embeds(batch), [it.route for it in batch.items],
                plain_profile=self._plain_profile)
        message = batch.message
        try:
            response = await self.client.execute(self.sink.url, message.body,
                                                 files=message.files,
                                                 thread_id=self.sink.thread_id)
        except asyncio.CancelledError:
            self.limiter.completed({})
            raise
        self.limiter.completed(response.headers)
        self.stats.requests += 1
        self.stats.digests += batch.digest
        self.stats.by_status[response.status] = self.stats.by_status.get(response.status, 0) + 1
        return response

    async def _handle(self, batch: Batch, response: Response) -> Batch | None:
        """Act on one answer; returns the batch to send next (None when done)."""
        outcome = response.outcome
        if outcome is Outcome.DELIVERED:
            recovered = self.circuit.tripped
            self.circuit.succeeded()
            if recovered:
                log.info("sink %s: the webhook answers again; circuit closed", self.name)
                if self.on_recover is not None:
                    self.on_recover()
            delivered = [x for it in batch.items for x in it.with_counted()]
            self.stats.delivered += len(delivered)
            now = time.monotonic()
            for item in batch.items:
                item.attempts += 1
                item.done()
            if self.on_delivered is not None:
                for item in delivered:
                    self.on_delivered(self.name, now - item.queued_at)
            self._release(batch.items)
            if self.on_outcome is not None:
                message_id = str(response.body["id"])
                self.on_outcome(self.name, delivered,
                                BatchEnd("delivered", response.status, message_id, None))
            return None
        if outcome is Outcome.RATE_LIMITED:
            self.stats.rate_limited += 1
            log.warning("sink %s: rate limited (%s), waiting %.2f s", self.name,
                        "global" if response.is_global else
                        response.headers.get("X-RateLimit-Scope", "webhook"),
                        response.retry_after)
            self.limiter.rate_limited(response.retry_after, response.is_global,
                                      response.headers.get("X-RateLimit-Scope"))
            return batch
        if outcome is Outcome.GONE:
            for item in batch.items:
                item.attempts += 1
            self.gone = self._reason(response)
            log.error("sink %s: %s; no more requests to %s, its events go to the spool as "
                      "dead (fix the URL, then `logship replay`)", self.name, self.gone,
                      self.sink.url.masked)
            await self._spool(batch.items, "dead", self.gone, response.status)
            return None
        if outcome is Outcome.REJECTED:
            return await self._rejected(batch, response)
        return await self._retry(batch, response)

    async def _rejected(self, batch: Batch, response: Response) -> Batch | None:
        """A 400: change what is sent (never the same bytes again), or give up."""
        reason = self._reason(response)
        if response.names_profile() and not self._plain_profile:
            self._plain_profile = True
            log.error("sink %s: Discord refuses its username or avatar (%s); sending "
                      "without them", self.name, reason)
            batch.message = None
            return batch
        items = batch.items
        if len(items) > 1:
            half = len(items) // 2
            log.warning("sink %s: Discord refused a batch of %d (%s); sending it split",
                        self.name, len(items), reason)
            self._pending[:0] = items[half:]
            if batch.digest:
                return self._digest_batch(items[:half])
            return Batch(items[:half])
        (item,) = items
        if item.counted:
            return self._unpack(item, reason)
        if batch.digest or not item.minimal:
            item.minimal = True
            log.warning("sink %s: Discord refused an event (%s); sending it plainly",
                        self.name, reason)
            return Batch(items)
        log.error("sink %s: Discord refused an event for good (%s); spooled as dead",
                  self.name, reason)
        await self._spool(items, "dead", reason, response.status)
        return None

    def _unpack(self, summary: Item, reason: str) -> Batch:
        """Discord refused a storm summary with its files: its events go on their own
        (ahead of the rest, as embeds or digests), the summary without them."""
        log.warning("sink %s: Discord refused a storm summary with its %d events attached "
                    "(%s); sending them on their own", self.name, len(summary.counted), reason)
        self._pending[:0] = summary.counted
        carried = sum(it.size for it in summary.counted)
        alone = Item(summary.event, summary.route, attempts=summary.attempts,
                     size=max(0, summary.size - carried))
        return Batch([alone])

    async def _retry(self, batch: Batch, response: Response) -> Batch | None:
        items = batch.items
        for item in items:
            item.attempts += 1
        if response.timed_out:
            self.stats.possible_duplicates += len(items)
        reason = self._reason(response)
        if self.circuit.failed():
            log.error("sink %s: %d failed requests in a row (%s); circuit open: events go "
                      "to the spool, next try in %.0f s", self.name, self.circuit.threshold,
                      reason, self.circuit.cooldown)
            await self._spool(items, "fallback", reason, response.status)
            if self.on_trip is not None:
                self.on_trip(self.circuit.cooldown)
            return None
        exhausted = [it for it in items if it.attempts >= self.sink.max_attempts]
        if exhausted:  # each event by its own count: a batch may mix old and new ones
            log.error("sink %s: giving up after %d attempts (%s); %d events spooled",
                      self.name, self.sink.max_attempts, reason, len(exhausted))
            await self._spool(exhausted, "fallback", reason, response.status)
            if len(exhausted) == len(items):
                return None
            items = [it for it in items if it.attempts < self.sink.max_attempts]
            batch = self._digest_batch(items) if batch.digest else Batch(items)
        attempts = max(it.attempts for it in items)
        delay = self._backoff(attempts, self.sink.retry_base, self.sink.retry_cap)
        self.stats.retries += 1
        log.warning("sink %s: %s; retry %d in %.2f s", self.name, reason, attempts, delay)
        await asyncio.sleep(delay)
        return batch

    def _reason(self, response: Response) -> str:
        """What went wrong, for the log and the spool: never the webhook's token (an
        answer may quote the URL it was sent to)."""
        return scrub_tokens(response.describe(), self.sink.url.token)

    async def _spool(self, items: list[Item], reason: str, error: str, status: int = 0
                     ) -> None:
        """Put `items` in the spool; while it is full (or the disk is), hold them and
        wait: the queue fills up behind, and the tailer stops reading. Not while the
        drain feeds this worker: it waits for us, and only its segment deletions may make
        room, so then what cannot be written is set aside and the worker goes on."""
        while not self._write_spool(items, reason, error, status):
            items = self._spool_drained(items, reason, error, status)
            if not items:
                break
            if self.draining:
                if not self._write_spool(items, reason, error, status, over_cap=True):
                    self._set_aside(items, reason, error, status)
                break  # past the cap by at most what this worker holds (its queue caps)
            self._waiting_for_room = True
            self._space.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._space.wait(), SPOOL_RETRY)
            self.spool.recount()  # another process (replay) may have made room
        if self._waiting_for_room:
            self._waiting_for_room = False
            self._log_unblocked()

    def _log_unblocked(self) -> None:
        if not self.spool_blocked:
            log.info("sink %s: the spool takes events again; reading resumes", self.name)

    def _set_aside(self, items: list[Item], reason: str, error: str, status: int) -> None:
        """The spool cannot take `items` (the disk is full) while the drain feeds this
        worker. Drained events go back to their old segment: their acknowledgements stay
        unresolved, so the drain keeps that segment and sends them again later (written
        anew, they would be kept twice). New events are held in memory, unresolved (the
        checkpoint stays before them), and written as soon as there is room: when the
        spool frees space (the drain deleting a segment), or on a timer."""
        returned = [it for it in items if it.origin is not None]
        if returned:
            self._release(returned)
            log.warning("sink %s: %d re-sent events failed again and the spool has no room "
                        "for them; they stay in their old segment", self.name, len(returned))
        new = [it for it in items if it.origin is None]
        if not new:
            return
        log.warning("sink %s: the spool has no room for %d events while the drain runs; "
                    "holding them until there is room", self.name, len(new))
        self._held.append(_Held(new, reason, error, status))
        self._retry_held_later()

    def _space_freed(self) -> None:
        """The spool gave space back: a waiting `_spool` tries again, held batches go."""
        self._space.set()
        self._write_held()

    def _write_held(self) -> None:
        """Write the held batches, oldest first, while the spool takes them."""
        if not self._held:
            return
        while self._held:
            held = self._held[0]
            if not self._write_spool(held.items, held.reason, held.error, held.status,
                                     over_cap=True):
                self._retry_held_later()
                return
            self._held.pop(0)
        if self._held_retry is not None:
            self._held_retry.cancel()
            self._held_retry = None
        self._log_unblocked()

    def _retry_held_later(self) -> None:
        if self._held_retry is None:
            self._held_retry = asyncio.get_running_loop().call_later(
                SPOOL_RETRY, self._retry_held)

    def _retry_held(self) -> None:
        self._held_retry = None
        self.spool.recount()  # another process (replay) may have made room
        self._write_held()

    def _spool_drained(self, items: list[Item], reason: str, error: str, status: int
                       ) -> list[Item]:
        """The spool refused `items`: write the drained ones alone (they replace their
        old records, so the cap does not hold them back); the items still to write."""
        drained = [it for it in items if it.origin is not None]
        if not drained or len(drained) == len(items) or not self._write_spool(
                drained, reason, error, status):
            return items
        return [it for it in items if it.origin is None]

    def _write_spool(self, items: list[Item], reason: str, error: str, status: int = 0,
                     *, over_cap: bool = False) -> bool:
        """Append `items` to the spool and resolve them; False (nothing resolved, so the
        checkpoint stays before them) when the spool cannot take them."""
        error = scrub_tokens(error, self.sink.url.token)
        spooled = [x for it in items for x in it.with_counted()]  # a summary's events too
        records = [self._record(it, reason, error) for it in spooled]
        try:
            self.spool.append(records, over_cap=over_cap)
        except OSError as exc:
            if not self.spool_blocked:
                log.error("sink %s: cannot write %d events to the spool (%s); holding "
                          "them, reading pauses until there is room", self.name, len(items),
                          exc.strerror or exc)
            return False
        self.stats.spooled += len(spooled)
        for item in items:
            item.done()
        self._release(items)
        if self.on_outcome is not None:
            outcome = "dead" if reason == "dead" else "spooled"
            self.on_outcome(self.name, spooled, BatchEnd(outcome, status, None, error))
        return True

    def _record(self, item: Item, reason: str, error: str) -> SpoolRecord:
        route = item.route.name if item.route else None
        origin = item.origin
        if origin is None:
            return SpoolRecord(event=item.event, sink=self.name, reason=reason, error=error,
                               route=route, attempts=item.attempts)
        return SpoolRecord(event=item.event, sink=self.name, reason=reason, error=error,
                           route=route, attempts=origin.attempts + item.attempts,
                           first_failure=origin.first_failure, replaces=True)
