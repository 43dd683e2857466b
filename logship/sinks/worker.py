"""One worker per sink: a bounded queue in, the sink's requests out, the spool as fallback.

The worker drives any `Sink` (`logship.sinks.base`): what is the same for every sink
is here, what differs is the sink's. It sends as soon as the sink's budget allows. Its
queue holds at most `queue_size` events and `queue_max_bytes` bytes of them (counted from
`put` until each is delivered or spooled): `put` waits while either is reached, and that
wait is what pauses the tailer, so nothing is lost and memory stays bounded. While it
waits for budget, events pile up in its queue, and the next request carries as many of
them as the sink packs into one (`Sink.batch`), errors and criticals first. Each event's
acknowledgement is resolved only once the sink answered DELIVERED for the request
holding it (Discord: 200 with a message), or once the event is safely in the spool, so
the checkpoint never passes an event that could still be lost.

What the answers mean (`Outcome`):
- RATE_LIMITED: wait `retry_after` (global ones pause every sink), send the same again;
- RETRY (5xx, timeout, connection error): exponential backoff with full jitter, then
  spool as `fallback` after `max_attempts`. `circuit_failures` failed requests in a row
  open the circuit: events go straight to the spool until, after `circuit_cooldown`, one
  request probes the target again. A timeout may have delivered: it is retried all the
  same (at-least-once) and counted as a possible duplicate;
- REJECTED (400): never resend the same bytes: the sink's `repair` says what to send
  instead; what it gives up on is spooled as `dead`;
- GONE (401/403/404): the target is gone: stop calling it, say so loudly once, spool its
  events as `dead` (replay sends them once the config is fixed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from logship.config import RouteConfig, SinkConfig
from logship.event import Event
from logship.pipeline.outgoing import event_bytes
from logship.sinks.base import Answer, Outcome
from logship.spool.store import SpoolRecord

if TYPE_CHECKING:
    from logship.sinks.base import Sink

log = logging.getLogger("logship.sinks.worker")

# How many queued events a worker looks at when it picks the next batch by priority.
LOOKAHEAD = 200
# Seconds between tries to write to a full spool when no drain frees space sooner.
SPOOL_RETRY = 10.0
# A wait for budget at least this long is said (once, at info level): a channel whose
# budget is used up waits tens of seconds, the webhook's own limit a second or two.
WAIT_WORTH_SAYING = 5.0


@dataclass(eq=False)
class Item:
    """One event on its way to one sink, through one route."""

    event: Event
    route: RouteConfig | None = None
    attempts: int = 0
    plain: bool = False  # the sink refused the full rendering: send the plain one
    # The spool record a drained event came from: `attempts` count this pass only (a
    # drained event gets its full retries again); spooling it anew adds the record's
    # attempts, keeps its first failure and replaces it (exempt from the byte cap).
    origin: SpoolRecord | None = None
    queued_at: float = field(default_factory=time.monotonic)
    rendered: Any = field(default=None, repr=False)  # the sink's rendering, made once
    size: int = field(default=-1, repr=False)  # bytes, for the queue's byte cap (-1: measure)
    # A storm summary carries the events it counts (`counted`, each in full in `files`):
    # they are done when it is delivered, and spooled one by one when it is spooled.
    counted: list[Item] = field(default_factory=list, repr=False)
    files: tuple[Any, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = event_bytes(self.event) + sum(it.size for it in self.counted)

    def with_counted(self) -> list[Item]:
        """This item and the events it carries: what its delivery or spooling resolves."""
        return [self, *self.counted] if self.counted else [self]

    def without_counted(self) -> Item:
        """A summary's own message, its counted events and their files left out."""
        carried = sum(it.size for it in self.counted)
        return Item(self.event, self.route, attempts=self.attempts,
                    size=max(0, self.size - carried))

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
    """The events of one request. `body` is the sink's (a digest's embeds, made once when
    the batch is), `message` the request as first sent: a retry resends it."""

    items: list[Item]
    digest: bool = False  # several events share the request's text, one line each
    body: Any = None
    message: Any = None


class SpoolLike(Protocol):
    """Where the worker puts what it cannot deliver: the spool (`logship.spool.store`),
    or `logship replay`'s stand-in that keeps them in memory."""

    on_freed: list[Callable[[], None]]

    def append(self, records: list[SpoolRecord], *, over_cap: bool = False) -> None: ...

    def recount(self) -> None: ...


@dataclass
class _Held:
    """A batch the spool refused while the drain ran, waiting in memory for room."""

    items: list[Item]
    reason: str
    error: str
    status: int


@dataclass(frozen=True)
class Waiting:
    """A wait for budget long enough to be said: for what, since and until when
    (`time.monotonic()`), and how many events were queued when it began."""

    why: str
    since: float
    until: float
    queued: int

    def left(self, now: float | None = None) -> float:
        """Seconds still to wait (never negative)."""
        return max(0.0, self.until - (time.monotonic() if now is None else now))


