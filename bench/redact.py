"""Redaction and privacy throughput on typical StructuredLogger events.

`python -m bench.redact [--quick]` parses StatsBot-style JSON lines into events (as the
tailer would) and times `Redactor.redact_event` and `Privacy.apply` over them, in events
per second on one core. Three mixes:

- "demo": the 9 records of `logship.emulator.sample_bot`, over and over (what a quiet bot logs:
  the same service names and messages again and again; short clean strings are cached);
- "varied": the same shapes with every number, id and name different from line to line
  (no cache hits: the worst case for ordinary traffic);
- "secrets": the varied mix where one event in ten also carries a secret to replace.

For scale, the same run times `json.loads` over the varied lines (the ingest bar's
reference loop): the last row says what redaction adds, in units of that loop.

It also times hostile single strings (1 MB of near-matches per pattern family), to show
the patterns run in linear time. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from logship.emulator.sample_bot import sample_lines
from logship.event import Event
from logship.parse import make_parser
from logship.redact import Privacy, PrivacyConfig, RedactConfig, Redactor

SECRET = b"bench-secret-bench-secret-bench!"
_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
_SECRETS = (
    f"Logged in with {_TOKEN}",
    "POST https://discord.com/api/webhooks/123456789012345678/aBcDeFgHiJkLmNoP1234 failed",
    "connect failed: password=hunter22 host=db",
    "Authorization: Bearer ya29.a0AfH6SMBx-abc",
)


@dataclass
class Figure:
    name: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def row(self) -> str:
        micro = self.seconds * 1e6 / self.count
        return f"{self.name:<38} {self.per_second:>12,.0f} events/s {micro:8.2f} µs/event"


def parse(lines: bytes) -> list[Event]:
    """The events the JSON parser makes of `lines` (as the tailer would hand them on)."""
    parser = make_parser("json", source="bench", path="/bench/logs.json")
    raw = lines.splitlines()
    ends = list(range(1, len(raw) + 1))
    return parser.feed(raw, ends) + parser.flush()


def varied_lines(count: int, secrets_every: int = 0, seed: int = 7) -> bytes:
    """StructuredLogger lines shaped like the demo's, with fresh values on every line."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        member = str(rng.randrange(10**17, 10**18))
        name = f"user{rng.randrange(10**6)}#0"
        pick = n % 6
        if pick == 0:
            record = {"level": "INFO", "message": "Heartbeat updated successfully",
                      "context": {"cpu": f"{rng.random():.1f}%", "memory": f"{rng.random():.1f}%",
                                  "threads": rng.randrange(8, 20)}, "service": "monitoring"}
        elif pick == 1:
            record = {"level": "INFO", "message": f"Member join recorded: {name}",
                      "context": {"member_id": member, "username": name,
                                  "guild_id": "987654321098765432"}, "service": "StatsTracker"}
        elif pick == 2:
            ms = rng.random() * 5000
            record = {"level": "WARNING",
                      "message": f"Slow operation detected: update_stats took {ms:.2f}ms",
                      "context": {}, "operation": "update_stats", "duration_ms": ms}
        elif pick == 3:
            record = {"level": "ERROR", "message": "Failed to update heartbeat",
                      "context": {"error_type": "HTTPException",
                                  "traceback": f'  File "/opt/bot/monitoring.py", line '
                                               f'{rng.randrange(900)}, in update\n'
                                               "HTTPException: 503 Service Unavailable"},
                      "service": "monitoring",
                      "error": f"HTTPException: 503 Service Unavailable (request {n})"}
        elif pick == 4:
            record = {"level": "INFO", "message": f"Member left: {name}",
                      "context": {"member_id": member, "username": name},
                      "service": "StatsTracker"}
        else:
            mb = 80 + rng.random() * 10
            record = {"level": "WARNING",
                      "message": f"High memory usage: {mb:.2f}MB (threshold: 80.00MB)",
                      "context": {"memory_mb": mb, "threshold_mb": 80.0}}
        if secrets_every and n % secrets_every == 0:
            record["message"] = f"{record['message']}; {_SECRETS[n % len(_SECRETS)]}"
        minute, second = n // 60 % 60, n % 60
        record["timestamp"] = f"2025-07-15T20:{minute:02d}:{second:02d}.{n:06d}+00:00"
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def _timed(name: str, events: list[Event], step: Callable[[Event], Event]) -> Figure:
    for event in events[:200]:  # warm: compiled regexes, caches
        step(event)
    start = time.process_time()
    for event in events:
        step(event)
    return Figure(name, len(events), time.process_time() - start)


