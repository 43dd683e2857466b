"""Building a Discord sink's worker in a test, with the client and budget it is given
(a session against aioresponses, a stand-in client, a generous limiter)."""

from __future__ import annotations

from typing import Any

from logship.config import SinkConfig
from logship.redact import Redactor
from logship.sinks.base import SinkContext
from logship.sinks.discord.ratelimit import RateLimiter, RateLimits
from logship.sinks.discord.sink import DiscordSink
from logship.sinks.worker import SinkWorker, SpoolLike


def generous_limiter(**budget: Any) -> RateLimiter:
    """A budget that does not hold a test back (unless it says otherwise)."""
    window = {"channel": "c", "webhook_requests": 1000, "webhook_window": 1.0,
              "channel_messages": 1000, "channel_window": 1.0} | budget
    return RateLimits().limiter(**window)


def discord_worker(config: SinkConfig, spool: SpoolLike, *, client: Any,
                   limiter: RateLimiter | None = None, redactor: Redactor | None = None
                   ) -> SinkWorker:
    """A worker for `config` that sends with `client`, retrying at once."""
    sink = DiscordSink(config, SinkContext(redactor=redactor), client=client,
                       limiter=limiter or generous_limiter())
    return SinkWorker(sink, spool, backoff=lambda *_: 0.0)
