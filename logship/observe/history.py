"""Delivery history: a bounded journal of what was sent where, and what Discord answered.

The spool only holds what could not be delivered; once an event is out, nothing says
where it went. When someone asks "did that error reach #errors, and which message is
it?", this journal answers: one JSON line per event and request outcome, with the time,
sink, route, the event's source, file and offset, Discord's message id, the HTTP status,
the attempts and the outcome (`delivered`, `spooled` or `dead`).

It is diagnostic, not a source of truth, so it is cheap: one `write` per request outcome
into `<state_dir>/history.jsonl`, no fsync (a crash may lose the last lines; the OS
buffer has them otherwise). It is bounded: past `max_bytes` the file rotates to
`history.1.jsonl` … `history.<keep>.jsonl`, the oldest dropped, so the journal never takes
more than about `(keep + 1) × max_bytes`. Webhook URLs and tokens are never stored (an
error text that names one is masked). Readers skip a torn last line and unreadable lines.
A reader racing a rotation may see a few entries twice or miss them: it is a log to look
at, not a ledger. `logship replay` writes to the same journal, also while the daemon
runs: each line is one append (O_APPEND), so lines stay whole; when one of them rotates,
the other's next lines may land in the rotated file, which readers read too. An entry
says `via` "replay" or "drain" when it is about a spooled event sent again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from logship.event import Event

log = logging.getLogger("logship.observe.history")

HISTORY_NAME = "history.jsonl"
MAX_BYTES = 16 << 20
KEEP = 3
OUTCOMES = ("delivered", "spooled", "dead")
ERROR_MAX = 500  # characters of an error kept per entry
_BLOCK = 1 << 16
_ROTATED = re.compile(r"^history\.(\d+)\.jsonl$")
_WEBHOOK_TOKEN = re.compile(r"(/webhooks/\d+/)[^\s/?#'\"]+")


def utc_stamp(when: datetime | None = None) -> str:
    """An entry's `at`: ISO 8601 UTC with milliseconds and a `Z`.

    >>> utc_stamp(datetime(2025, 7, 16, 12, 0, 3, 250000, tzinfo=UTC))
    '2025-07-16T12:00:03.250Z'
    """
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def mask_secrets(text: str) -> str:
    """`text` with any webhook token replaced by `****`.

    >>> mask_secrets("POST http://127.0.0.1:9/api/webhooks/123456789012345678/tok-en failed")
    'POST http://127.0.0.1:9/api/webhooks/123456789012345678/**** failed'
    """
    return _WEBHOOK_TOKEN.sub(r"\1****", text)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event's share of one request outcome at one sink.

    `status` is the HTTP status of the last answer (0: none came, or no request was
    made); `attempts` counts the requests that carried the event; `error` says why it
    was not delivered (masked, at most `ERROR_MAX` characters).

    >>> entry = HistoryEntry("2025-07-16T12:00:03.000Z", "errors", "errors", "bot",
    ...                      "/var/log/bot.log", 1234, "1395", 200, 1, "delivered")
    >>> HistoryEntry.from_json(orjson.loads(entry.to_json())) == entry
    True
    >>> HistoryEntry("t", "s", None, "b", "p", 0, None, 0, 0, "lost")
    Traceback (most recent call last):
    ValueError: outcome 'lost' is not one of delivered, spooled, dead
    """

    at: str
    sink: str
    route: str | None
    source: str
    path: str
    offset: int
    message_id: str | None
    status: int
    attempts: int
    outcome: str
    error: str | None = None
    via: str | None = None  # "replay", "drain": what sent a spooled event (None: live)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.error is not None:
            object.__setattr__(self, "error", mask_secrets(self.error)[:ERROR_MAX])

    def to_json(self) -> bytes:
        """One journal line (without the newline)."""
        return orjson.dumps(self)  # orjson serializes dataclasses natively, field by field

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryEntry:
        """The inverse of `to_json` (after `orjson.loads`); KeyError, TypeError or
        ValueError when `data` is not an entry."""
        message_id = data.get("message_id")
        return cls(
            at=str(data["at"]),
            sink=str(data["sink"]),
            route=data.get("route"),
            source=str(data.get("source", "")),
            path=str(data.get("path", "")),
            offset=int(data.get("offset", 0)),
            message_id=None if message_id is None else str(message_id),
            status=int(data.get("status", 0)),
            attempts=int(data.get("attempts", 0)),
            outcome=str(data["outcome"]),
            error=data.get("error"),
            via=data.get("via"),
        )

    @classmethod
    def for_event(cls, event: Event, *, sink: str, route: str | None, outcome: str,
                  status: int = 0, message_id: str | None = None, attempts: int = 0,
                  error: str | None = None, at: datetime | None = None,
                  via: str | None = None) -> HistoryEntry:
        """The entry for `event`, stamped `at` (default: now)."""
        return cls(at=utc_stamp(at), sink=sink, route=route, source=event.source,
                   path=event.path, offset=event.offset, message_id=message_id,
                   status=status, attempts=attempts, outcome=outcome, error=error, via=via)

    @property
    def event_key(self) -> tuple[str, str, str, int]:
        """The event this entry is about, at its sink (the same across its entries)."""
        return self.sink, self.source, self.path, self.offset

    @property
    def when(self) -> datetime:
        """`at` as an aware datetime."""
        when = datetime.fromisoformat(self.at)
        return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- writing ----------------------------------------------------------------------------


