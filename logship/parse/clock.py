"""Partial timestamps made whole: no year, no date, no seconds, a zone label taken literally.

StatsBot's tree_log writes `07/15 03:42 PM EST` (no year; "EST" is printed whatever the
host's clock is), the sibling bots write `03:42:09 PM EDT` (no date at all). A `Clock`
belongs to one file and turns such stamps into aware datetimes with what it can know:

- the date of the file, from its path (`logs/2025-07-16/logs.log`,
  `QuranBot-2025-07-16.log`): it gives the year of a month/day stamp (the year that puts
  the stamp nearest that date, so 12/31 in a 2026-01-01 folder is 2025) and the day of
  a time-only stamp;
- the zone label: EST is UTC-5, EDT UTC-4, `UTC-05:00` what it says, and so on; an
  unknown label is UTC;
- the current time, for what the path does not give and as a sanity check: a stamp
  cannot be from the future. A time-only stamp more than `FUTURE_SLACK` ahead of now is
  from the day before; a tree_log stamp that far ahead was written by a clock that is not
  on the zone it prints (a UTC host printing "EST"), so the clock's real offset is
  learned from it (rounded to 15 minutes) and kept for the rest of the file.

Time-only stamps that go back by more than 12 hours from one line to the next crossed
midnight: the day moves on. The raw stamp always stays in the event (`raw_time`).
A Clock never raises: an impossible stamp (13/45) gives None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

FUTURE_SLACK = timedelta(minutes=10)
"""How far ahead of now a stamp may be (clock skew, a slow writer) before it is doubted."""

ROLLOVER = timedelta(hours=12)
"""A time-only stamp this much earlier than the line before it is on the next day."""

MAX_OFFSET = timedelta(hours=14)

_PATH_DATE = re.compile(r"(?<!\d)(20\d{2})-(\d{2})-(\d{2})(?!\d)")

ZONE_HOURS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12,
    "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7,
    "MDT": -6, "CST": -6, "CDT": -5, "EST": -5, "EDT": -4, "AST": -4, "ADT": -3,
    "NST": -3.5, "NDT": -2.5,
}
_NUMERIC_ZONE = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?")


def utcnow() -> datetime:
    """The current time (a module function, so that tests can replace it)."""
    return datetime.now(UTC)


def path_date(path: str) -> date | None:
    """The last YYYY-MM-DD date in a path (its folder or its file name), or None.

    >>> path_date("/opt/StatsBot/logs/2025-07-16/logs.log")
    datetime.date(2025, 7, 16)
    >>> path_date("/logs/QuranBot-Errors-2025-07-16.log"), path_date("/logs/bot.log")
    (datetime.date(2025, 7, 16), None)
    """
    for found in reversed(list(_PATH_DATE.finditer(path))):
        try:
            return date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            continue
    return None


def zone_offset(label: str) -> timezone | None:
    """The fixed offset a zone label names, or None for a label it does not know.

    >>> zone_offset("EST"), zone_offset("UTC-05:00"), zone_offset("Mars")
    (datetime.timezone(datetime.timedelta(days=-1, seconds=68400)), \
datetime.timezone(datetime.timedelta(days=-1, seconds=68400)), None)
    """
    label = label.strip()
    hours = ZONE_HOURS.get(label.upper())
    if hours is not None:
        return timezone(timedelta(hours=hours))
    found = _NUMERIC_ZONE.fullmatch(label)
    if found is None:
        return None
    offset = timedelta(hours=int(found[2]), minutes=int(found[3] or 0))
    if offset > MAX_OFFSET:
        return None
    return timezone(-offset if found[1] == "-" else offset)


def hour24(hour: int, meridiem: str | None) -> int:
    """A 12-hour clock hour on the 24-hour clock (no meridiem: already 24-hour).

    >>> hour24(12, "AM"), hour24(3, "PM"), hour24(12, "pm"), hour24(15, None)
    (0, 15, 12, 15)
    """
    if not meridiem:
        return hour
    return hour % 12 + (12 if meridiem[:1] in "Pp" else 0)


class Clock:
    """Resolves one file's partial stamps (see the module docstring).

    >>> clock = Clock("/logs/2025-07-16/logs.log", now=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.month_day(7, 15, 15, 42, None, "EST").isoformat()
    '2025-07-15T15:42:00-05:00'
    >>> clock.time_only(15, 42, 9, "EDT").isoformat()
    '2025-07-16T15:42:09-04:00'
    """

    __slots__ = ("_day_shift", "_last_naive", "_learned", "_now", "date", "last_raw",
                 "last_stamp")

    def __init__(self, path: str = "", now: Callable[[], datetime] | None = None) -> None:
        self.date = path_date(path)
        self._now = now
        self._learned: timezone | None = None  # the real offset of a clock printing a label
        self._day_shift = 0  # days past the folder date (midnight crossed in the file)
        self._last_naive: datetime | None = None
        # The last tree_log stamp text resolved, and its time: tree_log writes the same
        # stamp on every line of a record, and resolving it again gives the same time
        # (`now` only grows, and an offset is learned only from a stamp not seen before).
        self.last_raw: str | None = None
        self.last_stamp: datetime | None = None

    def now(self) -> datetime:
        return (self._now or utcnow)()

    def month_day(self, month: int, day: int, hour: int, minute: int, second: int | None,
                  label: str) -> datetime | None:
        """A `MM/DD hh:mm` stamp (tree_log), its zone label taken as a hint."""
        try:
            now = self.now()
            zone = self._learned or zone_offset(label) or UTC
            reference = self.date or now.astimezone(zone).date()
            year = _nearest_year(reference, month, day)
            if year is None:
                return None
            naive = datetime(year, month, day, hour, minute, second or 0)
            stamp = naive.replace(tzinfo=zone)
            if stamp - now > FUTURE_SLACK and self._learned is None:
                learned = _host_offset(naive, now) or _offset_from(naive, now)
                if learned is not None:
                    self._learned = learned
                    stamp = naive.replace(tzinfo=learned)
            return stamp
        except (ValueError, OverflowError):
            return None

    def time_only(self, hour: int, minute: int, second: int | None,
                  label: str) -> datetime | None:
        """A `hh:mm:ss` stamp (the sibling bots' tree logger), dated by the path or now."""
        try:
            now = self.now()
            zone = zone_offset(label) or UTC
            day = self.date or now.astimezone(zone).date()
            naive = datetime(day.year, day.month, day.day, hour, minute, second or 0)
            naive += timedelta(days=self._day_shift)
            last = self._last_naive
            if last is not None and naive < last - ROLLOVER:
                self._day_shift += 1
                naive += timedelta(days=1)
            stamp = naive.replace(tzinfo=zone)
            if stamp - now > FUTURE_SLACK:  # no date in the stamp: it was yesterday's
                back = 1 if stamp - now <= timedelta(days=1) + FUTURE_SLACK else 0
                if back:
                    self._day_shift -= 1
                    naive -= timedelta(days=1)
                    stamp = naive.replace(tzinfo=zone)
            self._last_naive = naive
            return stamp
        except (ValueError, OverflowError):
            return None


def _nearest_year(reference: date, month: int, day: int) -> int | None:
    """The year that puts month/day nearest `reference` (None: no such day in any)."""
    best: tuple[int, int] | None = None
    for year in (reference.year, reference.year - 1, reference.year + 1):
        try:
            distance = abs((date(year, month, day) - reference).days)
        except ValueError:  # 02/29 out of a leap year, 13/45
            continue
        if best is None or distance < best[0]:
            best = (distance, year)
    return None if best is None else best[1]


def _host_offset(naive: datetime, now: datetime) -> timezone | None:
    """This host's own offset, if it puts `naive` in the past: logship runs beside the
    bot, so a label that does not fit is most likely the host's clock under a fixed name.
    Unlike `_offset_from`, it holds for an old line too (a restart reading a backlog)."""
    offset = now.astimezone().utcoffset()
    if offset is None:
        return None
    zone = timezone(offset)
    return zone if naive.replace(tzinfo=zone) - now <= FUTURE_SLACK else None


def _offset_from(naive: datetime, now: datetime) -> timezone | None:
    """The offset of a clock that read `naive` at `now` (a fresh line), to 15 minutes."""
    delta = naive - now.replace(tzinfo=None) - now.utcoffset()  # type: ignore[operator]
    quarter = round(delta / timedelta(minutes=15))
    offset = timedelta(minutes=15 * quarter)
    if abs(offset) > MAX_OFFSET:
        return None
    return timezone(offset)
