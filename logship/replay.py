"""`logship replay SPOOL_DIR`: re-send what an outage (or a refusal) left in the spool.

Replay reuses the daemon's `SinkWorker`, so batching, rate limits, retries and the
handling of Discord's answers are the same; only its "spool" is different: events the
worker would spool again are collected and written back into their segment, so a
segment keeps exactly the events that are still undelivered (with their new error).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import typer

from logship.config import Config
from logship.deliver import Item, SinkWorker
from logship.discord.client import WebhookClient
from logship.discord.payload import pack, render_embed
from logship.discord.ratelimit import RateLimits
from logship.event import Ack
from logship.spool import SpoolRecord, read_segment, rewrite_segment, segments


class _Collector:
    """Stands in for the spool during replay: keeps what failed again, in memory."""

    def __init__(self) -> None:
        self.failed: dict[int, SpoolRecord] = {}
        self.on_freed: list[Callable[[], None]] = []

    def recount(self) -> None:
        """Nothing to measure: this spool lives in memory."""

    def append(self, records: list[SpoolRecord]) -> None:
        for record in records:
            self.failed[id(record.event)] = record


@dataclass
class _Segment:
    path: Path
    records: list[SpoolRecord]
    kept: list[SpoolRecord] = field(default_factory=list)  # not replayed (filter, unknown sink)


@dataclass
class ReplaySummary:
    delivered: int = 0
    remaining: int = 0
    unknown_sinks: Counter[str] = field(default_factory=Counter)


def _load(spool_dir: Path, sink: str | None, config: Config) -> list[_Segment]:
    loaded = []
    for path in segments(spool_dir, sink):
        segment = _Segment(path, [])
        for record in read_segment(path):
            if record.sink in config.sinks:
                segment.records.append(record)
            else:
                segment.kept.append(record)
        loaded.append(segment)
    return loaded


async def _deliver(config: Config, by_sink: dict[str, list[SpoolRecord]],
                   progress: Callable[[int], None]) -> _Collector:
    collector = _Collector()
    limits = RateLimits()
    async with aiohttp.ClientSession() as session:
        client = WebhookClient(session)
        workers = []
        for name, records in by_sink.items():
            sink = config.sinks[name]
            limiter = limits.limiter(
                channel=sink.channel or f"webhook:{sink.url.webhook_id}",
                webhook_requests=sink.webhook_requests, webhook_window=sink.webhook_window,
                channel_messages=sink.channel_messages, channel_window=sink.channel_window)
            worker = SinkWorker(sink, client, limiter, collector)  # type: ignore[arg-type]
            workers.append((worker, records))
        await asyncio.gather(*(_feed(w, records, progress) for w, records in workers))
    return collector


async def _feed(worker: SinkWorker, records: list[SpoolRecord],
                progress: Callable[[int], None]) -> None:
    task = asyncio.create_task(worker.run())
    try:
        for record in records:
            record.event.ack = Ack(record.event.offset, lambda _ack: progress(1))
            record.event.ack.expect(1)
            await worker.put(Item(record.event, attempts=0))
        await worker.drain(timeout=float("inf"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _dry_run(segments_: list[_Segment], echo: Callable[[str], None]) -> int:
    by_sink: dict[str, list[SpoolRecord]] = {}
    for segment in segments_:
        for record in segment.records:
            by_sink.setdefault(record.sink, []).append(record)
    total = 0
    for name, records in sorted(by_sink.items()):
        reasons = Counter(r.reason for r in records)
        embeds = [render_embed(r.event) for r in records]
        requests = 0
        while embeds:
            count = pack(embeds)
            embeds = embeds[count:]
            requests += 1
        total += len(records)
        echo(f"{name}: {len(records)} events ({', '.join(f'{n} {k}' for k, n in reasons.items())})"
             f" in {requests} requests")
    echo(f"dry run: {total} events would be sent; nothing was changed")
    return 0


def run_replay(config: Config, spool_dir: Path, *, sink: str | None = None,
               dry_run: bool = False, echo: Callable[[str], None] = typer.echo) -> int:
    """Exit status: 0 when every replayed event was delivered, 1 when some remain."""
    loaded = _load(spool_dir, sink, config)
    unknown = Counter(r.sink for s in loaded for r in s.kept)
    for name, count in unknown.items():
        echo(f"warning: {count} events for sink {name!r}, which the config does not define; "
             "they stay in the spool")
    if dry_run:
        return _dry_run(loaded, echo)
    by_sink: dict[str, list[SpoolRecord]] = {}
    for segment in loaded:
        for record in segment.records:
            by_sink.setdefault(record.sink, []).append(record)
    total = sum(len(v) for v in by_sink.values())
    collector = _run_with_progress(config, by_sink, total)
    remaining = 0
    for segment in loaded:
        keep = segment.kept + [_failed_again(r, collector.failed[id(r.event)])
                               for r in segment.records if id(r.event) in collector.failed]
        remaining += len(keep)
        rewrite_segment(segment.path, keep)
    delivered = total - len(collector.failed)
    echo(f"replay: {delivered} delivered, {remaining} remain in {spool_dir}")
    return 0 if remaining == 0 else 1


def _failed_again(before: SpoolRecord, now: SpoolRecord) -> SpoolRecord:
    """The record to keep: the new error and reason, the history of the old one."""
    now.attempts += before.attempts
    now.first_failure = before.first_failure
    return now


def _run_with_progress(config: Config, by_sink: dict[str, list[SpoolRecord]],
                       total: int) -> _Collector:
    if sys.stderr.isatty() and total:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("replaying", total=total)
            return asyncio.run(_deliver(config, by_sink, lambda n: bar.advance(task, n)))
    return asyncio.run(_deliver(config, by_sink, lambda n: None))
