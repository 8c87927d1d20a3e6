"""The committee's roster, folded from the `committee` stream (pure).

A seat is one term of one member. An elected member sits from `term_start` through
`term_end` inclusive; a permanent member's `term_end` is None. A departure `on` a day is
the first day the member no longer sits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

__all__ = [
    "EMPTY_ROSTER",
    "Roster",
    "Seat",
    "departing_seat",
    "evolve",
    "fold",
    "members_as_of",
    "roster_as_of",
    "seat_of",
    "seated_at",
]


class EventLike(Protocol):
    """What a fold needs of a recorded event (`events.model.RecordedEvent` has it)."""

    @property
    def position(self) -> int: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Seat:
    """One member's term on the committee."""

    member: str
    term_start: date
    term_end: date | None
    departed_on: date | None = None

    @property
    def permanent(self) -> bool:
        return self.term_end is None

    def sits_on(self, day: date) -> bool:
        """True if the member holds this seat on `day`."""
        if day < self.term_start:
            return False
        if self.term_end is not None and day > self.term_end:
            return False
        return self.departed_on is None or day < self.departed_on

    def overlaps(self, start: date, end: date | None) -> bool:
        """True if this seat (up to its departure) shares a day with [start, end]."""
        last = self.term_end
        if self.departed_on is not None:
            before = self.departed_on - timedelta(days=1)
            last = before if last is None else min(last, before)
        if last is not None and last < start:
            return False
        return end is None or self.term_start <= end

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "term_start": self.term_start.isoformat(),
            "term_end": None if self.term_end is None else self.term_end.isoformat(),
            "permanent": self.permanent,
            "departed_on": None if self.departed_on is None else self.departed_on.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Roster:
    """Every seat ever recorded, in the order seated."""

    seats: tuple[Seat, ...] = ()
    stream_version: int = 0
    position: int = 0
    last_occurred_at: datetime | None = None


EMPTY_ROSTER = Roster()


def evolve(roster: Roster | None, event: EventLike) -> Roster:
    """The roster after one event of the `committee` stream."""
    roster = roster or EMPTY_ROSTER
    data = event.data
    seats = roster.seats
    if event.event_type == "MemberSeated":
        end = data.get("term_end")
        seat = Seat(
            member=data["member"],
            term_start=date.fromisoformat(data["term_start"]),
            term_end=None if end is None else date.fromisoformat(end),
        )
        seats = (*seats, seat)
    elif event.event_type == "MemberDeparted":
        on = date.fromisoformat(data["on"])
        target = departing_seat(roster, data["member"], on)
        if target is not None:
            seats = tuple(
                replace(seat, departed_on=on) if seat is target else seat for seat in seats
            )
    return Roster(
        seats=seats,
        stream_version=event.stream_version,
        position=event.position,
        last_occurred_at=event.occurred_at,
    )


def fold(
    events: Iterable[EventLike], *, as_of: datetime | None = None, at_position: int | None = None
) -> Roster:
    """The roster from the committee stream, as the log held it at a time or position."""
    roster = EMPTY_ROSTER
    for event in events:
        if at_position is not None and event.position > at_position:
            break
        if as_of is not None and event.occurred_at > as_of:
            break
        roster = evolve(roster, event)
    return roster


def _day(moment: datetime | date, tz: tzinfo) -> date:
    if isinstance(moment, datetime):
        return moment.astimezone(tz).date()
    return moment


def seat_of(roster: Roster, member: str, moment: datetime | date, tz: tzinfo = UTC) -> Seat | None:
    """The seat `member` holds at `moment` (a time is read as its date in `tz`)."""
    day = _day(moment, tz)
    for seat in roster.seats:
        if seat.member == member and seat.sits_on(day):
            return seat
    return None


def seated_at(roster: Roster, member: str, moment: datetime | date, tz: tzinfo = UTC) -> bool:
    """True if `member` sits on the committee at `moment` (its date in `tz`)."""
    return seat_of(roster, member, moment, tz) is not None


def departing_seat(roster: Roster, member: str, on: date) -> Seat | None:
    """The seat a departure `on` a day ends: not yet departed, begun by `on`, and not
    ended before the day before `on` (the usual departure is the day after term end)."""
    for seat in roster.seats:
        if seat.member != member or seat.departed_on is not None or seat.term_start > on:
            continue
        if seat.term_end is None or on <= seat.term_end + timedelta(days=1):
            return seat
    return None


def roster_as_of(roster: Roster, moment: datetime | date, tz: tzinfo = UTC) -> list[Seat]:
    """The seats held at `moment`, permanent members first, then by member code."""
    day = _day(moment, tz)
    held = [seat for seat in roster.seats if seat.sits_on(day)]
    return sorted(held, key=lambda seat: (not seat.permanent, seat.member))


def members_as_of(roster: Roster, moment: datetime | date, tz: tzinfo = UTC) -> list[str]:
    """The member codes seated at `moment`."""
    return [seat.member for seat in roster_as_of(roster, moment, tz)]
