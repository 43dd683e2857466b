"""Start-up cost: how long `logship --help` takes, wall clock and CPU, from a fresh process.

`python -m bench.startup [--quick]` runs the installed `logship --help` (the console
script next to this interpreter, else `python -m logship`) 20 times (`--quick`: 5) and
prints the minimum, median and maximum. Every command pays this before it starts its
work, so only what all commands need is imported at the top of `logship.cli`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # seconds of user + system time of the child


def command() -> list[str]:
    """The console script users type, if this interpreter's environment has it."""
    script = Path(sys.executable).with_name("logship")
    return [str(script)] if script.exists() else [sys.executable, "-m", "logship"]


def time_once(argv: list[str]) -> Run:
    before = os.times()
    start = time.perf_counter()
    subprocess.run([*argv, "--help"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return Run(wall, cpu)


def run(quick: bool = False) -> list[str]:
    argv = command()
    time_once(argv)  # warm the page cache: the figure is for a host already running
    runs = [time_once(argv) for _ in range(5 if quick else 20)]
    walls = sorted(r.wall * 1000 for r in runs)
    cpus = sorted(r.cpu * 1000 for r in runs)
    return [f"`{' '.join(Path(a).name for a in argv)} --help`, {len(runs)} runs: wall "
            f"min {walls[0]:.0f} / median {statistics.median(walls):.0f} / "
            f"max {walls[-1]:.0f} ms; CPU median {statistics.median(cpus):.0f} ms"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20")
    for row in run(parser.parse_args().quick):
        print(row, flush=True)


if __name__ == "__main__":
    main()
