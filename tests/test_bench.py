"""The benchmarks run and print their figures (their numbers are reported, never asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import ingest
from bench import parse as parse_bench


def test_ingest_bench_reads_routes_and_reports_every_line(tmp_path: Path) -> None:
    path = ingest.make_file(tmp_path, 900)
    assert ingest.json_loads_loop(path) == 900
    # The sample cycles 9 records: 3 error/critical ones and 2 member events per cycle.
    assert ingest.logship_ingest(path) == 500
    rows = ingest.report(ingest.run(tmp_path, 900, rounds=2))
    assert [row.split()[0] for row in rows] == ["json.loads", "logship", "CPU"]
    assert rows[-1].endswith(")") and "best of 2 each" in rows[-1]


def test_parse_bench_reports_a_row_per_format_with_events() -> None:
    runs = parse_bench.run(400)
    assert [r.name for r in runs] == list(parse_bench.FORMATS)
    assert all(r.lines == 400 and r.events > 0 for r in runs)
    # grouping: tree sections and tracebacks make fewer events than lines
    by_name = {r.name: r.events for r in runs}
    assert by_name["StructuredLogger JSON"] == 400
    assert by_name["tree_log JSON"] == 100  # four lines per record
    assert by_name["tree_log text"] < 400
    rows = parse_bench.report(runs)
    assert len(rows) == 1 + len(parse_bench.FORMATS)
    assert [row[:22].rstrip() for row in rows[1:]] == list(parse_bench.FORMATS)