def describe_wait(sink: str, waiting: Waiting, now: float | None = None) -> str:
    """The words for a wait, in the log and systemd's status line.

    >>> describe_wait("errors", Waiting("Discord's channel limit", 0.0, 48.2, 212), now=0.0)
    "sink errors: waiting for Discord's channel limit, 212 queued, next in 48 s"
    """
    return (f"sink {sink}: waiting for {waiting.why}, {waiting.queued} queued, next in "
            f"{seconds_text(waiting.left(now))}")


def seconds_text(seconds: float) -> str:
    """A wait as a person reads it: whole seconds, tenths below ten.

    >>> seconds_text(48.2), seconds_text(2.34)
    ('48 s', '2.3 s')
    """
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


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

    def __init__(self, sink: Sink, spool: SpoolLike, *,
                 backoff: Callable[[int, float, float], float] = full_jitter) -> None:
        self.sink = sink
        self.spool = spool
        config = sink.config
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=config.queue_size)
        self.queued_bytes = 0  # of the events put and not yet delivered or spooled
        self._room = asyncio.Event()  # bytes were released
        self.stats = SinkStats()
        self.gone: str | None = None  # why the target is unusable, once it is
        self._backoff = backoff
        self.circuit = Circuit(config.circuit_failures, config.circuit_cooldown)
        self.on_recover: Callable[[], None] | None = None  # the circuit closed again
        self.on_trip: Callable[[float], None] | None = None  # it opened (cool-down, s)
        # told (sink, seconds from queued to delivered) for each delivered event
        self.on_delivered: Callable[[str, float], None] | None = None
        # told how each batch ended (delivered, spooled, dead): the delivery history
        self.on_outcome: Callable[[str, list[Item], BatchEnd], None] | None = None
        self.last_answer: Answer | None = None  # the sink's last answer (test-webhook shows it)
        self._waiting_for_room = False  # `_spool` waits for the spool to take a batch
        self._space = asyncio.Event()
        # Batches the spool refused while the drain fed this worker: held in memory (their
        # acknowledgements unresolved), written once there is room (see `_set_aside`).
        self._held: list[_Held] = []
        self._held_retry: asyncio.TimerHandle | None = None
        spool.on_freed.append(self._space_freed)
        self._pending: list[Item] = []  # taken from the queue, not yet sent
        self._sending: list[Item] = []  # the batch being sent (or retried) now
        self._idle = asyncio.Event()
        self._idle.set()
        self.retired: str | None = None  # why the sink was removed, once `retire()` ran
        # The spool drainer is feeding this worker and waits for it: room in a full spool
        # comes only after this worker is through, so it must not wait for room itself.
        self.draining = False
        # Events waiting for this worker outside its queue (the rest of the spool segment
        # being drained): the sink's choice of full embeds or digests counts them too.
        self.waiting_behind = 0
        # A long wait for budget, while it lasts (/metrics and systemd's status show it);
        # `on_wait` is told when one begins, and (with None) when it ends.
        self.waiting: Waiting | None = None
        self.on_wait: Callable[[str, Waiting | None], None] | None = None
        self.say_waits_from = WAIT_WORTH_SAYING

    @property
    def name(self) -> str:
        return self.sink.name

    @property
    def config(self) -> SinkConfig:
        return self.sink.config

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
                or (self.queued_bytes >= self.config.queue_max_bytes and self.backlog > 0))

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
        while (self.queued_bytes >= self.config.queue_max_bytes and self.backlog > 0
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
        """The sink's next request, taken out of the pending list."""
        batch = self.sink.batch(self._pending, self.backlog + self.waiting_behind)
        taken = {id(item) for item in batch.items}
        self._pending = [item for item in self._pending if id(item) not in taken]
        return batch

    # -- sending ------------------------------------------------------------------

    async def _send_next(self) -> None:
        await self._acquire()
        self._take_queued()  # what arrived while we waited for budget rides along
        batch: Batch | None = self._next_batch()
        self._sending = batch.items
        try:
            while batch is not None:
                answer = await self._post(batch)
                batch = await self._handle(batch, answer)
                self._sending = batch.items if batch else []
                if batch is not None:
                    await self._acquire()
        except asyncio.CancelledError:
            self._pending[:0] = self._sending  # shutdown: abandon() spools them
            self._sending = []
            raise

    async def _acquire(self) -> None:
        """Wait for the sink's budget; a long wait is said once, at info level, and
        shown while it lasts (`waiting`)."""
        limiter = self.sink.limiter
        holdup = limiter.holdup()
        if holdup is None or holdup.seconds < self.say_waits_from:
            await limiter.acquire()
            return
        now = time.monotonic()
        self.waiting = Waiting(holdup.why, now, now + holdup.seconds, self.backlog)
        log.info("%s", describe_wait(self.name, self.waiting, now))
        self._tell_wait(self.waiting)
        try:
            await limiter.acquire()
        finally:
            self.waiting = None
            self._tell_wait(None)

    def _tell_wait(self, waiting: Waiting | None) -> None:
        if self.on_wait is not None:
            try:
                self.on_wait(self.name, waiting)
            except Exception:  # a watcher must not stop deliveries
                log.exception("sink %s: telling of a wait failed", self.name)

    async def _post(self, batch: Batch) -> Answer:
        answer = await self.sink.send(batch)
        self.stats.requests += 1
        self.stats.digests += batch.digest
        self.stats.by_status[answer.status] = self.stats.by_status.get(answer.status, 0) + 1
        self.last_answer = answer
        return answer

    async def _handle(self, batch: Batch, answer: Answer) -> Batch | None:
        """Act on one answer; returns the batch to send next (None when done)."""
        outcome = answer.outcome
        if outcome is Outcome.DELIVERED:
            self._delivered(batch, answer)
            return None
        if outcome is Outcome.RATE_LIMITED:
            self.stats.rate_limited += 1
            log.warning("sink %s: rate limited (%s), waiting %.2f s", self.name,
                        "global" if answer.is_global else answer.scope or "webhook",
                        answer.retry_after)
            self.sink.limiter.rate_limited(answer.retry_after, answer.is_global, answer.scope)
            return batch
        if outcome is Outcome.GONE:
            for item in batch.items:
                item.attempts += 1
            self.gone = answer.reason
            log.error("sink %s: %s; no more requests to %s, its events go to the spool as "
                      "dead (fix the config, then `logship replay`)", self.name, self.gone,
                      self.sink.target)
            await self._spool(batch.items, "dead", self.gone, answer.status)
            return None
        if outcome is Outcome.REJECTED:
            return await self._rejected(batch, answer)
        return await self._retry(batch, answer)

    def _delivered(self, batch: Batch, answer: Answer) -> None:
        recovered = self.circuit.tripped
        self.circuit.succeeded()
        if recovered:
            log.info("sink %s: %s answers again; circuit closed", self.name,
                     self.sink.target)
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
            self.on_outcome(self.name, delivered,
                            BatchEnd("delivered", answer.status, answer.message_id, None))

    async def _rejected(self, batch: Batch, answer: Answer) -> Batch | None:
        """A 400: send what the sink makes of it instead (never the same bytes), or give
        up on what it gives up on."""
        repair = self.sink.repair(batch, answer)
        if repair.requeue:
            self._pending[:0] = repair.requeue
        if repair.dead:
            log.error("sink %s: %s (%s); spooled as dead", self.name, repair.note,
                      answer.reason)
            await self._spool(list(repair.dead), "dead", answer.reason, answer.status)
        elif repair.note:
            log.warning("sink %s: %s (%s)", self.name, repair.note, answer.reason)
        return repair.retry

    async def _retry(self, batch: Batch, answer: Answer) -> Batch | None:
        items = batch.items
        for item in items:
            item.attempts += 1
        if answer.timed_out:
            self.stats.possible_duplicates += len(items)
        reason = answer.reason
        if self.circuit.failed():
            log.error("sink %s: %d failed requests in a row (%s); circuit open: events go "
                      "to the spool, next try in %.0f s", self.name, self.circuit.threshold,
                      reason, self.circuit.cooldown)
            await self._spool(items, "fallback", reason, answer.status)
            if self.on_trip is not None:
                self.on_trip(self.circuit.cooldown)
            return None
        limit = self.config.max_attempts
        exhausted = [it for it in items if it.attempts >= limit]
        if exhausted:  # each event by its own count: a batch may mix old and new ones
            log.error("sink %s: giving up after %d attempts (%s); %d events spooled",
                      self.name, limit, reason, len(exhausted))
            await self._spool(exhausted, "fallback", reason, answer.status)
            if len(exhausted) == len(items):
                return None
            items = [it for it in items if it.attempts < limit]
            batch = self.sink.rebatch(items, batch)
            taken = {id(it) for it in batch.items}
            self._pending[:0] = [it for it in items if id(it) not in taken]
            items = batch.items
        attempts = max(it.attempts for it in items)
        delay = self._backoff(attempts, self.config.retry_base, self.config.retry_cap)
        self.stats.retries += 1
        log.warning("sink %s: %s; retry %d in %.2f s", self.name, reason, attempts, delay)
        await asyncio.sleep(delay)
        return batch

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
        error = self.sink.scrub(error)
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
        return SpoolRecord(event=origin.event, sink=self.name, reason=reason, error=error,
                           route=route, attempts=origin.attempts + item.attempts,
                           first_failure=origin.first_failure, replaces=True)
