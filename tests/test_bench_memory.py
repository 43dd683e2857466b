"""The memory bench builds the log it says and reports what it measured (its RSS and
timings are printed, never asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from bench import memory


def test_the_log_has_its_errors_spread_evenly_with_unique_ids(tmp_path: Path) -> None:
    path = tmp_path / "bot.json"
    memory.write_log(path, 1_000, 10)
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(records) == 1_000
    errors = [(n, r) for n, r in enumerate(records) if r["level"] in ("ERROR", "CRITICAL")]
    assert [n for n, _ in errors] == list(range(50, 1_000, 100))
    ids = [int(re.findall(r"#(\d+)", r["message"])[0]) for _, r in errors]
    assert ids == list(range(10))
    others = {r["level"] for r in records} - {"ERROR", "CRITICAL"}
    assert others <= {"DEBUG", "INFO", "WARNING"} and "INFO" in others
    assert all(r["timestamp"].startswith("2025-07-16T12:") for r in records)


def test_projection_paces_requests_one_at_a_time_under_both_budgets() -> None:
    assert memory.delivery_floor(0) == 0.0
    assert memory.delivery_floor(1) == 2.0
    assert memory.delivery_floor(31) == 62.0  # 30 fit the channel's minute, at 2 s each
    assert memory.delivery_floor(6, latency=0.0) == 2.0  # the webhook's 5 per 2 s
    assert memory.delivery_floor(31, latency=0.0) == 60.0  # the channel's 30 per minute
    projection = memory.project(101, per_request=10)
    assert (projection.requests, projection.delivery) == (11, 22.0)
    assert memory.events_per_request() > 10  # a digest holds more than 10 embeds would


@pytest.mark.e2e
async def test_tiny_run_reads_everything_and_delivers_every_error(tmp_path: Path) -> None:
    result = await memory.measure(tmp_path, lines=3_000, errors=30, latency=0.2, settle=1.0)
    assert (result.delivered, result.errors) == (30, 30)
    assert (result.rate_limited, result.duplicates, result.unexpected) == (0, 0, 0)
    assert result.exit_code == 0 and not result.timed_out
    assert result.read_at is not None and result.delivered_at is not None
    assert result.metrics_at is not None and result.metrics_at > 0
    assert result.settled_at is not None
    assert result.settled_at.at >= result.delivered_at.at + 1.0 - 1e-3
    assert result.peak_kb is not None and result.peak_kb >= result.settled_at.rss_kb > 0
    rows = memory.report(result)
    labels = [row.split(":")[0] for row in rows]
    for label in ("time to read the whole file", "peak RSS (VmHWM)",
                  "RSS when every line was read", "RSS when delivery finished",
                  "RSS 1 s after delivery", "delivered", "RSS over time"):
        assert label in labels
    assert not any(row.startswith("PROBLEMS") for row in rows)
    assert "delivered: 30/30 in " in "\n".join(rows)
