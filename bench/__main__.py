"""`python -m bench [--quick]`: run every logship benchmark and print its figures.

Each also runs on its own: `python -m bench.ingest|latency|burst|torture [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
from pathlib import Path

from bench import burst, ingest, latency, torture


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    quick = parser.parse_args().quick
    lines = 100_000 if quick else 1_000_000
    print(f"# logship bench on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs{' (quick)' if quick else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="logship-bench-") as tmp:
        print(f"\n## ingest: {lines:,} StructuredLogger JSON lines", flush=True)
        for row in ingest.report(ingest.run(Path(tmp), lines)):
            print(row, flush=True)
    print("\n## latency", flush=True)
    for row in latency.run(quick):
        print(row, flush=True)
    print("\n## burst: error storms under Discord's limits", flush=True)
    for row in burst.report(burst.run(quick)):
        print(row, flush=True)
    print("\n## torture: rotation, truncation, kill -9, idle", flush=True)
    scale = torture.QUICK if quick else torture.FULL
    asyncio.run(torture.torture(scale, 5.0 if quick else 60.0, 6 if quick else 12))


if __name__ == "__main__":
    main()
