"""The sink worker against scripted Discord answers (aioresponses): batching, 429s,
retries, refusals, a deleted webhook, the spool fallback, and acknowledgements."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aioresponses import CallbackResult, aioresponses

from logship.config import SinkConfig
from logship.event import Event, Level
from logship.sinks.base import SinkContext
from logship.sinks.discord.client import WebhookClient
from logship.sinks.discord.options import discord_sink
from logship.sinks.discord.ratelimit import RateLimits
from logship.sinks.discord.url import WebhookURL
from logship.sinks.worker import Circuit, Item, SinkWorker
from logship.spool.store import Spool, read_segment, segments
from logship.tail.checkpoint import FileProgress
from tests.discord_schema import execute_webhook_errors
from tests.workers import discord_worker

URL = WebhookURL.parse("http://127.0.0.1:9/api/webhooks/123456789012345678/secret-token")
POST = re.compile(r"^http://127\.0\.0\.1:9/api/v10/webhooks/123456789012345678/secret-token\?.*$")
OK = {"id": "1", "channel_id": "2", "type": 0}


def sink(**options: Any) -> SinkConfig:
    defaults: dict[str, Any] = dict(name="errors", url=URL, max_attempts=3, retry_base=0.0,
                                    retry_cap=0.0)
    return discord_sink(**(defaults | options))




def make_worker(session: aiohttp.ClientSession, tmp_path: Path, *, webhook_requests: int = 50,
                webhook_window: float = 1.0, **options: Any) -> SinkWorker:
    config = sink(**options)
    limiter = RateLimits().limiter(channel="c", webhook_requests=webhook_requests,
                                   webhook_window=webhook_window, channel_messages=500,
                                   channel_window=1.0)
    return discord_worker(config, Spool(tmp_path / "spool"), client=WebhookClient(session),
                          limiter=limiter)


def events(progress: FileProgress, *levels: Level) -> list[Item]:
    items = []
    for i, level in enumerate(levels):
        event = Event(ts=None, level=level, message=f"event {i}", offset=(i + 1) * 10)
        event.ack = progress.track(event.offset, 1)
        items.append(Item(event))
    return items


async def run_until_idle(worker: SinkWorker, items: list[Item]) -> None:
    for item in items:
        await worker.put(item)
    task = asyncio.create_task(worker.run())
    assert await worker.drain(timeout=10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def sent_payloads(mocked: aioresponses) -> list[dict[str, Any]]:
    return [orjson.loads(call.kwargs["data"]) for calls in mocked.requests.values()
            for call in calls]


async def test_queued_events_share_one_request_errors_first(mocked, session, tmp_path) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, events(progress, Level.INFO, Level.ERROR, Level.WARNING))
    (payload,) = sent_payloads(mocked)
    titles = [embed.get("title", "") for embed in payload["embeds"]]
    assert len(titles) == 3 and "ERROR" in titles[0] and "WARNING" in titles[1]
    assert payload["allowed_mentions"] == {"parse": []}
    assert progress.committed == 30 and progress.pending == 0


async def test_wait_true_is_always_sent(mocked, session, tmp_path) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, events(FileProgress(0), Level.ERROR))
    ((_, url),) = list(mocked.requests)
    assert url.query["wait"] == "true"


async def test_429_waits_retry_after_then_resends(mocked, session, tmp_path) -> None:
    mocked.post(POST, status=429, payload={"retry_after": 0.2, "global": False})
    mocked.post(POST, payload=OK)
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run_until_idle(worker, events(progress, Level.ERROR))
    assert loop.time() - started >= 0.2  # it waited (a lower bound, not a timing claim)
    assert worker.stats.rate_limited == 1 and worker.stats.delivered == 1
    assert progress.committed == 10


async def test_server_errors_are_retried(mocked, session, tmp_path) -> None:
    mocked.post(POST, status=502)
    mocked.post(POST, status=500)
    mocked.post(POST, payload=OK)
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, events(progress, Level.ERROR))
    assert worker.stats.retries == 2 and worker.stats.delivered == 1
    assert progress.committed == 10


async def test_connection_errors_exhaust_into_the_spool(mocked, session, tmp_path) -> None:
    mocked.post(POST, exception=aiohttp.ClientConnectionError("refused"), repeat=True)
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path, max_attempts=2)
    await run_until_idle(worker, events(progress, Level.ERROR, Level.CRITICAL))
    (segment,) = segments(tmp_path / "spool")
    records = list(read_segment(segment))
    assert [r.reason for r in records] == ["fallback", "fallback"]
    assert all("refused" in r.error and r.attempts == 2 for r in records)
    assert progress.committed == 20  # spooled counts as done: the spool holds them


async def test_refused_batch_is_split_and_the_bad_event_is_dead(mocked, session, tmp_path) -> None:
    refusal = {"code": 50035, "message": "Invalid Form Body"}

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        body = orjson.loads(kwargs["data"])
        bad = any("poison" in e.get("title", "") for e in body["embeds"])
        return CallbackResult(status=400, payload=refusal) if bad else CallbackResult(payload=OK)

    mocked.post(POST, callback=answer, repeat=True)
    progress = FileProgress(0)
    items = events(progress, *[Level.ERROR] * 4)
    items[2].event.message = "poison"
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, items)
    assert worker.stats.delivered == 3
    (record,) = list(read_segment(segments(tmp_path / "spool")[0]))
    assert record.reason == "dead" and "50035" in record.error
    assert record.event.message == "poison"
    assert progress.committed == 40


async def test_deleted_webhook_stops_calls_and_spools(mocked, session, tmp_path, caplog) -> None:
    mocked.post(POST, status=404, payload={"message": "Unknown Webhook", "code": 10015},
                repeat=True)
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, events(progress, Level.ERROR))
    await run_until_idle(worker, events(progress, Level.ERROR, Level.ERROR))
    assert worker.stats.requests == 1
    assert worker.gone == "webhook deleted (404, code 10015): unknown webhook"
    spooled = [r for s in segments(tmp_path / "spool") for r in read_segment(s)]
    assert {r.reason for r in spooled} == {"dead"}
    assert len(list(read_segment(segments(tmp_path / "spool")[0]))) + sum(
        len(list(read_segment(s))) for s in segments(tmp_path / "spool")[1:]) == 3
    assert "secret-token" not in caplog.text and "…/webhooks/123456789012345678/****" in caplog.text


async def test_abandon_spools_what_is_left(session, tmp_path) -> None:
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path)
    for item in events(progress, Level.ERROR, Level.INFO):
        await worker.put(item)
    assert worker.abandon("shutdown before delivery") == 2
    assert progress.committed == 20
    records = list(read_segment(segments(tmp_path / "spool")[0]))
    assert {r.error for r in records} == {"shutdown before delivery"}


async def test_a_backlog_goes_out_as_digests_naming_every_event(mocked, session, tmp_path
                                                                ) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    progress = FileProgress(0)
    items = events(progress, *[Level.ERROR] * 150)
    # 15 full messages would take longer than digest_after at 2 requests per 0.5 s
    worker = make_worker(session, tmp_path, queue_size=200, webhook_requests=2,
                         webhook_window=0.5, digest_after=0.1, files=False)
    await run_until_idle(worker, items)
    payloads = sent_payloads(mocked)
    assert len(payloads) <= 4  # one request per 10 events would take 15
    assert worker.stats.digests == len(payloads)
    listed = "\n".join(e.get("description", "") for p in payloads for e in p["embeds"])
    assert all(f"event {n}\n" in listed + "\n" for n in range(150))
    assert all(execute_webhook_errors(p) == [] for p in payloads)
    assert progress.committed == 1500 and worker.stats.delivered == 150


async def test_the_circuit_opens_then_a_probe_closes_it(mocked, session, tmp_path) -> None:
    mocked.post(POST, status=503, repeat=2)
    mocked.post(POST, payload=OK, repeat=True)
    now = [0.0]
    progress = FileProgress(0)
    worker = make_worker(session, tmp_path, circuit_failures=2, max_attempts=10)
    worker.circuit = Circuit(2, 30.0, clock=lambda: now[0])
    await run_until_idle(worker, events(progress, Level.ERROR))
    assert worker.circuit.is_open and worker.stats.requests == 2
    later = [Item(Event(ts=None, level=Level.ERROR, message="while open", offset=20))]
    later[0].event.ack = progress.track(20, 1)
    await run_until_idle(worker, later)  # straight to the spool, no request
    assert worker.stats.requests == 2 and worker.stats.spooled == 2

    now[0] = 31.0  # the cool-down is over: the next event is the probe
    probe = [Item(Event(ts=None, level=Level.ERROR, message="probe", offset=30))]
    probe[0].event.ack = progress.track(30, 1)
    await run_until_idle(worker, probe)
    assert not worker.circuit.tripped and worker.stats.delivered == 1
    assert progress.committed == 30


async def test_a_refused_username_is_dropped_not_resent(mocked, session, tmp_path) -> None:
    mocked.post(POST, status=400, payload={"code": 50035, "message": "Invalid Form Body",
                                           "errors": {"username": {"_errors": []}}})
    mocked.post(POST, payload=OK)
    worker = make_worker(session, tmp_path, username="bot logs")
    await run_until_idle(worker, events(FileProgress(0), Level.ERROR))
    first, second = sent_payloads(mocked)
    assert first["username"] == "bot logs" and "username" not in second
    assert worker.stats.delivered == 1


async def test_a_timeout_is_retried_and_counted_as_a_possible_duplicate(mocked, session,
                                                                        tmp_path) -> None:
    mocked.post(POST, exception=TimeoutError())
    mocked.post(POST, payload=OK)
    worker = make_worker(session, tmp_path)
    await run_until_idle(worker, events(FileProgress(0), Level.ERROR))
    assert worker.stats.possible_duplicates == 1 and worker.stats.delivered == 1


async def test_a_reload_during_a_digest_retry_resends_the_same_digest(mocked, session, tmp_path
                                                                     ) -> None:
    worker = make_worker(session, tmp_path, queue_size=200, webhook_requests=2,
                         webhook_window=0.5, digest_after=0.1, files=False)

    def reload_then_429(url: Any, **kwargs: Any) -> CallbackResult:
        config = worker.config
        plain = dataclasses.replace(config, options=dataclasses.replace(config.options,
                                                                        embeds=False))
        worker.sink.reconfigure(plain, SinkContext())  # what a SIGHUP does
        return CallbackResult(status=429, payload={"retry_after": 0, "global": False})

    mocked.post(POST, callback=reload_then_429)
    mocked.post(POST, payload=OK, repeat=True)
    progress = FileProgress(0)
    await run_until_idle(worker, events(progress, *[Level.ERROR] * 150))
    first, again, *_ = sent_payloads(mocked)
    assert again == first  # the same request: the reload applies to the next one
    assert progress.committed == 1500 and worker.stats.delivered == 150


async def test_an_unexpected_error_spools_its_batch_and_the_worker_goes_on(
        mocked, session, tmp_path, caplog) -> None:
    mocked.post(POST, payload=OK, repeat=True)
    worker = make_worker(session, tmp_path)
    render, calls = worker.sink.renderer.payload, []

    def payload(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return render(*args, **kwargs)

    worker.sink.renderer.payload = payload  # type: ignore[method-assign]
    progress = FileProgress(0)
    first, second = events(progress, Level.ERROR, Level.ERROR)
    with caplog.at_level(logging.ERROR, logger="logship.sinks.worker"):
        await run_until_idle(worker, [first])
        await run_until_idle(worker, [second])
    (record,) = read_segment(segments(tmp_path / "spool")[0])
    assert record.event.message == "event 0" and "a bug" in record.error
    assert progress.committed == 20 and worker.stats.delivered == 1
    assert any(r.exc_info and "unexpected error" in r.getMessage() for r in caplog.records)


async def test_a_mixed_batch_spools_only_the_events_out_of_attempts(mocked, session, tmp_path
                                                                   ) -> None:
    mocked.post(POST, status=503)
    mocked.post(POST, payload=OK)
    progress = FileProgress(0)
    tried, fresh = events(progress, Level.ERROR, Level.ERROR)
    tried.attempts = 2  # split off a refused batch after two failures, say
    worker = make_worker(session, tmp_path, max_attempts=3)
    await run_until_idle(worker, [tried, fresh])
    (record,) = read_segment(segments(tmp_path / "spool")[0])
    assert record.event.message == "event 0" and record.attempts == 3
    assert worker.stats.delivered == 1 and progress.committed == 20
    assert len(sent_payloads(mocked)[1]["embeds"]) == 1  # the retry carries only event 1
