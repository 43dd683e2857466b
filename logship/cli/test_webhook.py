"""`logship test-webhook TARGET`: send one real message, report exactly what came back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp

from logship.config import Config, SinkConfig
from logship.event import Event, Level
from logship.sinks.discord.client import Outcome, WebhookClient
from logship.sinks.discord.render import build_payload, render_embed

Echo = Callable[[str], None]


def pick_sinks(config: Config, target: str) -> list[SinkConfig]:
    """The sinks TARGET names: a sink by name, or every sink whose routes take that level.

    Raises ValueError with a helpful text when TARGET names nothing.
    """
    if target in config.sinks:
        return [config.sinks[target]]
    level = Level.__members__.get(target.upper())
    if level is None:
        known = ", ".join(sorted(config.sinks)) or "none"
        raise ValueError(f"{target!r} is neither a sink (known: {known}) nor a level "
                         "(debug, info, warning, error, critical)")
    names = dict.fromkeys(s for r in config.routes if level >= r.min_level for s in r.sinks)
    if not names:
        raise ValueError(f"no route sends {level.name} events anywhere")
    return [config.sinks[name] for name in names]


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


async def _send(sinks: list[SinkConfig], level: Level, echo: Echo) -> int:
    failures = 0
    async with aiohttp.ClientSession() as session:
        for sink in sinks:
            client = WebhookClient(session, timeout=sink.timeout)
            payload = build_payload([render_embed(sample_event(level))], username=sink.username,
                                    avatar_url=sink.avatar_url)
            response = await client.execute(sink.url, payload)
            ok = response.outcome is Outcome.DELIVERED
            failures += not ok
            status = response.status or "no answer"
            echo(f"{sink.name} ({sink.url.masked}): HTTP {status} in "
                 f"{response.latency * 1000:.0f} ms — {'delivered' if ok else response.describe()}")
            for name, value in response.rate_limit_headers().items():
                echo(f"  {name}: {value}")
    return failures


def run_test_webhook(config: Config, target: str, echo: Echo) -> int:
    """Exit status: 0 when every chosen webhook accepted the message, else 1."""
    try:
        sinks = pick_sinks(config, target)
    except ValueError as exc:
        echo(f"error: {exc}")
        return 1
    level = Level.__members__.get(target.upper(), Level.INFO)
    return 1 if asyncio.run(_send(sinks, level, echo)) else 0
