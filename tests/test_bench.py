"""The benchmarks run and print their figures (their numbers are reported, never asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import ingest


def test_ingest_bench_reads_routes_and_reports_every_line(tmp_path: Path) -> None:
    path = ingest.make_file(tmp_path, 900)
    assert ingest.json_loads_loop(path) == 900
    # The sample cycles 9 records: 3 error/critical ones and 2 member events per cycle.
    assert ingest.logship_ingest(path) == 500
    rows = ingest.report(ingest.run(tmp_path, 900))
    assert [row.split()[0] for row in rows] == ["json.loads", "logship", "CPU"]
