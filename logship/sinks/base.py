"""What every sink type provides, so that one worker can drive any of them.

A sink is where events leave logship: a Discord webhook, a file. The worker
(`logship.sinks.worker`) owns everything that is the same for all of them: the bounded
queue and its backpressure, priorities, retries with backoff, the circuit breaker, the
spool as fallback, and the acknowledgements that move checkpoints. A `Sink` owns what
differs: how events become one request (`batch`), how it is sent (`send`), what the
answer means (`Answer.outcome`), how a refused request is changed (`repair`) and the
budget it must keep (`limiter`).

A sink *type* (`SinkType`, one per package: `logship.sinks.discord`, `logship.sinks.file`)
validates its own options from the TOML table (`parse_options`), checks the config as a
whole (`check`: a Discord sink's route templates exist, say) and builds the sink
(`build`). `logship.sinks.registry` names the types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from logship.event import Event

if TYPE_CHECKING:
    from logship.cluster.link import RedisLink
    from logship.config import Config, RouteConfig, SinkConfig, Table
    from logship.redact import Redactor
    from logship.sinks.worker import Batch, Item


class Outcome(Enum):
    """What an answer means for the events of the request."""

    DELIVERED = "delivered"  # the sink has them for good (Discord: 200 with a message)
    RATE_LIMITED = "rate_limited"  # wait `retry_after`, send the same again
    RETRY = "retry"  # a transient failure: back off and retry
    REJECTED = "rejected"  # refused as sent: never send the same bytes again (`repair`)
    GONE = "gone"  # the target no longer exists: stop calling it


@dataclass(frozen=True)
class Answer:
    """A sink's answer to one request, in terms the worker acts on. `reason` never holds
    a secret (a webhook token): it goes to logship's log and into the spool."""

    outcome: Outcome
    status: int = 0  # the protocol's status (HTTP), 0 when none came
    reason: str = ""
    message_id: str | None = None  # what the target calls the message (edits need it)
    retry_after: float = 0.0  # RATE_LIMITED: seconds to wait
    is_global: bool = False  # RATE_LIMITED: every sink of the type waits
    scope: str | None = None  # RATE_LIMITED: the limit's scope (Discord: user, shared)
    timed_out: bool = False  # no answer in time: it may have been delivered all the same
    latency: float = 0.0  # seconds
    headers: Mapping[str, str] = field(default_factory=dict)  # worth showing a user
    detail: Any = field(default=None, compare=False, repr=False)  # the sink's own (raw)


@dataclass
class Preview:
    """What a sink would send for one event, for `logship preview`: the request as lines
    (`request`), why the target would refuse it (`problems`: none when it would take it),
    how it reads (`readable`), and notes (`warnings`, e.g. a template that failed)."""

    request: list[str]
    who: str = "the sink"  # who would accept or refuse it ("Discord")
    problems: list[str] = field(default_factory=list)
    readable: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    detail: Any = field(default=None, repr=False)  # the sink's own (Discord: the Message)


@dataclass(frozen=True)
class Holdup:
    """Why the next request must wait, and how long (as things stand now)."""

    seconds: float
    why: str  # the budget it waits for, e.g. "Discord's channel limit"


class Limiter(Protocol):
    """The budget a sink keeps before it sends (Discord's rate limits; none for a file)."""

    def holdup(self) -> Holdup | None:
        """What the next `acquire` would wait for now; None when it would not wait."""

    async def acquire(self) -> None:
        """Wait until one more request may go; hold its place."""

    def completed(self, headers: Mapping[str, str]) -> None:
        """The request `acquire` allowed has its answer (or never will: `{}`)."""

    def rate_limited(self, retry_after: float, is_global: bool, scope: str | None = None
                     ) -> None:
        """The target said to wait."""


class Unlimited:
    """A limiter that never waits: for sinks without a budget (a file).

    >>> import asyncio; asyncio.run(Unlimited().acquire())
    """

    def holdup(self) -> Holdup | None:
        return None

    async def acquire(self) -> None:
        return None

    def completed(self, headers: Mapping[str, str]) -> None:
        return None

    def rate_limited(self, retry_after: float, is_global: bool, scope: str | None = None
                     ) -> None:
        return None


@dataclass(frozen=True)
class Repair:
    """What to do after a request was REJECTED: send `retry` next (None: nothing), put
    `requeue` back at the front of the queue, spool `dead` for good."""

    retry: Batch | None = None
    requeue: Sequence[Item] = ()
    dead: Sequence[Item] = ()
    note: str = ""  # what was changed, for logship's log