class HistoryJournal:
    """Appends entries to `<state_dir>/history.jsonl`, rotating it past `max_bytes`.

    Writing never raises: history must not stop deliveries, so a failed write is
    logged (once, until writes work again) and `record` returns False.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> journal = HistoryJournal(folder)
    >>> entry = HistoryEntry("2025-07-16T12:00:03.000Z", "errors", None, "bot", "/b.log",
    ...                      10, "1395", 200, 1, "delivered")
    >>> journal.record([entry, entry]); journal.close()
    True
    >>> len(read_history(folder))
    2
    >>> import shutil; shutil.rmtree(folder)
    """

    def __init__(self, state_dir: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.state_dir = state_dir
        self.path = state_dir / HISTORY_NAME
        self.max_bytes = max_bytes
        self.keep = max(0, keep)
        self._fd: int | None = None
        self._size = 0
        self._failing = False

    def record(self, entries: Iterable[HistoryEntry]) -> bool:
        """Append `entries` in one write; False (logged) when the disk refused it."""
        data = b"".join(entry.to_json() + b"\n" for entry in entries)
        if not data:
            return True
        try:
            self._write(data)
        except OSError as exc:
            if not self._failing:
                log.error("cannot write the delivery history %s (%s); deliveries go on "
                          "without it", self.path, exc.strerror or exc)
            self._failing = True
            return False
        if self._failing:
            log.info("the delivery history %s is written again", self.path)
            self._failing = False
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._open()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        assert self._fd is not None
        written = os.write(self._fd, data)
        if written != len(data):  # the disk is full: leave no partial line behind
            os.ftruncate(self._fd, self._size)
            raise OSError(errno.ENOSPC, "short write to the delivery history")
        self._size += written

    def _open(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd).st_size
            complete = _end_of_last_line(fd, size)
            if complete != size:  # a crash tore the last line: cut it off
                os.ftruncate(fd, complete)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._size = fd, complete

    def _rotate(self) -> None:
        """history.jsonl → history.1.jsonl → … → history.<keep>.jsonl; older ones go."""
        self.close()
        for index, path in sorted(_rotated(self.state_dir), reverse=True):
            if index >= self.keep:
                path.unlink(missing_ok=True)
            else:
                os.replace(path, _rotated_path(self.state_dir, index + 1))
        if self.keep:
            os.replace(self.path, _rotated_path(self.state_dir, 1))
        else:
            self.path.unlink(missing_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._fd, self._size = fd, 0


def _rotated_path(state_dir: Path, index: int) -> Path:
    return state_dir / f"history.{index}.jsonl"


def _rotated(state_dir: Path) -> list[tuple[int, Path]]:
    """The rotated files as (index, path); a higher index is older."""
    if not state_dir.is_dir():
        return []
    found = []
    for path in state_dir.iterdir():
        match = _ROTATED.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the last newline in the first `size` bytes of `fd`."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


# -- reading ----------------------------------------------------------------------------


def history_files(state_dir: Path) -> list[Path]:
    """The journal's files, oldest first (the current one last)."""
    files = [path for _, path in reversed(_rotated(state_dir))]
    current = state_dir / HISTORY_NAME
    return [*files, current] if current.is_file() else files


@dataclass
class Tally:
    """What `read_history` looked at, for saying what its filters left out."""

    read: int = 0  # entries read
    delivered_since: int = 0  # failed entries left out: their event was delivered later


def read_history(state_dir: Path, *, sink: str | None = None, since: datetime | None = None,
                 failed: bool = False, limit: int | None = None,
                 tally: Tally | None = None) -> list[HistoryEntry]:
    """Entries across all the journal's files, newest last: only `sink`'s, only those at
    or after `since`, only the undelivered ones (`failed`: an event that failed and was
    delivered later, by the spool's drain or a replay, is not), at most the last `limit`.
    `tally` (when given) counts what was read and left out.

    The files are read from their end, so a small `limit` reads little.

    >>> read_history(Path("/nonexistent"))
    []
    """
    if limit is not None and limit <= 0:
        return []
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    tally = tally if tally is not None else Tally()
    delivered_later: set[tuple[str, str, str, int]] = set()  # events delivered, newest first
    found: list[HistoryEntry] = []
    for entry in _entries_backwards(state_dir):
        tally.read += 1
        if sink is not None and entry.sink != sink:
            continue
        if failed:
            if entry.outcome == "delivered":
                delivered_later.add(entry.event_key)
                continue
            if entry.event_key in delivered_later:
                tally.delivered_since += 1
                continue
        if since is not None and not _at_or_after(entry, since):
            continue
        found.append(entry)
        if limit is not None and len(found) >= limit:
            break
    found.reverse()
    return found


def nothing_found(state_dir: Path, tally: Tally, *, sink: str | None, since: str | None,
                  failed: bool) -> str:
    """What `logship history` says when no entry passed its filters: which filters.

    >>> nothing_found(Path("/s"), Tally(read=3), sink="alerts", since="1h", failed=True)
    'no failed deliveries to sink alerts in the last 1h among the 3 recorded'
    """
    if not tally.read:
        journal = state_dir / HISTORY_NAME
        return (f"no deliveries recorded: {journal} does not exist yet (the daemon and "
                "`logship replay` write it as they send)" if not history_files(state_dir)
                else f"no deliveries recorded in {journal}")
    what = f"no {'failed ' if failed else ''}deliveries"
    if sink is not None:
        what += f" to sink {sink}"
    if since is not None:
        what += f" in the last {since}" if since[:1].isdigit() and since[-1:].isalpha() \
            else f" since {since}"
    what += f" among the {tally.read} recorded"
    if tally.delivered_since:
        what += (f" ({tally.delivered_since} failed ones were delivered since, by the "
                 "spool's drain or `logship replay`)")
    return what


def tail(state_dir: Path, n: int) -> list[HistoryEntry]:
    """The last `n` entries, newest last (what `/history` serves)."""
    return read_history(state_dir, limit=n)


def entries_json(entries: Iterable[HistoryEntry]) -> bytes:
    """`entries` as one JSON array.

    >>> entries_json([])
    b'[]'
    """
    return b"[" + b",".join(entry.to_json() for entry in entries) + b"]"


def _at_or_after(entry: HistoryEntry, since: datetime) -> bool:
    try:
        return entry.when >= since
    except ValueError:
        return False


def _entries_backwards(state_dir: Path) -> Iterator[HistoryEntry]:
    """Every readable entry, newest first."""
    for path in reversed(history_files(state_dir)):
        with contextlib.suppress(FileNotFoundError):  # rotated away meanwhile
            for line in _lines_backwards(path):
                entry = _parse(line, path)
                if entry is not None:
                    yield entry


def _parse(line: bytes, path: Path) -> HistoryEntry | None:
    try:
        return HistoryEntry.from_json(orjson.loads(line))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("%s: an unreadable line (%s); skipped", path, exc)
        return None


def _lines_backwards(path: Path, block: int = _BLOCK) -> Iterator[bytes]:
    """The complete, non-empty lines of `path`, last first, without their newline; the
    bytes after the last newline (a torn write, or one in progress) are skipped."""
    with path.open("rb") as f:
        pos = f.seek(0, os.SEEK_END)
        head = b""  # the start of the file up to its first newline seen so far
        trailing = True  # the bytes after the last newline are still to be cut off
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            parts = (f.read(step) + head).split(b"\n")
            head = parts.pop(0)
            if trailing and parts:
                parts.pop()
                trailing = False
            yield from (line for line in reversed(parts) if line)
        if head and not trailing:
            yield head


def describe(entries: Iterable[HistoryEntry]) -> list[str]:
    """The lines `logship history` prints, one per entry.

    >>> describe([HistoryEntry("2025-07-16T12:00:03.120Z", "errors", "errors", "bot",
    ...                        "/var/log/bot.log", 1234, "1395", 200, 1, "delivered")])
    ['2025-07-16T12:00:03Z errors route=errors 200 delivered msg 1395 bot /var/log/bot.log:1234 (1 attempt)']
    >>> describe([HistoryEntry("2025-07-16T12:00:09.000Z", "alerts", None, "bot", "/b.log",
    ...                        99, None, 0, 3, "spooled", "TimeoutError: no answer")])
    ['2025-07-16T12:00:09Z alerts route=- - spooled bot /b.log:99 (3 attempts): TimeoutError: no answer']
    """  # noqa: E501
    return [_describe_one(entry) for entry in entries]


def _describe_one(entry: HistoryEntry) -> str:
    at = entry.at[:19] + "Z" if len(entry.at) >= 19 and entry.at.endswith("Z") else entry.at
    status = str(entry.status) if entry.status else "-"
    message = f" msg {entry.message_id}" if entry.message_id else ""
    if entry.attempts:
        tries = f"{entry.attempts} attempt{'s' if entry.attempts != 1 else ''}"
    else:
        tries = "not sent"
    if entry.via:
        tries += f", by {entry.via}"
    line = (f"{at} {entry.sink} route={entry.route or '-'} {status} {entry.outcome}{message} "
            f"{entry.source} {entry.path}:{entry.offset} ({tries})")
    return line + (f": {entry.error}" if entry.error else "")
