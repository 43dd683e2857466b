"""Metrics: what a scrape shows, read from the daemon's real objects, served over HTTP."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from logship.event import Event, Level
from logship.observe.metrics import (
    FileFigures,
    HealthCheck,
    Metrics,
    MetricsServer,
    SinkFigures,
    Snapshot,
    SpoolUsage,
    assess_health,
    parse_listen,
    status_line,
    take_snapshot,
)
from logship.sinks.worker import Circuit, SinkStats, Waiting
from logship.spool.store import Spool, SpoolRecord, mark_drained, rewrite_segment, segments
from logship.tail.checkpoint import FileProgress
from logship.tail.reader import TailedFile

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


SNAPSHOT = Snapshot(
    lines_read=1234,
    lines_cut=2,
    sinks={
        "errors": SinkFigures(queue_depth=7, queue_bytes=5120, circuit_open=True,
                              requests={200: 5, 429: 1, 0: 2},
                              rate_limited=1, retries=3, delivered=40, spooled=6,
                              spool_bytes=2048, spool_events=6),
        "members": SinkFigures(requests={200: 1}, delivered=1),
    },
    files=[FileFigures("/logs/2025-07-16/logs.json", "statsbot", size=5000, committed=4200)],
)


def test_a_scrape_shows_every_figure() -> None:
    metrics = Metrics(lambda: SNAPSHOT)
    metrics.event_routed("error", "errors")
    metrics.event_routed("error", "errors", count=2)
    metrics.event_routed("log", None)
    metrics.delivered("errors", 0.08)
    metrics.delivered("errors", 2.0, count=2)
    found = samples(metrics.exposition().decode())

    assert value(found, "logship_lines_read_total") == 1234
    assert value(found, "logship_lines_cut_total") == 2
    assert value(found, "logship_events_total", kind="error", route="errors") == 3
    assert value(found, "logship_events_total", kind="log", route="") == 1
    assert value(found, "logship_requests_total", sink="errors", status="200") == 5
    assert value(found, "logship_requests_total", sink="errors", status="429") == 1
    assert value(found, "logship_requests_total", sink="errors", status="none") == 2
    assert value(found, "logship_requests_total", sink="members", status="200") == 1
    assert value(found, "logship_rate_limited_total", sink="errors") == 1
    assert value(found, "logship_retries_total", sink="errors") == 3
    assert value(found, "logship_delivered_events_total", sink="errors") == 40
    assert value(found, "logship_spooled_events_total", sink="errors") == 6
    assert value(found, "logship_circuit_open", sink="errors") == 1
    assert value(found, "logship_circuit_open", sink="members") == 0
    assert value(found, "logship_sink_gone", sink="members") == 0
    assert value(found, "logship_queue_depth", sink="errors") == 7
    assert value(found, "logship_queue_bytes", sink="errors") == 5120
    assert value(found, "logship_spool_bytes", sink="errors") == 2048
    assert value(found, "logship_spool_events", sink="errors") == 6
    assert value(found, "logship_checkpoint_lag_bytes", source="statsbot",
                 path="/logs/2025-07-16/logs.json") == 800
    assert value(found, "logship_delivery_latency_seconds_count", sink="errors") == 3
    assert value(found, "logship_delivery_latency_seconds_sum", sink="errors") == 4.08
    assert value(found, "logship_delivery_latency_seconds_bucket", sink="errors", le="0.1") == 1


def test_the_snapshot_is_read_at_every_scrape() -> None:
    calls: list[int] = []

    def source() -> Snapshot:
        calls.append(1)
        return Snapshot(lines_read=len(calls))

    metrics = Metrics(source)
    assert calls == []  # nothing is read until someone scrapes
    for expected in (1, 2):
        found = samples(metrics.exposition().decode())
        assert value(found, "logship_lines_read_total") == expected


def test_without_a_source_or_with_a_failing_one_a_scrape_still_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    assert value(samples(metrics.exposition().decode()), "logship_lines_read_total") == 0

    def broken() -> Snapshot:
        raise RuntimeError("tailer not ready")

    metrics.set_source(broken)
    with caplog.at_level(logging.ERROR, "logship.observe.metrics"):
        text = metrics.exposition().decode()
    assert value(samples(text), "logship_lines_read_total") == 0
    assert "tailer not ready" in caplog.text


def test_two_instances_do_not_share_a_registry() -> None:
    one, two = Metrics(), Metrics()
    one.event_routed("error", "errors")
    assert "logship_events_total{" not in two.exposition().decode()


# -- reading the daemon's real objects ------------------------------------------------


def test_take_snapshot_reads_the_real_worker_and_file_types(tmp_path: Path) -> None:
    log_file = tmp_path / "logs.json"
    log_file.write_bytes(b"x" * 1000)
    reader = TailedFile.open(str(log_file), 1000, 65536)
    progress = FileProgress(committed=600)
    tracked = SimpleNamespace(source=SimpleNamespace(name="statsbot"), reader=reader,
                              progress=progress)
    tailer = SimpleNamespace(lines_read=10, lines_cut=0, files=lambda: [tracked])

    stats = SinkStats(requests=3, delivered=12, rate_limited=1, retries=1,
                      by_status={200: 2, 429: 1})
    circuit = Circuit(threshold=1, cooldown=30.0)
    circuit.failed()
    worker = SimpleNamespace(stats=stats, backlog=5, queued_bytes=2500, gone=None,
                             circuit=circuit)
    gone = SimpleNamespace(stats=SinkStats(), backlog=0, queued_bytes=0,
                           gone="webhook deleted (404)", circuit=Circuit(5, 30.0))

    spool = Spool(tmp_path / "spool")
    spool.append([_record("errors"), _record("errors"), _record("retired")])
    snap = take_snapshot(tailer, {"errors": worker, "members": gone},
                         SpoolUsage(tmp_path / "spool"))
    reader.close()
    spool.close()

    assert snap.lines_read == 10
    assert snap.files == [FileFigures(str(log_file), "statsbot", 1000, 600)]
    errors = snap.sinks["errors"]
    assert (errors.queue_depth, errors.circuit_open, errors.gone) == (5, True, None)
    assert errors.queue_bytes == 2500
    assert errors.requests == {200: 2, 429: 1}
    assert (errors.delivered, errors.rate_limited, errors.retries) == (12, 1, 1)
    assert errors.spool_events == 2
    assert errors.spool_bytes == sum(p.stat().st_size for p in segments(spool.root, "errors"))
    assert snap.sinks["members"].gone == "webhook deleted (404)"
    assert snap.sinks["retired"].spool_events == 1  # still spooled for a removed sink


def test_a_parked_file_is_measured_by_name(tmp_path: Path) -> None:
    log_file = tmp_path / "bot.log"
    log_file.write_bytes(b"line\n" * 10)
    reader = TailedFile.open(str(log_file), 50, 65536)
    reader.close()
    tracked = SimpleNamespace(source=SimpleNamespace(name="bot"), reader=reader,
                              progress=FileProgress(committed=20))
    tailer = SimpleNamespace(lines_read=0, lines_cut=0, files=lambda: [tracked])
    assert take_snapshot(tailer, {}).files[0].lag == 30
    log_file.unlink()
    assert take_snapshot(tailer, {}).files == []


def _record(sink: str) -> SpoolRecord:
    event = Event(ts=datetime(2025, 7, 16, tzinfo=UTC), level=Level.ERROR, message="boom")
    return SpoolRecord(event=event, sink=sink, reason="fallback", error="503")


def test_spool_usage_counts_appends_and_notices_rewrites(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    usage = SpoolUsage(tmp_path)
    assert usage.measure() == {}
    spool.append([_record("errors")] * 3)
    assert usage.measure()["errors"][1] == 3
    spool.append([_record("errors")] * 2)  # appended to the same segment
    (segment,) = segments(tmp_path, "errors")
    assert usage.measure() == {"errors": (segment.stat().st_size, 5)}
    size = segment.stat().st_size
    mark_drained(segment, 2 * size // 5)  # a drain sent the first two
    assert usage.measure() == {"errors": (size, 3)}
    spool.append([_record("errors")])
    assert usage.measure() == {"errors": (segment.stat().st_size, 4)}
    spool.close()
    rewrite_segment(segment, [_record("errors")])  # the rest went too, but for one
    assert usage.measure()["errors"][1] == 1
    rewrite_segment(segment, [])
    assert usage.measure() == {}


# -- health and status ------------------------------------------------------------------


def test_health_names_what_is_wrong() -> None:
    healthy, body = assess_health(SNAPSHOT)
    assert not healthy
    assert body["reasons"] == ["sink errors: circuit open (webhook failing)"]
    assert body["sinks"]["members"]["state"] == "ok"
    gone = Snapshot(sinks={"a": SinkFigures(gone="webhook deleted (404, code 10015)")})
    assert assess_health(gone)[1]["reasons"] == [
        "sink a: webhook gone: webhook deleted (404, code 10015)"]
    assert assess_health(Snapshot(sinks={"a": SinkFigures(spool_events=9)}))[0]


def test_status_line() -> None:
    assert status_line(SNAPSHOT) == ("1234 lines read, 1 files followed; queued 7; "
                                     "spool 6 events (2.0 KiB); errors: circuit open")


@pytest.mark.parametrize("text", ["host", "127.0.0.1:http", "127.0.0.1:70000", "::1:80",
                                  "[::1]:-1"])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


def test_parse_listen_defaults_to_loopback() -> None:
    assert parse_listen(":9308") == ("127.0.0.1", 9308)
    assert parse_listen("localhost:9100") == ("localhost", 9100)


# -- the HTTP server --------------------------------------------------------------------


State = dict[str, Any]


@pytest.fixture
async def served() -> AsyncIterator[tuple[MetricsServer, State]]:
    state: State = {"snapshot": SNAPSHOT}
    metrics = Metrics(lambda: state["snapshot"])
    health: HealthCheck = lambda: assess_health(state["snapshot"])  # noqa: E731
    server = MetricsServer(metrics, health, "127.0.0.1:0")
    await server.start()
    yield server, state
    await server.stop()


async def test_metrics_endpoint(served: tuple[MetricsServer, State]) -> None:
    server, _ = served
    assert server.port != 0
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{server.port}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
        found = samples(await resp.text())
    assert value(found, "logship_queue_depth", sink="errors") == 7


async def test_health_endpoint_200_and_503(served: tuple[MetricsServer, State]) -> None:
    server, state = served
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/health") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["status"] == "unhealthy"
        assert body["reasons"] == ["sink errors: circuit open (webhook failing)"]

        state["snapshot"] = Snapshot(sinks={"errors": SinkFigures(queue_depth=2)})
        async with session.get(f"{server.url}/health") as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["status"] == "ok"
        assert body["sinks"]["errors"] == {"state": "ok", "queue": 2, "spool_events": 0,
                                           "delivered": 0}
        async with session.get(f"{server.url}/") as resp:
            assert resp.status == 404


async def test_a_failing_health_check_answers_503(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("no daemon")

    server = MetricsServer(Metrics(), broken, "127.0.0.1:0")
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"{server.url}/health") as resp:
            assert resp.status == 503
            assert "no daemon" in (await resp.json())["reasons"][0]
    finally:
        await server.stop()
        await server.stop()  # idempotent


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_listen() -> None:
    server = MetricsServer(Metrics(), lambda: (True, {}), "[::1]:0")
    await server.start()
    try:
        assert server.url == f"http://[::1]:{server.port}"
        async with aiohttp.ClientSession() as session, \
                session.get(f"{server.url}/health") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok"}
    finally:
        await server.stop()


async def test_a_taken_port_raises_and_leaves_nothing_running() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(Metrics(), lambda: (True, {}), f"127.0.0.1:{port}")
        with pytest.raises(OSError):
            await server.start()
        assert server.port == port


def test_default_listen_is_loopback() -> None:
    server = MetricsServer(Metrics(), lambda: (True, {}))
    assert (server.host, server.port) == ("127.0.0.1", 9308)


def test_a_wait_for_discords_channel_limit_shows_in_metrics_and_the_status_line() -> None:
    waiting = Waiting("Discord's channel limit", since=0.0, until=time.monotonic() + 48.4,
                      queued=200)
    worker = SimpleNamespace(stats=SinkStats(), backlog=212, queued_bytes=0, gone=None,
                             circuit=Circuit(5, 30.0), waiting=waiting)
    idle = SimpleNamespace(stats=SinkStats(), backlog=0, queued_bytes=0, gone=None,
                           circuit=Circuit(5, 30.0), waiting=None)
    snap = take_snapshot(None, {"errors": worker, "members": idle})
    assert snap.sinks["errors"].waiting_for == "Discord's channel limit"
    assert 40 < snap.sinks["errors"].waiting_seconds <= 48.4
    found = samples(Metrics(lambda: snap).exposition().decode())
    assert 40 < value(found, "logship_sink_waiting_seconds", sink="errors") <= 48.4
    assert value(found, "logship_sink_waiting_seconds", sink="members") == 0
    line = status_line(replace(snap, sinks={**snap.sinks, "errors": replace(
        snap.sinks["errors"], waiting_seconds=48.2)}))
    assert line.endswith("; errors: waiting for Discord's channel limit, 212 queued, "
                         "next in 48 s")