class Sink(Protocol):
    """One configured sink, as the worker drives it."""

    config: SinkConfig
    limiter: Limiter
    carries_files: bool  # its messages can attach files (a storm summary's events need it)

    @property
    def name(self) -> str: ...

    @property
    def target(self) -> str:
        """Where it sends, for logship's own log: never a secret (`…/webhooks/ID/****`)."""

    def batch(self, pending: Sequence[Item], backlog: int) -> Batch:
        """The next request: some of `pending` (ordered by priority; at least one), as
        many as one request carries. `backlog` is how many events wait in all. The
        worker asked `limiter.acquire()` first: the request has its place already."""

    def rebatch(self, items: Sequence[Item], like: Batch) -> Batch:
        """A request of `items` (a retried batch some of whose events gave up), made the
        way `like` was (a digest stays a digest). It may take fewer of them: the worker
        puts the others back in front of its queue."""

    async def send(self, batch: Batch) -> Answer:
        """Send `batch` (the same bytes when it is sent again); never raises for a
        failure of the target: the answer says what happened."""

    def repair(self, batch: Batch, answer: Answer) -> Repair:
        """`batch` was REJECTED: what to send instead, never the same bytes."""

    def scrub(self, text: str) -> str:
        """`text` without this sink's secrets (an error may quote a URL)."""

    def route(self, name: str | None) -> RouteConfig | None:
        """The route called `name` as configured now (a spooled event names its route)."""

    def attach_events(self, events: Sequence[Event]) -> list[tuple[tuple[Any, ...], int]]:
        """Files that carry `events` in full, one message's worth each: (files, how many
        events they hold). Only asked of a sink that `carries_files`."""

    def reconfigure(self, config: SinkConfig, context: SinkContext) -> None:
        """A reload changed options but not the target: render with the new ones."""

    def close(self) -> None:
        """Let go of what it holds open (a file); the worker has stopped."""

    def preview(self, item: Item) -> Preview:
        """What it would send for `item` alone, sending nothing."""

    def preview_backlog(self, items: Sequence[Item]) -> list[str]:
        """How `items`, all waiting at once, would go out now, as lines for `logship
        preview --backlog`: its requests as its own `batch` makes them, at its budget;
        sending nothing."""


class Editor(Protocol):
    """A sink whose messages can be edited after they were sent (Discord): noise control
    edits a counted error's message to show its repeats."""

    async def edit(self, message_id: str, event: Event) -> Answer | None:
        """Show `event` in place of the message `message_id`; None when it cannot be
        edited at all (a forum post whose message id is not kept)."""


@dataclass
class SinkContext:
    """What sinks of one process share: set up once by whoever runs them (the daemon,
    `logship replay`, `logship test-webhook`)."""

    config: Config | None = None  # None: no routes or templates (a sink made in code)
    host: str | None = None
    redactor: Redactor | None = None  # secrets out of what is shown (spool.redact = false)
    cluster: RedisLink | None = None  # [cluster]: budgets shared with the other hosts
    shared: dict[str, Any] = field(default_factory=dict)  # per sink type: clients, budgets

    def one(self, key: str, make: Any) -> Any:
        """The shared object `key`, made by `make()` the first time it is asked for."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]

    async def close(self) -> None:
        """Close what the sinks opened (HTTP sessions)."""
        for value in self.shared.values():
            closing = getattr(value, "close", None)
            if closing is not None:
                result = closing()
                if hasattr(result, "__await__"):
                    await result
        self.shared.clear()


class SinkType(Protocol):
    """A kind of sink: `type = "discord"` in a `[sinks.NAME]` table."""

    name: str
    keys: frozenset[str]  # the keys of its own options, beside the worker's common ones

    def parse_options(self, table: Table, key: str) -> Any:
        """Its options from the sink's table (only its `keys` are there), validated; a
        problem is a `ConfigError` naming the key."""

    def check(self, config: Config) -> None:
        """Checks across the whole config (a route's template exists); `ConfigError`."""

    def build(self, config: SinkConfig, context: SinkContext) -> Sink:
        """The sink, ready to send."""

    def describe(self, options: Any) -> str:
        """One line for `logship check`: where it sends and how (no secret)."""

    def same_target(self, old: Any, new: Any) -> bool:
        """Two option sets send to the same place (a reload keeps the worker, its budget
        and its circuit, when they do)."""