def json_loads_figure(lines: bytes) -> Figure:
    raw = lines.splitlines()
    start = time.process_time()
    for line in raw:
        json.loads(line)
    return Figure("json.loads, varied (reference)", len(raw), time.process_time() - start)


def events_figures(count: int) -> list[Figure]:
    redactor = Redactor()
    varied = varied_lines(count)
    figures = [json_loads_figure(varied)]
    mixes = {
        "demo": parse(sample_lines(count)),
        "varied": parse(varied),
        "secrets": parse(varied_lines(count, secrets_every=10)),
    }
    for mix, events in mixes.items():
        figures.append(_timed(f"redact_event, {mix}", events, redactor.redact_event))
    everything = Redactor(RedactConfig(emails=True, ips=True))
    figures.append(_timed("redact_event, varied, emails+ips on", mixes["varied"],
                          everything.redact_event))
    mask = Privacy(PrivacyConfig(ids="mask"))
    hashed = Privacy(PrivacyConfig(ids="hash", usernames="drop"), SECRET)
    figures.append(_timed("privacy mask ids, varied", mixes["varied"], mask.apply))
    figures.append(_timed("privacy hash ids+drop names, varied", mixes["varied"],
                          hashed.apply))
    figures.append(_timed("redact + privacy(hash, drop), varied", mixes["varied"],
                          lambda e: hashed.apply(redactor.redact_event(e))))
    return figures


HOSTILE = {
    "secret_value keys": "password" * 131072,
    "kv with unclosed quote": 'token="' + "a" * (1 << 20),
    "webhook near-misses": "webhooks/1234567890123456/" * 40330,
    "token-like runs": ("M" * 30 + ".") * 33825,
    "private key headers": "-----BEGIN PRIVATE KEY-----" * 38837,
    "dotted quads + colons (ips on)": "1.2.3.4.5:6:7:" * 74898,
    "email near-misses (emails on)": "a.b@c." * 174762,
}


def hostile_figures() -> list[str]:
    redactor = Redactor(RedactConfig(emails=True, ips=True))
    rows = []
    for name, text in HOSTILE.items():
        start = time.process_time()
        redactor.redact_text(text)
        seconds = time.process_time() - start
        rows.append(f"{name:<38} {len(text) / 1e6:5.2f} MB in {seconds * 1000:8.1f} ms "
                    f"({len(text) / seconds / 1e6:6.1f} MB/s)")
    return rows


def run(quick: bool = False) -> list[str]:
    """Every figure of this bench, as printable rows (`quick`: 20,000 events per mix)."""
    count = 20_000 if quick else 200_000
    figures = events_figures(count)
    rows = [f"{count:,} StructuredLogger events per mix (CPU time, one core)"]
    rows += [figure.row() for figure in figures]
    reference, varied = figures[0], figures[2]
    rows.append(f"{'redact_event / json.loads (varied)':<38} "
                f"{varied.seconds / reference.seconds:>12.2f}")
    rows.append("hostile strings (built-ins, emails and ips on):")
    return rows + hostile_figures()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redact", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 events, not 200,000")
    for row in run(parser.parse_args().quick):
        print(row, flush=True)


if __name__ == "__main__":
    main()
