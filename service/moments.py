"""The moments auditors name: `as_of` on the API and `--as-of` of `docket report` (pure).

An RFC 3339 time with a zone, or a date `YYYY-MM-DD` meaning the last microsecond of
that day in UTC ("as of 31 December 2025": everything that happened that day counts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from events.model import parse_utc


def end_of_day(day: date) -> datetime:
    """The last microsecond of `day` in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(
        microseconds=1
    )


def parse_as_of(text: str) -> datetime:
    """The moment `text` names; ValueError when it names none."""
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text))
        return parse_utc(text)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 overflows in UTC
        raise ValueError(f"{text!r} is out of range") from None
