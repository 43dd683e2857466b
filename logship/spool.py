"""The on-disk spool: where events wait when they cannot be delivered now (or ever).

Layout: `<spool_dir>/<sink>/<segment>.jsonl`, one JSON object per line holding the
event, why it is here (`fallback`: transient failure or the sink is down; `dead`: Discord
refused it for good), the last error and the attempt count. Segments are append-only;
every append is fsynced before it returns, because the caller then lets the checkpoint
move past those events. A torn last line (a crash mid-write) is skipped when reading.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from logship.event import Event

log = logging.getLogger("logship.spool")

SEGMENT_SUFFIX = ".jsonl"
SEGMENT_BYTES = 8 << 20
REASONS = ("fallback", "dead")


@dataclass
class SpoolRecord:
    """One spooled event and why it is in the spool."""

    event: Event
    sink: str
    reason: str  # "fallback" | "dead"
    error: str
    route: str | None = None
    attempts: int = 0
    first_failure: str | None = None
    last_failure: str | None = None

    def to_json(self) -> bytes:
        now = datetime.now(UTC).isoformat()
        return orjson.dumps(
            {
                "event": self.event.to_record(),
                "sink": self.sink,
                "route": self.route,
                "reason": self.reason,
                "error": self.error,
                "attempts": self.attempts,
                "first_failure": self.first_failure or now,
                "last_failure": self.last_failure or now,
            },
            option=orjson.OPT_NON_STR_KEYS,
            default=str,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpoolRecord:
        return cls(
            event=Event.from_record(data["event"]),
            sink=data["sink"],
            reason=data["reason"],
            error=data.get("error", ""),
            route=data.get("route"),
            attempts=data.get("attempts", 0),
            first_failure=data.get("first_failure"),
            last_failure=data.get("last_failure"),
        )


class Spool:
    """Appends records to per-sink segment files under `root`."""

    def __init__(self, root: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.root = root
        self.segment_bytes = segment_bytes
        self._current: dict[str, Path] = {}

    def append(self, records: list[SpoolRecord]) -> None:
        """Write `records` durably (fsync) before returning. Raises OSError on failure."""
        by_sink: dict[str, list[bytes]] = {}
        for record in records:
            by_sink.setdefault(record.sink, []).append(record.to_json())
        for sink, lines in by_sink.items():
            self._write(sink, b"".join(line + b"\n" for line in lines))

    def _write(self, sink: str, data: bytes) -> None:
        path = self._segment_for(sink, len(data))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _segment_for(self, sink: str, incoming: int) -> Path:
        current = self._current.get(sink)
        if current is not None:
            try:
                if current.stat().st_size + incoming <= self.segment_bytes:
                    return current
            except FileNotFoundError:
                pass
        folder = self.root / sink
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{time.time_ns()}{SEGMENT_SUFFIX}"
        self._current[sink] = path
        return path


def segments(root: Path, sink: str | None = None) -> list[Path]:
    """Every segment file under `root` (or of one sink), oldest first."""
    if not root.is_dir():
        return []
    folders = [root / sink] if sink else sorted(p for p in root.iterdir() if p.is_dir())
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += sorted(folder.glob(f"*{SEGMENT_SUFFIX}"), key=lambda p: p.name)
    return found


def read_segment(path: Path) -> Iterator[SpoolRecord]:
    """The records of one segment; a torn or corrupt line is skipped and logged."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                log.warning("%s: line %d is incomplete (torn write); skipped", path, number)
                continue
            try:
                yield SpoolRecord.from_json(orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                log.warning("%s: line %d is unreadable (%s); skipped", path, number, exc)


def rewrite_segment(path: Path, keep: list[SpoolRecord]) -> None:
    """Replace `path` with only the records in `keep` (delete it when none are left)."""
    if not keep:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(b"".join(r.to_json() + b"\n" for r in keep))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
