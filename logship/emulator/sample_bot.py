"""A sample bot's log lines, as StatsBot's StructuredLogger writes them (JSON lines).

Used by `logship demo` and the benchmarks. The lines cycle through what a real bot logs:
heartbeats, member joins, slow operations, warnings, errors with tracebacks, and one
line quoting `@everyone` (which must never ping anyone).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 265, in '
    "update_heartbeat\n"
    "    embed = await self.create_heartbeat_embed()\n"
    '  File "/opt/DiscordBots/StatsBot/src/services/monitoring.py", line 301, in '
    "create_heartbeat_embed\n"
    "    stats = await self.http.get_stats()\n"
    "discord.errors.HTTPException: 503 Service Unavailable (error code: 0): upstream"
)

_SCRIPT: list[dict[str, Any]] = [
    {"level": "INFO", "message": "Heartbeat updated successfully",
     "context": {"cpu": "0.3%", "memory": "2.1%", "threads": 12}, "service": "monitoring"},
    {"level": "INFO", "message": "Member join recorded: alice#0",
     "context": {"member_id": 123456789012345678, "username": "alice#0",
                 "guild_id": "987654321098765432"}, "service": "StatsTracker"},
    {"level": "DEBUG", "message": "Cache refreshed", "context": {"entries": 412}},
    {"level": "WARNING", "message": "Slow operation detected: update_stats took 2450.12ms",
     "context": {}, "operation": "update_stats", "duration_ms": 2450.12},
    {"level": "ERROR", "message": "Failed to update heartbeat",
     "context": {"traceback": _TRACEBACK, "error_type": "HTTPException"},
     "service": "monitoring",
     "error": "HTTPException: 503 Service Unavailable (error code: 0): upstream"},
    {"level": "INFO", "message": "Member left: bob#0",
     "context": {"member_id": "234567890123456789", "username": "bob#0"},
     "service": "StatsTracker"},
    {"level": "WARNING", "message": "High memory usage: 84.12MB (threshold: 80.00MB)",
     "context": {"memory_mb": 84.12, "threshold_mb": 80.0}},
    {"level": "ERROR", "message": "User quoted '@everyone' in a command: this must not ping",
     "context": {"command": "/stats", "member_id": 345678901234567890}},
    {"level": "CRITICAL", "message": "Maximum reconnection attempts reached, bot will exit",
     "context": {"max_attempts": 20}},
]


def sample_records(now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """An endless stream of sample records, each stamped with the current time."""
    for template in itertools.cycle(_SCRIPT):
        stamp = (now or datetime.now(UTC)).isoformat()
        yield {"timestamp": stamp, **template}


def sample_lines(count: int) -> bytes:
    """`count` sample JSON lines, newline-terminated (for benchmarks and tests)."""
    stamp = datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)
    records = itertools.islice(sample_records(stamp), count)
    return b"".join(orjson.dumps(r) + b"\n" for r in records)
