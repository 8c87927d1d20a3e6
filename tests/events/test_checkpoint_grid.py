"""The checkpoint grid (SPEC §4), with plain values: ticks at multiples of the interval
from the Unix epoch, and when a writer's round signs (`every_events` at once; for time,
only at the tick it waited for, once per slot, whichever process got there first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.checkpoint_grid import (
    EPOCH,
    Trigger,
    grid_due,
    grid_slot,
    last_tick,
    next_awaited,
    next_tick,
    seconds_to_next_tick,
    signing_due,
)

HOUR = 3600.0
DAY = datetime(2031, 12, 31, tzinfo=UTC)


def at(hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss, microsecond=us)


class TestTheGrid:
    def test_ticks_are_multiples_of_the_interval_from_the_epoch(self) -> None:
        assert last_tick(at(10, 30), HOUR) == at(10)
        assert next_tick(at(10, 30), HOUR) == at(11)
        assert next_tick(at(23, 59, 59, 999_999), HOUR) == DAY + timedelta(days=1)
        assert grid_slot(EPOCH, HOUR) == 0
        assert grid_slot(EPOCH + timedelta(hours=5, minutes=1), HOUR) == 5
        assert grid_slot(EPOCH - timedelta(microseconds=1), HOUR) == -1

    def test_a_tick_is_in_its_own_slot_and_the_next_one_is_after_it(self) -> None:
        assert last_tick(at(11), HOUR) == at(11)
        assert next_tick(at(11), HOUR) == at(12)
        assert grid_slot(at(11), HOUR) == grid_slot(at(11, 59, 59, 999_999), HOUR)
        assert grid_slot(at(11), HOUR) == grid_slot(at(10, 59, 59, 999_999), HOUR) + 1

    def test_the_grid_does_not_depend_on_when_it_is_asked(self) -> None:
        # not "an interval after the last signing": the same ticks from any moment
        for minute in (0, 1, 29, 59):
            assert next_tick(at(10, minute, 7), HOUR) == at(11)
        assert {next_tick(at(10, 0, s), 60.0) for s in range(60)} == {at(10, 1)}

    def test_any_interval_in_whole_microseconds(self) -> None:
        assert next_tick(at(10, 0, 0, 100), 0.2) == at(10, 0, 0, 200_000)
        assert last_tick(at(10, 0, 0, 399_999), 0.2) == at(10, 0, 0, 200_000)
        assert last_tick(at(10, 0, 0, 400_000), 0.2) == at(10, 0, 0, 400_000)
        assert next_tick(at(10), 86_400.0) == DAY + timedelta(days=1)  # UTC midnights
        assert next_tick(at(10, 0, 0, 1), 1e-6) == at(10, 0, 0, 2)
        with pytest.raises(ValueError, match="shorter than a microsecond"):
            next_tick(at(10), 1e-7)

    def test_seconds_to_the_next_tick(self) -> None:
        assert seconds_to_next_tick(at(10, 30), HOUR) == 1800.0
        assert seconds_to_next_tick(at(10, 59, 59, 500_000), HOUR) == 0.5
        assert seconds_to_next_tick(at(11), HOUR) == HOUR  # at a tick: the next one


class TestWhenTheGridAsks:
    def test_not_before_the_awaited_tick(self) -> None:
        # The last checkpoint at 09:00, a tick passed since: still not at 10:30.
        assert not grid_due(at(10, 30), at(11), HOUR, at(9))
        assert not grid_due(at(10, 59, 59, 999_999), at(11), HOUR, at(9))
        assert grid_due(at(11), at(11), HOUR, at(9))
        assert grid_due(at(11, 0, 1), at(11), HOUR, None)

    def test_once_per_slot_whoever_signed_in_it(self) -> None:
        # another process (or an operator) signed at or after the tick: nothing more
        assert not grid_due(at(11, 0, 1), at(11), HOUR, at(11))
        assert not grid_due(at(11, 0, 1), at(11), HOUR, at(11, 0, 0, 300))
        # signed just before the tick (the event trigger at 10:59): the tick still signs
        assert grid_due(at(11, 0, 1), at(11), HOUR, at(10, 59, 59))

    def test_a_late_round_serves_the_latest_tick(self) -> None:
        # the round for 11:00 ran at 12:10 (a long extension): once, for 12:00's slot
        assert grid_due(at(12, 10), at(11), HOUR, at(11))
        assert not grid_due(at(12, 10), at(11), HOUR, at(12, 10))


class TestSigningDue:
    def due(
        self,
        now: datetime,
        head: int,
        signed_size: int = 0,
        signed_at: datetime | None = None,
        awaited: datetime | None = None,
        every_events: int = 1000,
    ) -> Trigger | None:
        return signing_due(
            now=now,
            awaited=awaited if awaited is not None else next_tick(now, HOUR),
            interval=HOUR,
            head=head,
            signed_size=signed_size,
            signed_at=signed_at,
            every_events=every_events,
        )

    def test_an_event_after_a_quiet_spell_waits_for_the_next_tick(self) -> None:
        assert self.due(at(10, 30), head=101, signed_size=100, signed_at=at(9)) is None
        at_tick = self.due(at(11), head=101, signed_size=100, signed_at=at(9), awaited=at(11))
        assert at_tick is Trigger.TICK

    def test_nothing_new_nothing_signed_at_a_tick(self) -> None:
        assert self.due(at(11), head=100, signed_size=100, signed_at=at(9), awaited=at(11)) is None
        assert self.due(at(11), head=0, awaited=at(11)) is None

    def test_every_events_signs_at_once_between_ticks(self) -> None:
        assert self.due(at(10, 30), head=1100, signed_size=100, signed_at=at(10)) is Trigger.EVENTS
        assert self.due(at(10, 30), head=5, every_events=5) is Trigger.EVENTS
        assert self.due(at(10, 30), head=1099, signed_size=100, signed_at=at(10)) is None

    def test_the_first_checkpoint_at_a_tick_too(self) -> None:
        assert self.due(at(10, 30), head=3) is None
        assert self.due(at(11), head=3, awaited=at(11)) is Trigger.TICK


class TestTheAwaitedTick:
    def test_it_moves_on_once_it_has_come(self) -> None:
        assert next_awaited(at(10, 30), at(11), HOUR) == at(11)
        assert next_awaited(at(11), at(11), HOUR) == at(12)
        assert next_awaited(at(11, 0, 0, 5000), at(11), HOUR) == at(12)

    def test_missed_ticks_are_not_made_up(self) -> None:
        assert next_awaited(at(14, 10), at(11), HOUR) == at(15)
