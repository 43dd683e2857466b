"""Formatting cost: microseconds to turn one typical event into the request body the
worker sends, next to one HTTP round trip to the local Discord emulator.

`python -m bench.render [--quick]` renders each sample event through a sink's
`Renderer` (embed, then body, then the JSON bytes the client posts), many times, and
prints the median of several rounds in µs per payload. Then it posts real requests to
the emulator on 127.0.0.1 (rate limits off) and prints the median and p99 round trip.
Formatting should be a small fraction of a request: Discord itself answers in tens of
milliseconds, the local emulator in about one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
import orjson

from logship.config import RouteConfig
from logship.emulator.server import FakeDiscord
from logship.event import Event, Level
from logship.sinks.discord.client import WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.render import Renderer
from logship.sinks.discord.templates import load_templates
from logship.sinks.discord.url import WebhookURL

TS = datetime(2025, 7, 15, 20, 42, 7, tzinfo=UTC)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    + "".join(f'  File "/opt/DiscordBots/StatsBot/src/services/m{i}.py", line {60 + i}, in '
              f"step{i}\n    await self.step{i + 1}()\n" for i in range(8))
    + "discord.errors.HTTPException: 503 Service Unavailable (error code: 0): upstream"
)
HUGE_TRACEBACK = TRACEBACK.replace("Traceback (most recent call last):\n", "", 1) * 40
SAMPLES: dict[str, Event] = {
    "error + traceback": Event(TS, Level.ERROR, "Failed to update heartbeat", "monitoring",
                               {"service": "monitoring", "error_type": "HTTPException"},
                               TRACEBACK, "error", "statsbot"),
    "error, traceback attached": Event(TS, Level.ERROR, "Failed to update heartbeat",
                                       "monitoring", {"service": "monitoring"},
                                       HUGE_TRACEBACK, "error", "statsbot"),
    "performance": Event(TS, Level.WARNING, "High memory usage: 84.12MB (threshold: 80.00MB)",
                         None, {"event_type": "high_usage", "metric": "memory", "value": 84.12,
                                "unit": "MB", "threshold": 80.0, "ratio": 1.052},
                         None, "performance", "statsbot"),
    "member": Event(TS, Level.INFO, "Member join recorded: alice#0", "StatsTracker",
                    {"member_id": "123456789012345678", "member_name": "alice#0",
                     "event_type": "join"}, None, "member", "statsbot"),
    "status": Event(TS, Level.INFO, "Heartbeat updated successfully", "monitoring",
                    {"cpu": "0.3%", "memory": "2.1%", "threads": 12, "event_type": "heartbeat"},
                    None, "status", "statsbot"),
    "log": Event(TS, Level.INFO, "Command /stats used", "commands",
                 {"command": "/stats", "member_id": "345678901234567890"}, None, "log",
                 "statsbot"),
}
TEMPLATES = {"oncall": {
    "title": "{{ level_emoji }} {{ fields.service or source }}: {{ first_line }}",
    "description": "{% if exception %}{{ exception | codeblock(1500) }}{% endif %}",
    "fields": [{"name": "Service", "value": "{{ fields.service }}",
                "when": "fields.service is defined"}],
}}
URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/bench")


def _cases() -> list[tuple[str, Callable[[], object]]]:
    templates = load_templates(TEMPLATES)
    mention = RouteConfig(name="errors", sinks=("alerts",), mention=("<@&111111111111111111>",))
    templated = RouteConfig(name="oncall", sinks=("alerts",), template="oncall")
    embeds = Renderer(discord_sink(name="alerts", url=URL, username="StatsBot logs"),
                      templates, "bot-1", [mention])
    text = Renderer(discord_sink(name="alerts", url=URL, embeds=False), templates, "bot-1",
                    [mention])

    def one(renderer: Renderer, event: Event, route: RouteConfig | None) -> Callable[[], object]:
        def make() -> bytes:
            message = renderer.payload([renderer.embed(event, route)], route)
            return orjson.dumps(message.body)
        return make

    cases = [(name, one(embeds, event, mention)) for name, event in SAMPLES.items()]
    cases.append(("error + traceback, template", one(embeds, SAMPLES["error + traceback"],
                                                     templated)))
    cases.append(("error + traceback, plain text", one(text, SAMPLES["error + traceback"],
                                                       mention)))
    batch = [replace(SAMPLES["error + traceback"], message=f"error {n}") for n in range(10)]

    def ten() -> bytes:
        made = [embeds.embed(e, mention) for e in batch]
        return orjson.dumps(embeds.payload(made[:embeds.pack(made)], mention).body)

    cases.append(("10 errors in one message", ten))
    return cases


def time_per_call(make: Callable[[], object], count: int, rounds: int = 5) -> float:
    """Median seconds per call over `rounds` rounds of `count` calls."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            make()
        timings.append((time.perf_counter() - started) / count)
    return statistics.median(timings)


async def round_trips(count: int) -> list[float]:
    """Seconds per Execute Webhook round trip to the local emulator (limits off)."""
    async with FakeDiscord(webhook_limit=None, channel_limit=None) as fake, \
            aiohttp.ClientSession() as session:
        url = WebhookURL.parse(fake.webhook_url(token="bench"))
        renderer = Renderer(discord_sink(name="alerts", url=url))
        message = renderer.payload([renderer.embed(SAMPLES["error + traceback"])])
        client = WebhookClient(session)
        took = []
        for _ in range(count):
            response = await client.execute(url, message.body)
            took.append(response.latency)
            if response.status != 200:
                raise RuntimeError(f"the emulator answered {response.describe()}")
        return took


def run(quick: bool = False) -> list[str]:
    count = 300 if quick else 3000
    rows = []
    slowest = 0.0
    for name, make in _cases():
        per = time_per_call(make, count // 10 if name.startswith("10 ") else count)
        slowest = max(slowest, per)
        rows.append(f"{name:<32} {per * 1e6:8.1f} µs per payload")
    took = sorted(asyncio.run(round_trips(100 if quick else 1000)))
    median, p99 = statistics.median(took), took[min(len(took) - 1, round(0.99 * len(took)))]
    rows.append(f"{'HTTP round trip (local emulator)':<32} {median * 1e6:8.1f} µs median, "
                f"{p99 * 1e6:.1f} µs p99 ({len(took)} requests)")
    rows.append(f"the slowest single payload costs {slowest / median:.1%} of one local round "
                "trip")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    for row in run(parser.parse_args().quick):
        print(row, flush=True)


if __name__ == "__main__":
    main()
