"""The one pipeline every command runs events through:

    route → redact and cap → noise → sink queues

- `route` (`pipeline.route`): which sinks an event goes to, through which route, judged on
  the event as the log wrote it;
- redact and cap (`pipeline.outgoing`): an event that goes somewhere loses its secrets and
  is cut to its source's `max_event_bytes`, once, before anything queues, spools or
  shows it (unless `[spool] redact = false`: then each sink redacts what it shows);
- noise (`logship.noise`): dedupe windows and storm mode, when the caller has them;
- sink queues: the sinks' workers (`logship.sinks`), looked up by name at each event (a
  reload may remove one at any await).

`Pipeline.route` is the pure half: `logship preview` and `logship test-webhook` call it and
show or send what it gives; the daemon's `dispatch` runs all four steps. `logship replay`
and the spool's drain put spooled events, routed already, into the same sink queues
(workers built by `logship.sinks.build_worker`).

    >>> from logship.config import RouteConfig
    >>> from logship.event import Event, Level
    >>> pipeline = Pipeline(routes=[RouteConfig(name="errors", sinks=("alerts",),
    ...                                         min_level=Level.ERROR)])
    >>> [(r.event.message, r.sinks) for r in pipeline.route(
    ...     [Event(None, Level.ERROR, "token=hunter22 failed"), Event(None, Level.INFO, "ok")])]
    [('token=[redacted:secret_value] failed', ['alerts'])]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logship.config import MAX_EVENT_BYTES, RouteConfig
from logship.event import Event
from logship.pipeline.outgoing import outgoing
from logship.pipeline.route import Router, Target

if TYPE_CHECKING:
    from logship.config import Config
    from logship.noise.control import NoiseControl
    from logship.redact import Redactor
    from logship.sinks.worker import SinkWorker
    from logship.tail.checkpoint import FileProgress

Workers = Callable[[str], "SinkWorker | None"]
Counter = Callable[[str, "str | None", int], None]  # (kind, route or None, count)


@dataclass(frozen=True, slots=True)
class Routed:
    """An event that goes somewhere: as it leaves (redacted, capped), its size, and the
    (route, sink) pairs it goes to."""

    event: Event
    size: int
    targets: tuple[Target, ...]

    @property
    def sinks(self) -> list[str]:
        return [sink for _, sink in self.targets]


class Pipeline:
    """Route, redact and cap, noise, queue: see the module's doc."""

    def __init__(self, config: Config | None = None, *, routes: Sequence[RouteConfig] = (),
                 redactor: Redactor | None = None, workers: Workers | None = None,
                 noise: NoiseControl | None = None, count: Counter | None = None) -> None:
        from logship.redact import Redactor

        self.config = config
        self.router = Router(config.routes if config is not None else routes)
        self.redactor = redactor or Redactor(config.redact if config is not None else None)
        redact = config is None or config.spool.redact
        self._redact = self.redactor.redact_event if redact else None
        self._max_bytes = (config.max_event_bytes if config is not None
                           else lambda _source: MAX_EVENT_BYTES)
        self._workers = workers or (lambda _name: None)
        self.noise = noise
        self._count = count

    @property
    def shown_redactor(self) -> Redactor | None:
        """What each sink must still redact from what it shows: nothing when events
        leave redacted; everything when they leave raw (`[spool] redact = false`)."""
        return None if self._redact is not None else self.redactor

    def leave(self, event: Event) -> tuple[Event, int]:
        """The second step alone: `event` as it leaves for its sinks (redacted, cut to
        its source's `max_event_bytes`), and its size."""
        return outgoing(event, self._redact, self._max_bytes(event.source))

    def route(self, events: Iterable[Event]) -> list[Routed]:
        """The events that go somewhere, as they leave (the first two steps). Routing
        sees each event as the log wrote it; only one routed somewhere is redacted and
        cut (most lines go nowhere, and their fields are then never even built: see
        `logship.parse.json`)."""
        routed, nowhere = self.router.split(events)
        if self._count is not None:
            for kind, count in nowhere.items():
                self._count(kind, None, count)
        out = []
        for event, targets in routed:
            event, size = self.leave(event)
            if self._count is not None:
                for route, _ in targets:
                    self._count(event.kind, route.name, 1)
            out.append(Routed(event, size, targets))
        return out

    async def dispatch(self, events: list[Event], progress: FileProgress) -> None:
        """All four steps for events read from a file: each event that goes to a sink
        is tracked by the file's watermark (`progress`) until every sink it went to has
        delivered or spooled it; a repeat a dedupe window counts is done at once."""
        from logship.sinks.worker import Item

        for routed in self.route(events):
            event = routed.event
            queued = []
            for route, sink in routed.targets:
                if await self._admit(route, sink, event) and (
                        worker := self._workers(sink)) is not None:
                    queued.append((route, worker))
            if not queued:
                continue
            event.ack = progress.track(event.offset, len(queued))
            for route, worker in queued:
                item = Item(event, route, size=routed.size)
                if self.noise is not None:
                    await self.noise.queue(worker, item)
                else:
                    await worker.put(item)

    async def _admit(self, route: RouteConfig, sink: str, event: Event) -> bool:
        return self.noise is None or await self.noise.admit(route, sink, event)
