"""The bounds of a moment named `as_of` (SPEC §5, §7), on plain values: `now` is an
argument, so every case fixes it (none reads the day the suite runs on)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from service.platform.moments import (
    EARLIEST,
    OutOfBounds,
    as_of_within_bounds,
    last_complete_day,
    parse_as_of,
    public_day,
    within_bounds,
)

NOW = datetime(2031, 12, 31, 15, 4, 5, 123456, tzinfo=UTC)


class TestWithinBounds:
    def test_from_2000_to_now_inclusive(self) -> None:
        assert within_bounds(EARLIEST, NOW) == EARLIEST
        assert within_bounds(NOW, NOW) == NOW

    @pytest.mark.parametrize(
        "moment",
        [
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(2031, 12, 31, 15, 4, 5, 123457, tzinfo=UTC),
            datetime(9998, 1, 1, tzinfo=UTC),
        ],
    )
    def test_before_2000_or_after_now_is_out_of_bounds(self, moment: datetime) -> None:
        with pytest.raises(OutOfBounds):
            within_bounds(moment, NOW)


class TestAsOfWithinBounds:
    def test_a_time_or_a_past_day(self) -> None:
        assert as_of_within_bounds("2031-12-31T15:00:00Z", NOW) == datetime(
            2031, 12, 31, 15, tzinfo=UTC
        )
        assert as_of_within_bounds("2031-12-30", NOW) == parse_as_of("2031-12-30")
        assert as_of_within_bounds("2000-01-01", NOW) == parse_as_of("2000-01-01")

    def test_today_names_now_the_rest_of_the_day_not_having_happened(self) -> None:
        assert as_of_within_bounds("2031-12-31", NOW) == NOW

    @pytest.mark.parametrize(
        "text",
        [
            "2032-01-01",
            "5000-01-01",
            "9998-12-31",
            "2031-12-31T15:04:06Z",
            "2031-12-31T16:00:00+00:30",
            "1999-12-31",
            "1999-12-31T23:59:59.999999Z",
            "0001-01-01",
        ],
    )
    def test_out_of_bounds(self, text: str) -> None:
        with pytest.raises(OutOfBounds, match=r"after now|before 2000-01-01"):
            as_of_within_bounds(text, NOW)

    @pytest.mark.parametrize("text", ["yesterday", "2031-02-30", "2031-12-31T10:00:00", ""])
    def test_malformed_is_no_moment_at_all(self, text: str) -> None:
        with pytest.raises(ValueError) as raised:
            as_of_within_bounds(text, NOW)
        assert not isinstance(raised.value, OutOfBounds)


class TestPublicDay:
    def test_the_last_complete_day_is_yesterday_in_utc(self) -> None:
        assert last_complete_day(NOW) == date(2031, 12, 30)
        assert last_complete_day(datetime(2032, 1, 1, tzinfo=UTC)) == date(2031, 12, 31)
        # a zone ahead of UTC does not make the day end sooner
        ahead = datetime.fromisoformat("2032-01-01T01:00:00+02:00")
        assert last_complete_day(ahead) == date(2031, 12, 30)

    def test_a_day_that_has_ended(self) -> None:
        assert public_day("2031-12-30", NOW) == date(2031, 12, 30)
        assert public_day("2000-01-01", NOW) == date(2000, 1, 1)

    @pytest.mark.parametrize("text", ["2031-12-31", "2032-01-01", "5000-01-01", "1999-12-31"])
    def test_today_the_future_and_before_2000_are_out_of_bounds(self, text: str) -> None:
        with pytest.raises(OutOfBounds):
            public_day(text, NOW)

    @pytest.mark.parametrize("text", ["2031-12-30T10:00:00Z", "2031-W52-1", "20311230", "x"])
    def test_only_a_date(self, text: str) -> None:
        with pytest.raises(ValueError) as raised:
            public_day(text, NOW)
        assert not isinstance(raised.value, OutOfBounds)
