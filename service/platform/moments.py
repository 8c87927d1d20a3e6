"""The moments auditors name: `as_of` on the API and `--as-of` of `docket report` (pure).

An RFC 3339 time with a zone, or a date `YYYY-MM-DD` meaning the last microsecond of
that day in UTC ("as of 31 December 2025": everything that happened that day counts).

A moment is named within bounds (SPEC §5): not before 2000-01-01 and not after now, so
that no answer as of a moment can still change (the future) or sweep decades of empty
months (`/stats?as_of=5000-01-01` once rendered megabytes of HTML). `now` is always an
argument: the caller reads the one clock of the runtime.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from events.errors import DocketError
from events.model import parse_utc

#: The first day a moment may name.
EARLIEST_DAY = date(2000, 1, 1)
EARLIEST = datetime.combine(EARLIEST_DAY, time(0), tzinfo=UTC)


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class OutOfBounds(DocketError, ValueError):
    """A well-formed moment after now or before 2000-01-01 (`as-of-within-bounds`)."""

    rule = "as-of-within-bounds"


def end_of_day(day: date) -> datetime:
    """The last microsecond of `day` in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(
        microseconds=1
    )


def last_complete_day(now: datetime) -> date:
    """The last UTC day that has ended at `now` (yesterday, in UTC)."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def parse_as_of(text: str) -> datetime:
    """The moment `text` names; ValueError when it names none."""
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text))
        return parse_utc(text)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 overflows in UTC
        raise ValueError(f"{text!r} is out of range") from None


def within_bounds(moment: datetime, now: datetime) -> datetime:
    """`moment` if it lies between 2000-01-01 and `now`; OutOfBounds otherwise."""
    if moment < EARLIEST:
        raise OutOfBounds(f"{_shown(moment)} is before {EARLIEST_DAY.isoformat()}")
    if moment > now:
        raise OutOfBounds(f"{_shown(moment)} is after now ({_shown(now)})")
    return moment


def as_of_within_bounds(text: str, now: datetime) -> datetime:
    """The moment `text` names (`parse_as_of`), within bounds (`within_bounds`); a date
    of today names `now`, the rest of the day not having happened. ValueError when `text`
    names no moment, OutOfBounds when it names one out of bounds."""
    moment = parse_as_of(text)
    if len(text) == 10 and moment.date() == now.astimezone(UTC).date():
        return now
    return within_bounds(moment, now)


def public_day(text: str, now: datetime) -> date:
    """The day a public `as_of` names (a date `YYYY-MM-DD`, SPEC §7): one that has ended
    at `now`, from 2000-01-01 on. ValueError when `text` is no date, OutOfBounds when the
    day is before 2000 or has not ended yet."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD")
    day = date.fromisoformat(text)
    last = last_complete_day(now)
    if day < EARLIEST_DAY:
        raise OutOfBounds(f"{day.isoformat()} is before {EARLIEST_DAY.isoformat()}")
    if day > last:
        raise OutOfBounds(
            f"{day.isoformat()} has not ended: public statistics go up to {last.isoformat()}"
        )
    return day


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
