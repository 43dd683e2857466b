"""Prometheus metrics and a health check, so an operator can see logship keeping up.

What an operator wants to know: is logship reading (lines, events per kind and route),
is Discord taking the events (requests by status, 429s, retries, latency), and is
anything piling up (queue depth, spool, how far the checkpoints trail the files, open
circuits). Most of those figures already live in the running daemon (`SinkStats`, the
tailer's counters, the file watermarks), so they are read when Prometheus scrapes,
from a `Snapshot` the daemon provides on demand: no polling, no second bookkeeping that
could drift, nothing on the hot path. Only what exists nowhere else is counted here:
events by kind and route (a plain dict, cheap enough for the ingest path) and the
delivery latency histogram.

Everything lives in a dedicated `CollectorRegistry`, never prometheus-client's global
one, so two daemons in one test process do not collide. `MetricsServer` serves
`/metrics` (Prometheus text) and `/health` (JSON, 200 or 503) with aiohttp, on
loopback by default (127.0.0.1:9308): the figures name files and sinks, so they are
not for the whole network unless the operator says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from logship.sinks.discord.url import is_loopback_host
from logship.sinks.worker import seconds_text
from logship.spool.store import drained_offset, segments

log = logging.getLogger("logship.observe.metrics")

DEFAULT_LISTEN = "127.0.0.1:9308"
HISTORY_MAX = 1000  # entries /history serves at most
# Seconds from reading a line to Discord's 200: ~0.1 s at idle, minutes behind a burst.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0, 900.0)
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


# -- the figures the daemon provides at scrape time ------------------------------------


@dataclass(frozen=True, slots=True)
class SinkFigures:
    """One sink's live state and its worker's counters (monotonic since start)."""

    queue_depth: int = 0
    queue_bytes: int = 0  # of the queued events, against the sink's queue_max_bytes
    circuit_open: bool = False
    gone: str | None = None  # why the webhook is unusable, once it is
    requests: Mapping[int, int] = field(default_factory=dict)  # by HTTP status; 0: no answer
    rate_limited: int = 0
    retries: int = 0
    delivered: int = 0
    spooled: int = 0
    spool_bytes: int = 0
    spool_events: int = 0
    spool_blocked: bool = False  # the spool is full: events held, reading paused
    waiting_for: str | None = None  # the budget a long wait is for ("Discord's channel limit")
    waiting_seconds: float = 0.0  # seconds left in that wait


@dataclass(frozen=True, slots=True)
class FileFigures:
    """A followed file: how much of it is written, and how much is safely done."""

    path: str
    source: str
    size: int
    committed: int

    @property
    def lag(self) -> int:
        """Bytes written but not yet checkpointed (never negative).

        >>> FileFigures("a.log", "bot", size=1500, committed=1000).lag
        500
        """
        return max(0, self.size - self.committed)


@dataclass(frozen=True, slots=True)
class ClusterFigures:
    """Cluster mode's state: is Redis answering, and how often it went away."""

    up: bool
    host: str
    reason: str = ""  # why it is down
    failures: int = 0  # times it went down
    fallback_share: float = 1 / 3


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the scrape-time figures are made of."""

    lines_read: int = 0
    lines_cut: int = 0
    sinks: Mapping[str, SinkFigures] = field(default_factory=dict)
    files: Sequence[FileFigures] = ()
    cluster: ClusterFigures | None = None  # None: this host works alone


# -- reading those figures from the daemon's objects (duck-typed: no import of them) ----


class _Stats(Protocol):
    requests: int
    delivered: int
    rate_limited: int
    retries: int
    spooled: int
    by_status: Mapping[int, int]


class _Circuit(Protocol):
    @property
    def tripped(self) -> bool: ...


class WorkerView(Protocol):
    """What `take_snapshot` reads of a sink worker (`logship.sinks.worker.SinkWorker`)."""

    stats: _Stats
    gone: str | None
    circuit: _Circuit
    queued_bytes: int

    @property
    def backlog(self) -> int: ...


class _Reader(Protocol):
    path: str

    def size(self) -> int: ...


class _Progress(Protocol):
    committed: int


class _Named(Protocol):
    name: str


class FileView(Protocol):
    """What `take_snapshot` reads of a followed file (`logship.tail.tailer.TrackedFile`)."""

    source: _Named
    reader: _Reader
    progress: _Progress


class TailerView(Protocol):
    """What `take_snapshot` reads of the tailer (`logship.tail.tailer.Tailer`)."""

    lines_read: int
    lines_cut: int

    def files(self) -> Sequence[FileView]: ...


class SpoolUsage:
    """Bytes on disk and events waiting, per sink, in the spool; counted incrementally.

    Events before a segment's drained offset (its `.done` sidecar) are on their way
    already and not counted as waiting. Segments are append-only, so a grown segment is
    counted from where the last count stopped; one that was replaced, shrunk or drained
    further is counted again from its drained offset.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> (root / "errors").mkdir(); _ = (root / "errors" / "1.jsonl").write_bytes(b"{}\\n{}\\n")
    >>> SpoolUsage(root).measure()
    {'errors': (6, 2)}
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[Path, _Counted] = {}

    def measure(self) -> dict[str, tuple[int, int]]:
        """{sink: (bytes on disk, events waiting)} for every sink with spool segments."""
        usage: dict[str, tuple[int, int]] = {}
        seen: dict[Path, _Counted] = {}
        for path in segments(self.root):
            counted = self._count(path)
            if counted is None:
                continue
            seen[path] = counted
            size, events = usage.get(path.parent.name, (0, 0))
            usage[path.parent.name] = (size + counted.size, events + counted.events)
        self._seen = seen
        return usage

    def _count(self, path: Path) -> _Counted | None:
        try:
            st = path.stat()
            start = min(drained_offset(path), st.st_size)
            last = self._seen.get(path)
            if last is None or (last.inode, last.start) != (st.st_ino, start) \
                    or last.size > st.st_size:
                last = _Counted(st.st_ino, start, start, 0)
            events = last.events + _count_newlines(path, last.size, st.st_size)
            return _Counted(st.st_ino, start, st.st_size, events)
        except OSError:  # removed by a drain between listing and counting
            return None


