"""The committee's calendar: working days, holidays and no-objection deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = [
    "end_of_day",
    "is_working_day",
    "load_holidays",
    "local_date",
    "no_objection_deadline",
    "parse_holidays",
    "zone",
]

_LAST_MICROSECOND = time(23, 59, 59, 999_999)


@lru_cache(maxsize=32)
def zone(tz: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, cached."""
    return ZoneInfo(tz)


def local_date(moment: datetime, tz: str) -> date:
    """The calendar day `moment` falls on in the committee's time zone."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(zone(tz)).date()


def end_of_day(day: date, tz: str) -> datetime:
    """The last microsecond of `day` in the committee's time zone, as UTC."""
    return datetime.combine(day, _LAST_MICROSECOND, tzinfo=zone(tz)).astimezone(UTC)


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    """Monday to Friday, and not a holiday."""
    return day.weekday() < 5 and day not in holidays


def no_objection_deadline(
    start: datetime, working_days: int, tz: str, holidays: frozenset[date]
) -> datetime:
    """When a no-objection procedure circulated at `start` ends, as an aware UTC time.

    Convention: the circulation day is the local date of `start` in `tz`; it never
    counts, whatever the hour. From the next day on, Monday to Friday minus `holidays`
    are counted; the deadline is the end of the `working_days`-th such day, i.e.
    23:59:59.999999 local time on it, converted to UTC (so it follows DST). The
    procedure has passed its deadline at any instant strictly after this.
    """
    if working_days < 1:
        raise ValueError("working_days must be at least 1")
    day = local_date(start, tz)
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            counted += 1
    return end_of_day(day, tz)


def parse_holidays(text: str) -> frozenset[date]:
    """Holidays from text: one ISO date per line; `#` starts a comment; blanks ignored."""
    days: set[date] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            days.add(date.fromisoformat(line))
        except ValueError as error:
            raise ValueError(f"line {number}: {line!r} is not an ISO date") from error
    return frozenset(days)


def load_holidays(path: Path | str | None) -> frozenset[date]:
    """Read a holidays file (see `parse_holidays`); no file means no holidays."""
    if path is None:
        return frozenset()
    return parse_holidays(Path(path).read_text(encoding="utf-8"))
