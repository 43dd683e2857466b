"""Ingest: tail + parse + route throughput over a file of sample JSON lines.

The reference is the loop every bot author writes first, `for line in f: json.loads(line)`,
over the same file in the same run: logship's whole ingest path (chunked reads, line
splitting, offsets, parsing into events, routing) should cost no more CPU than that.

What happens next to an event routed somewhere (redaction, the size cap, rendering,
queueing) is delivery's work, paced by Discord: `bench.redact`, `bench.render` and
`bench.memory` measure it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from logship.config import RouteConfig
from logship.emulator.sample_bot import sample_lines
from logship.event import Level
from logship.parse import make_parser
from logship.pipeline.route import Router
from logship.tail.reader import TailedFile

ROUNDS = 3
"""Rounds of the two measurements (`--rounds`); `--quick` makes one."""

ROUTES = (
    RouteConfig(name="errors", sinks=("errors",), min_level=Level.ERROR),
    RouteConfig(name="members", sinks=("members",), match={"message": "^Member"}),
)


@dataclass
class Run:
    name: str
    lines: int
    cpu: float
    wall: float

    @property
    def per_second(self) -> float:
        return self.lines / self.wall

    @property
    def cpu_per_million(self) -> float:
        return self.cpu * 1_000_000 / self.lines


def make_file(folder: Path, lines: int) -> Path:
    path = folder / "logs.json"
    path.write_bytes(sample_lines(lines))
    return path


def _timed(name: str, lines: int, body: object) -> Run:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    body()  # type: ignore[operator]
    return Run(name, lines, time.process_time() - cpu0, time.perf_counter() - wall0)


def json_loads_loop(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
            count += 1
    return count


def logship_ingest(path: Path) -> int:
    """What the tailer and the daemon's dispatch do per chunk, minus the waiting and the
    queueing: read, parse, route (`Router.split`, as the daemon calls it)."""
    reader = TailedFile.open(str(path), 0, 65536)
    parser = make_parser("auto", source="bench", path=str(path))
    split = Router(ROUTES).split
    routed = 0
    try:
        while (batch := reader.read_lines()) is not None:
            routed += len(split(parser.feed(batch.lines, batch.ends))[0])
        routed += len(split(parser.flush())[0])
    finally:
        reader.close()
    return routed


def run(folder: Path, lines: int, rounds: int = ROUNDS) -> list[list[Run]]:
    """`rounds` rounds, each timing the loop then logship over the same file: measured in
    turns, so that a change in the (shared, virtual) machine's speed hits both alike."""
    path = make_file(folder, lines)
    json_loads_loop(path)  # warm the page cache for both
    return [[_timed("json.loads loop", lines, lambda: json_loads_loop(path)),
             _timed("logship tail+parse+route", lines, lambda: logship_ingest(path))]
            for _ in range(max(1, rounds))]


def report(rounds: list[list[Run]]) -> list[str]:
    """The best round of each (least CPU: on a shared machine the others only add), and
    the ratio of each round."""
    best = [min((pair[i] for pair in rounds), key=lambda r: r.cpu) for i in (0, 1)]
    rows = [f"{r.name:<26} {r.per_second:>12,.0f} lines/s   "
            f"{r.cpu_per_million:6.2f} CPU s per million lines" for r in best]
    ratios = ", ".join(f"{ours.cpu / loop.cpu:.2f}" for loop, ours in rounds)
    rows.append(f"{'CPU ratio (logship/loop)':<26} {best[1].cpu / best[0].cpu:>12.2f}   "
                f"(best of {len(rounds)} each; per round: {ratios})")
    return rows


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="100,000 lines and one round, not 1,000,000 and three")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of both (default 3)")
    args = parser.parse_args()
    lines = 100_000 if args.quick else 1_000_000
    rounds = args.rounds or (1 if args.quick else ROUNDS)
    with tempfile.TemporaryDirectory(prefix="logship-ingest-") as tmp:
        print(f"ingest: {lines:,} StructuredLogger JSON lines")
        for row in report(run(Path(tmp), lines, rounds)):
            print(row)


if __name__ == "__main__":
    main()