@dataclass(frozen=True, slots=True)
class _Counted:
    inode: int
    start: int  # the drained offset the count starts from
    size: int  # counted up to here
    events: int  # complete lines in [start, size)


def _count_newlines(path: Path, start: int, end: int) -> int:
    if end <= start:
        return 0
    count = 0
    with path.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0 and (chunk := f.read(min(left, 1 << 20))):
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def take_snapshot(
    tailer: TailerView | None,
    workers: Mapping[str, WorkerView],
    spool: SpoolUsage | None = None,
    cluster: ClusterFigures | None = None,
) -> Snapshot:
    """The daemon's figures now: call it from the callable given to `Metrics`.

    >>> from types import SimpleNamespace as NS
    >>> stats = NS(requests=3, delivered=25, rate_limited=1, retries=1, spooled=0,
    ...            by_status={200: 2, 429: 1})
    >>> worker = NS(stats=stats, gone=None, circuit=NS(tripped=False), backlog=4,
    ...            queued_bytes=900)
    >>> take_snapshot(None, {"errors": worker}).sinks["errors"].queue_depth
    4
    """
    usage = spool.measure() if spool is not None else {}
    sinks = {name: _sink_figures(w, *usage.get(name, (0, 0))) for name, w in workers.items()}
    for name in usage.keys() - sinks.keys():  # spooled for a sink no longer configured
        sinks[name] = SinkFigures(spool_bytes=usage[name][0], spool_events=usage[name][1])
    if tailer is None:
        return Snapshot(sinks=sinks, cluster=cluster)
    files = [f for f in map(_file_figures, tailer.files()) if f is not None]
    return Snapshot(tailer.lines_read, tailer.lines_cut, sinks, files, cluster)


def _sink_figures(worker: WorkerView, spool_bytes: int, spool_events: int) -> SinkFigures:
    s = worker.stats
    waiting = getattr(worker, "waiting", None)  # a `sinks.worker.Waiting` while it waits
    return SinkFigures(
        waiting_for=waiting.why if waiting is not None else None,
        waiting_seconds=waiting.left() if waiting is not None else 0.0,
        queue_depth=worker.backlog, queue_bytes=worker.queued_bytes,
        circuit_open=worker.circuit.tripped, gone=worker.gone,
        requests=dict(s.by_status), rate_limited=s.rate_limited, retries=s.retries,
        delivered=s.delivered, spooled=s.spooled, spool_bytes=spool_bytes,
        spool_events=spool_events, spool_blocked=getattr(worker, "spool_blocked", False),
    )


