"""`logship spool SPOOL_DIR`: what the spool holds, per sink and reason, at a glance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from logship.spool.store import drained_offset, scan_segment, segments

NOT_MADE_YET = "no such folder yet: nothing was ever spooled there"
"""What an absent spool folder means: the daemon makes it when it first spools."""


@dataclass
class Pile:
    """The spooled records of one sink for one reason."""

    count: int = 0
    bytes: int = 0
    oldest: str | None = None
    newest: str | None = None
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, size: int, first_failure: str | None, last_failure: str | None,
            error: str) -> None:
        self.count += 1
        self.bytes += size
        if first_failure and (self.oldest is None or first_failure < self.oldest):
            self.oldest = first_failure
        if last_failure and (self.newest is None or last_failure > self.newest):
            self.newest = last_failure
        self.errors[error] += 1


def survey(root: Path) -> dict[tuple[str, str], Pile]:
    """Records still waiting (past each segment's drained offset), by (sink, reason)."""
    piles: dict[tuple[str, str], Pile] = {}
    for path in segments(root):
        start = previous = drained_offset(path)
        for end, record in scan_segment(path, start).records:
            pile = piles.setdefault((record.sink, record.reason), Pile())
            pile.add(end - previous, record.first_failure, record.last_failure, record.error)
            previous = end
    return piles


def describe(root: Path, top: int = 3) -> list[str]:
    """The lines `logship spool` prints.

    >>> describe(Path("/nonexistent"))
    ['/nonexistent: the spool is empty (no such folder yet: nothing was ever spooled there)']
    """
    if not root.exists():
        return [f"{root}: the spool is empty ({NOT_MADE_YET})"]
    piles = survey(root)
    if not piles:
        return [f"{root}: the spool is empty"]
    lines = []
    for (sink, reason), pile in sorted(piles.items()):
        lines.append(f"{sink} ({reason}): {pile.count} events, {pile.bytes:,} bytes, "
                     f"{pile.oldest or '?'} … {pile.newest or '?'}")
        lines += [f"  {n} × {error}" for error, n in pile.errors.most_common(top)]
    return lines
