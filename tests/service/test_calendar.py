"""Working days, holidays and DST in no-objection deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from service.rules.calendar import (
    end_of_day,
    load_holidays,
    local_date,
    no_objection_deadline,
    parse_holidays,
)

NY = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class TestNoObjectionDeadline:
    @pytest.mark.parametrize(
        ("start", "days", "holidays", "expected"),
        [
            # Monday 14:00 New York (EST, -05:00): 5 working days -> end of next Monday.
            ("2026-02-02T19:00:00Z", 5, frozenset(), "2026-02-10T04:59:59.999999Z"),
            # Friday: the weekend does not count.
            ("2026-02-06T15:00:00Z", 2, frozenset(), "2026-02-11T04:59:59.999999Z"),
            # Saturday circulation: Monday is the first working day.
            ("2026-02-07T15:00:00Z", 1, frozenset(), "2026-02-10T04:59:59.999999Z"),
            # Late Friday evening in New York is already Saturday in UTC: local day counts.
            ("2026-02-07T03:00:00Z", 1, frozenset(), "2026-02-10T04:59:59.999999Z"),
            # Presidents' Day (Mon 16 Feb 2026) is skipped.
            (
                "2026-02-13T15:00:00Z",
                1,
                frozenset({date(2026, 2, 16)}),
                "2026-02-18T04:59:59.999999Z",
            ),
            # Two holidays in a row, then a weekend.
            (
                "2026-12-23T15:00:00Z",
                2,
                frozenset({date(2026, 12, 24), date(2026, 12, 25)}),
                "2026-12-30T04:59:59.999999Z",
            ),
            # DST starts Sun 8 Mar 2026: the deadline on Tue 10 Mar is in EDT (-04:00).
            ("2026-03-06T15:00:00Z", 2, frozenset(), "2026-03-11T03:59:59.999999Z"),
            # DST ends Sun 1 Nov 2026: circulated in EDT, deadline in EST.
            ("2026-10-30T15:00:00Z", 1, frozenset(), "2026-11-03T04:59:59.999999Z"),
        ],
    )
    def test_deadline(
        self, start: str, days: int, holidays: frozenset[date], expected: str
    ) -> None:
        assert no_objection_deadline(utc(start), days, NY, holidays) == utc(expected)

    def test_the_deadline_is_utc_and_aware(self) -> None:
        deadline = no_objection_deadline(utc("2026-02-02T19:00:00Z"), 5, NY, frozenset())
        assert deadline.utcoffset() is not None
        assert deadline.tzinfo is UTC

    def test_another_zone(self) -> None:
        # Geneva, Thursday: Friday and Monday are the two days.
        deadline = no_objection_deadline(
            utc("2026-02-05T10:00:00Z"), 2, "Europe/Zurich", frozenset()
        )
        assert deadline == utc("2026-02-09T22:59:59.999999Z")

    def test_at_least_one_day(self) -> None:
        with pytest.raises(ValueError):
            no_objection_deadline(utc("2026-02-02T19:00:00Z"), 0, NY, frozenset())

    def test_naive_start_is_refused(self) -> None:
        with pytest.raises(ValueError):
            no_objection_deadline(datetime(2026, 2, 2, 12), 1, NY, frozenset())


class TestDays:
    def test_local_date(self) -> None:
        assert local_date(utc("2026-02-07T03:00:00Z"), NY) == date(2026, 2, 6)

    def test_end_of_day_in_summer(self) -> None:
        assert end_of_day(date(2026, 7, 1), NY) == utc("2026-07-02T03:59:59.999999Z")


class TestHolidays:
    def test_parse(self) -> None:
        text = "# UN holidays 2026\n2026-01-01\n\n2026-12-25  # Christmas\n  2026-05-01\n"
        assert parse_holidays(text) == frozenset(
            {date(2026, 1, 1), date(2026, 12, 25), date(2026, 5, 1)}
        )

    def test_bad_line_names_its_number(self) -> None:
        with pytest.raises(ValueError, match="line 2"):
            parse_holidays("2026-01-01\nChristmas\n")

    def test_load(self, tmp_path: Path) -> None:
        path = tmp_path / "holidays.txt"
        path.write_text("2026-01-19\n", encoding="utf-8")
        assert load_holidays(path) == frozenset({date(2026, 1, 19)})
        assert load_holidays(None) == frozenset()