def _file_figures(tracked: FileView) -> FileFigures | None:
    reader = tracked.reader
    try:
        size = reader.size()
    except (OSError, ValueError):  # descriptor parked (too many open files): by name
        try:
            size = os.stat(reader.path).st_size
        except OSError:
            return None
    return FileFigures(reader.path, tracked.source.name, size, tracked.progress.committed)


# -- the metrics ------------------------------------------------------------------------


class Metrics:
    """logship's metrics in their own registry; scrape with `exposition()`.

    >>> m = Metrics(lambda: Snapshot(lines_read=7))
    >>> m.event_routed("error", "errors"); m.delivered("errors", 0.12)
    >>> text = m.exposition().decode()
    >>> 'logship_lines_read_total 7.0' in text
    True
    >>> 'logship_events_total{kind="error",route="errors"} 1.0' in text
    True
    """

    def __init__(self, source: Callable[[], Snapshot] | None = None,
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.registry = CollectorRegistry()
        self._source = source
        self._events: dict[tuple[str, str], int] = {}
        self._latency = Histogram(
            "logship_delivery_latency_seconds",
            "Seconds from reading an event to Discord confirming its delivery, per sink.",
            ["sink"], registry=self.registry, buckets=buckets,
        )
        self.registry.register(_LiveCollector(self))

    def set_source(self, source: Callable[[], Snapshot]) -> None:
        """Where scrape-time figures come from (the daemon, once its parts exist)."""
        self._source = source

    def snapshot(self) -> Snapshot:
        """The source's figures now; empty when there is no source yet."""
        return self._source() if self._source is not None else Snapshot()

    def event_routed(self, kind: str, route: str | None, count: int = 1) -> None:
        """Count `count` events of `kind` sent down `route` (None: matched no route)."""
        key = (kind, route or "")
        self._events[key] = self._events.get(key, 0) + count

    def delivered(self, sink: str, seconds: float, count: int = 1) -> None:
        """Record `count` events confirmed by Discord, `seconds` after they were read."""
        child = self._latency.labels(sink)
        for _ in range(count):
            child.observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

    def event_counts(self) -> dict[tuple[str, str], int]:
        """{(kind, route): events} so far; route "" means no route matched."""
        return dict(self._events)


class _LiveCollector:
    """Turns the counted events and the daemon's `Snapshot` into metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return list(_families(Snapshot(), {}))

    def collect(self) -> Iterable[Metric]:
        try:
            snapshot = self.metrics.snapshot()
        except Exception:  # a scrape must not fail, nor take the daemon down
            log.exception("metrics: reading the daemon's figures failed")
            snapshot = Snapshot()
        return list(_families(snapshot, self.metrics.event_counts()))


def _families(snap: Snapshot, events: Mapping[tuple[str, str], int]) -> Iterator[Metric]:
    yield CounterMetricFamily("logship_lines_read", "Lines read from log files.",
                              value=snap.lines_read)
    yield CounterMetricFamily("logship_lines_cut", "Lines over max_line_bytes, cut.",
                              value=snap.lines_cut)
    family = CounterMetricFamily("logship_events", "Events parsed, by kind and route "
                                 "(route=\"\": no route matched).", labels=["kind", "route"])
    for (kind, route), count in sorted(events.items()):
        family.add_metric([kind, route], count)
    yield family
    yield from _sink_families(snap.sinks)
    lag = GaugeMetricFamily("logship_checkpoint_lag_bytes", "Bytes of a followed file past "
                            "its checkpoint (file size - committed offset).",
                            labels=["source", "path"])
    for f in snap.files:
        lag.add_metric([f.source, f.path], f.lag)
    yield lag
    if snap.cluster is not None:
        yield GaugeMetricFamily("logship_cluster_up", "1 while the cluster's Redis answers "
                                "(budgets and noise windows shared), 0 while each host keeps "
                                "to its fallback share.", value=float(snap.cluster.up))
        yield CounterMetricFamily("logship_cluster_outages", "Times the cluster's Redis "
                                  "stopped answering.", value=snap.cluster.failures)


_SINK_COUNTERS = (
    ("logship_rate_limited", "429 answers from Discord, per sink.", "rate_limited"),
    ("logship_retries", "Requests retried after a failure, per sink.", "retries"),
    ("logship_delivered_events", "Events Discord confirmed, per sink.", "delivered"),
    ("logship_spooled_events", "Events written to the spool, per sink.", "spooled"),
)
_SINK_GAUGES = (
    ("logship_queue_depth", "Events queued or being sent, per sink.", "queue_depth"),
    ("logship_queue_bytes", "Bytes of the events queued or being sent, per sink.",
     "queue_bytes"),
    ("logship_circuit_open", "1 while the sink's circuit is open (webhook failing).",
     "circuit_open"),
    ("logship_spool_bytes", "Bytes in the spool, per sink.", "spool_bytes"),
    ("logship_spool_events", "Events waiting in the spool, per sink.", "spool_events"),
    ("logship_spool_blocked", "1 while the spool is full: events are held and reading "
     "pauses.", "spool_blocked"),
    ("logship_sink_waiting_seconds", "Seconds left in the sink's wait for Discord's rate "
     "limits (a wait long enough to be logged: a channel's budget used up); 0 otherwise.",
     "waiting_seconds"),
)


def _sink_families(sinks: Mapping[str, SinkFigures]) -> Iterator[Metric]:
    requests = CounterMetricFamily("logship_requests", "Requests to Discord by sink and HTTP "
                                   "status (status=\"none\": no answer).",
                                   labels=["sink", "status"])
    for name, fig in sorted(sinks.items()):
        for status, count in sorted(fig.requests.items()):
            requests.add_metric([name, str(status) if status else "none"], count)
    yield requests
    for metric, doc, attr in _SINK_COUNTERS:
        counter = CounterMetricFamily(metric, doc, labels=["sink"])
        for name, fig in sorted(sinks.items()):
            counter.add_metric([name], getattr(fig, attr))
        yield counter
    for metric, doc, attr in _SINK_GAUGES:
        gauge = GaugeMetricFamily(metric, doc, labels=["sink"])
        for name, fig in sorted(sinks.items()):
            gauge.add_metric([name], float(getattr(fig, attr)))
        yield gauge
    gone = GaugeMetricFamily("logship_sink_gone", "1 once Discord said the webhook is gone "
                             "(401/403/404): no more requests until fixed.", labels=["sink"])
    for name, fig in sorted(sinks.items()):
        gone.add_metric([name], float(fig.gone is not None))
    yield gone


# -- health and status -----------------------------------------------------------------


def assess_health(snapshot: Snapshot) -> tuple[bool, dict[str, Any]]:
    """Healthy unless a sink's webhook is gone or its circuit is open; with the details.

    A non-empty spool alone is not unhealthy: it drains by itself on recovery.

    >>> ok, body = assess_health(Snapshot(sinks={"errors": SinkFigures(circuit_open=True)}))
    >>> ok, body["reasons"]
    (False, ['sink errors: circuit open (webhook failing)'])
    >>> assess_health(Snapshot(sinks={"errors": SinkFigures(queue_depth=3)}))[0]
    True
    """
    reasons: list[str] = []
    sinks: dict[str, Any] = {}
    for name, fig in sorted(snapshot.sinks.items()):
        state = "ok"
        if fig.gone is not None:
            state = f"webhook gone: {fig.gone}"
        elif fig.circuit_open:
            state = "circuit open (webhook failing)"
        if state != "ok":
            reasons.append(f"sink {name}: {state}")
        sinks[name] = {"state": state, "queue": fig.queue_depth,
                       "spool_events": fig.spool_events, "delivered": fig.delivered}
    body: dict[str, Any] = {"sinks": sinks, "files": len(snapshot.files),
                            "lines_read": snapshot.lines_read}
    cluster = snapshot.cluster
    if cluster is not None:  # Redis away is no outage: delivery goes on, on a share
        body["cluster"] = {"host": cluster.host, "redis": "up" if cluster.up else
                           f"down ({cluster.reason}): each host keeps to "
                           f"{cluster.fallback_share:.0%} of the limits"}
    if reasons:
        body["reasons"] = reasons
    return not reasons, body


def status_line(snapshot: Snapshot) -> str:
    """A one-line summary for systemd's STATUS= (what `systemctl status` shows).

    >>> status_line(Snapshot(lines_read=1200, sinks={
    ...     "errors": SinkFigures(queue_depth=12, spool_events=3, spool_bytes=4200),
    ...     "members": SinkFigures(circuit_open=True)}))
    '1200 lines read, 0 files followed; queued 12; spool 3 events (4.1 KiB); members: circuit open'
    """
    sinks = snapshot.sinks.values()
    queued = sum(s.queue_depth for s in sinks)
    spooled = sum(s.spool_events for s in sinks)
    spool_kib = sum(s.spool_bytes for s in sinks) / 1024
    parts = [f"{snapshot.lines_read} lines read, {len(snapshot.files)} files followed",
             f"queued {queued}", f"spool {spooled} events ({spool_kib:.1f} KiB)"]
    for name, fig in sorted(snapshot.sinks.items()):
        if fig.gone is not None:
            parts.append(f"{name}: webhook gone")
        elif fig.circuit_open:
            parts.append(f"{name}: circuit open")
        elif fig.waiting_for is not None:
            parts.append(f"{name}: waiting for {fig.waiting_for}, {fig.queue_depth} queued, "
                         f"next in {seconds_text(fig.waiting_seconds)}")
    if snapshot.cluster is not None and not snapshot.cluster.up:
        parts.append(f"cluster: Redis down, {snapshot.cluster.fallback_share:.0%} of the "
                     "limits")
    return "; ".join(parts)


# -- the HTTP endpoint ------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) from "host:port", "[v6]:port" or a bare port (on 127.0.0.1).

    >>> parse_listen("127.0.0.1:9308"), parse_listen("[::1]:0"), parse_listen("9308")
    (('127.0.0.1', 9308), ('::1', 0), ('127.0.0.1', 9308))
    >>> parse_listen("::1:9308")
    Traceback (most recent call last):
    ...
    ValueError: '::1:9308': write an IPv6 address in brackets, e.g. [::1]:9308
    """
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:9308")
    if not host:
        host = "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: expected host:port with a port from 0 to 65535")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach.

    >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("example.org")
    (False, False)
    """
    return is_loopback_host(host)


class MetricsServer:
    """GET /metrics (Prometheus text) and GET /health (JSON) on `listen`.

    `health` returns (healthy, details); /health answers 200 with
    `{"status": "ok", **details}` or 503 with `{"status": "unhealthy", **details}`.
    Port 0 picks a free port; `port` tells which after `start()`.
    """

    def __init__(self, metrics: Metrics, health: HealthCheck,
                 listen: str = DEFAULT_LISTEN,
                 history: Callable[[int], bytes] | None = None) -> None:
        self.metrics = metrics
        self.health = health
        self.history = history  # the last n deliveries as a JSON array, for /history
        self.host, self._port = parse_listen(listen)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (the configured one before `start()`)."""
        if self._runner is not None and self._runner.addresses:
            return int(self._runner.addresses[0][1])
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. http://127.0.0.1:9308."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address is taken or unusable."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        if self.history is not None:
            app.router.add_get("/history", self._history)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if not is_loopback(self.host):
            log.warning("metrics on %s: reachable from the network, without authentication",
                        self.url)
        log.info("metrics: %s/metrics, health: %s/health", self.url, self.url)

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _history(self, request: web.Request) -> web.Response:
        """GET /history?n=100: the last n deliveries (at most HISTORY_MAX)."""
        assert self.history is not None
        try:
            n = min(HISTORY_MAX, max(1, int(request.query.get("n", "100"))))
        except ValueError:
            return web.json_response({"error": "n must be a number"}, status=400)
        return web.Response(body=self.history(n), content_type="application/json")

    async def _health(self, _request: web.Request) -> web.Response:
        try:
            healthy, details = self.health()
        except Exception as exc:
            log.exception("health check failed")
            healthy, details = False, {"reasons": [f"health check failed: {exc!r}"]}
        body = {"status": "ok" if healthy else "unhealthy", **details}
        return web.json_response(body, status=200 if healthy else 503)
