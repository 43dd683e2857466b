"""`logship test-webhook TARGET`: send one real message, report exactly what came back.

TARGET is a sink (the message goes to it through no route), or a level: then a test
event of that level goes through the daemon's own pipeline (`logship.pipeline`: the
routes, their `match` conditions included, redaction, the size cap) and to each sink the
routes pick, rendered with the route's template and mentions. Each is sent once by the
same worker the daemon uses, with no retries: the answer is what it is.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from logship.config import Config, RouteConfig, SinkConfig
from logship.errors import UsageError
from logship.event import Ack, Event, Level
from logship.pipeline import Pipeline
from logship.sinks import build_worker
from logship.sinks.base import SinkContext
from logship.sinks.worker import BatchEnd, Item, SinkWorker
from logship.spool.store import MemorySpool

Echo = Callable[[str], None]
Target = tuple[SinkConfig, RouteConfig | None]


def sample_event(level: Level) -> Event:
    """The message a test sends: it goes through the normal formatter."""
    return Event(
        ts=datetime.now(UTC),
        level=level,
        message=f"logship test message ({level.name.lower()}): if you can read this, "
                "the webhook works. @everyone stays silent.",
        logger="logship.test",
        fields={"host": socket.gethostname()},
        source="logship test-webhook",
    )


def pick_targets(config: Config, target: str) -> tuple[Event, list[Target]]:
    """The test event, and the (sink, route) pairs TARGET names: a sink by name, or the
    sinks the routes pick for a test event of that level. `UsageError` when it names
    nothing."""
    level = Level.__members__.get(target.upper())
    if target in config.sinks:
        return sample_event(level or Level.INFO), [(config.sinks[target], None)]
    if level is None:
        known = ", ".join(sorted(config.sinks)) or "none"
        raise UsageError(f"{target!r} is neither a sink (known: {known}) nor a level "
                         "(debug, info, warning, error, critical)")
    routed = Pipeline(config).route([sample_event(level)])
    if not routed:
        raise UsageError(f"no route sends a {level.name} test event anywhere (a route with "
                         "`match` conditions takes only the events that match them)")
    (event,) = routed
    return event.event, [(config.sinks[sink], route) for route, sink in event.targets]


async def _send_one(worker: SinkWorker, event: Event, route: RouteConfig | None
                    ) -> BatchEnd:
    """Send `event` through `worker` once; how it ended."""
    ended: list[BatchEnd] = []
    worker.on_outcome = lambda _sink, _items, end: ended.append(end)
    event = replace(event, ack=Ack(0))
    event.ack.expect(1)  # type: ignore[union-attr]
    task = asyncio.create_task(worker.run())
    try:
        await worker.put(Item(event, route))
        await worker.drain(timeout=float("inf"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        worker.sink.close()
    return ended[0] if ended else BatchEnd("spooled", 0, None, "not sent")


async def _send(config: Config, event: Event, targets: list[Target], echo: Echo) -> int:
    context = SinkContext(config, socket.gethostname())
    failures = 0
    try:
        for sink, route in targets:
            once = replace(sink, max_attempts=1, circuit_failures=1)  # the answer as it is
            worker = build_worker(once, context, MemorySpool())
            end = await _send_one(worker, event, route)
            answer = worker.last_answer
            ok = end.outcome == "delivered"
            failures += not ok
            status = answer.status if answer is not None and answer.status else "no answer"
            latency = f" in {answer.latency * 1000:.0f} ms" if answer is not None else ""
            via = f" via route {route.name}" if route is not None else ""
            echo(f"{sink.name}{via} ({worker.sink.target}): HTTP {status}{latency} — "
                 f"{'delivered' if ok else end.error}")
            for name, value in (answer.headers if answer is not None else {}).items():
                echo(f"  {name}: {value}")
    finally:
        await context.close()
    return failures


def run_test_webhook(config: Config, target: str, echo: Echo) -> int:
    """Exit status: 0 when every chosen sink took the message, else 1."""
    try:
        event, targets = pick_targets(config, target)
    except UsageError as exc:
        echo(f"error: {exc}")
        return 1
    return 1 if asyncio.run(_send(config, event, targets, echo)) else 0
