"""`python -m bench` runs the benchmarks it is asked for and prints a section for each
(their figures are reported, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)


def test_quick_run_of_named_benches_prints_their_sections() -> None:
    done = bench("--quick", "startup", "render")
    assert done.returncode == 0, done.stderr
    sections = [line for line in done.stdout.splitlines() if line.startswith("## ")]
    assert [s.split(":")[0] for s in sections] == ["## start-up", "## render"]
    assert "--help`, 5 runs: wall min" in done.stdout
    assert "µs per payload" in done.stdout and "HTTP round trip" in done.stdout


def test_an_unknown_bench_is_refused_with_the_known_names() -> None:
    done = bench("--quick", "nope")
    assert done.returncode == 2
    assert "no benchmark named nope" in done.stderr and "ingest" in done.stderr
