"""`python -m bench [--quick] [NAME ...]`: run logship's benchmarks and print their figures.

With no NAME every benchmark runs, in the order below; `--quick` uses small sizes (a CI
smoke run, figures not meant for the README). Each also runs on its own, with its own
options: `python -m bench.NAME [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from bench import (
    burst,
    chaos,
    cluster,
    ingest,
    latency,
    memory,
    redact,
    render,
    startup,
    torture,
)
from bench import parse as parse_bench


def _ingest(quick: bool) -> Iterable[str]:
    lines = 100_000 if quick else 1_000_000
    yield f"{lines:,} StructuredLogger JSON lines"
    with tempfile.TemporaryDirectory(prefix="logship-bench-") as tmp:
        yield from ingest.report(ingest.run(Path(tmp), lines, 1 if quick else ingest.ROUNDS))


def _parse(quick: bool) -> Iterable[str]:
    lines, repeat = (50_000, 1) if quick else (1_000_000, 3)
    yield f"{lines:,} lines of each format, through the auto parser (best of {repeat}, one core)"
    yield from parse_bench.report(parse_bench.run(lines, repeat))


def _burst(quick: bool) -> Iterable[str]:
    return burst.report(burst.run(quick))


def _torture(quick: bool) -> Iterable[str]:
    scale = torture.QUICK if quick else torture.FULL
    asyncio.run(torture.torture(scale, 5.0 if quick else 60.0, 6 if quick else 12))
    return ()  # it prints its rows as each mode finishes


def _chaos(quick: bool) -> Iterable[str]:
    asyncio.run(chaos.chaos(1.0 if quick else 10.0, 40, None, False,
                            lambda text: print(text, flush=True)))
    return ()  # it prints a row per run and a summary


# name: (what it measures, how to run it and return printable rows)
BENCHES: dict[str, tuple[str, Callable[[bool], Iterable[str]]]] = {
    "startup": ("start-up: logship --help", startup.run),
    "ingest": ("ingest: tail + parse + route", _ingest),
    "parse": ("parse: throughput per log format", _parse),
    "redact": ("redact: redaction and privacy throughput", redact.run),
    "render": ("render: building a payload, next to an HTTP round trip", render.run),
    "latency": ("latency: an ERROR line to the local webhook", latency.run),
    "burst": ("burst: error storms under Discord's limits", _burst),
    "memory": ("memory: a 1,000,000-line burst to a webhook answering in 2 s", memory.run),
    "cluster": ("cluster: three hosts, one webhook, with and without Redis", cluster.run),
    "torture": ("torture: rotation, truncation, kill -9, idle", _torture),
    "chaos": ("chaos: random host events, nothing lost after each step", _chaos),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"which to run (default: all): {', '.join(BENCHES)}")
    args = parser.parse_args()
    if unknown := [name for name in args.names if name not in BENCHES]:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from "
                     f"{', '.join(BENCHES)}")
    print(f"# logship bench on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs{' (quick)' if args.quick else ''}", flush=True)
    for name in args.names or BENCHES:
        title, bench = BENCHES[name]
        print(f"\n## {title}", flush=True)
        for row in bench(args.quick):
            print(row, flush=True)


if __name__ == "__main__":
    main()
