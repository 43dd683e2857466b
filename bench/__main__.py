"""`python -m bench [--quick]`: run logship's benchmarks and print their figures."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

from bench import ingest


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (for CI)")
    args = parser.parse_args()
    lines = 100_000 if args.quick else 1_000_000
    print(f"# logship bench on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs{' (quick)' if args.quick else ''}")
    with tempfile.TemporaryDirectory(prefix="logship-bench-") as tmp:
        print(f"\n## ingest: {lines:,} StructuredLogger JSON lines")
        for row in ingest.report(ingest.run(Path(tmp), lines)):
            print(row)


if __name__ == "__main__":
    main()
