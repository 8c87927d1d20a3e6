"""Where the status of one request state changes with business time alone, without an
event (pure): `under_review` becomes `awaiting_decision` the microsecond after the
deadline, and `active` becomes `expired` when the committee's calendar day passes
`valid_until`. A row of `projections.intervals.steps` keeps the instant (`changes_at`)
and shows the later status from there on: a run is one row, not cut in two.

The statuses here are those without the holds (`status_inputs(..., holds=False)`): a
status row does not change when a hold is placed or ends; the hold rows say when a
request was held, and `statuses.with_holds` makes the status of both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from projections.request import RequestState, Status, derived_status
from projections.request.state import status_inputs
from projections.request.statuses import StatusInputs

__all__ = ["TIME_CHANGES", "change_at", "opening", "status_then"]

_MICROSECOND = timedelta(microseconds=1)


#: `_expiry` of each (day, zone) met: a rebuild asks again for every event of an
#: approved request. Cleared when full.
_EXPIRIES: dict[tuple[date, tzinfo], datetime | None] = {}
_EXPIRIES_MAX = 1 << 14


def _expiry(valid_until: date, tz: tzinfo) -> datetime | None:
    """The first instant whose calendar day in `tz` is after `valid_until`. A local
    midnight that a clock change skips maps (fold 0) to the instant of the change, and
    one that happens twice to its first occurrence: the first instant of the next day."""
    key = (valid_until, tz)
    if key in _EXPIRIES:
        return _EXPIRIES[key]
    found = None
    if valid_until != date.max:
        midnight = datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=tz)
        found = midnight.astimezone(UTC)
    if len(_EXPIRIES) >= _EXPIRIES_MAX:
        _EXPIRIES.clear()
    _EXPIRIES[key] = found
    return found


def change_at(state: RequestState, tz: tzinfo = UTC) -> datetime | None:
    """The instant from which the status of `state` without its holds differs from its
    value just before, when it can change with time alone; None when it cannot.

    Mirrors `request.status`: a decided request changes only from `active` to `expired`;
    a circulated one from `under_review` to `awaiting_decision` (`T > deadline`, i.e.
    from the next microsecond)."""
    return _change_at(status_inputs(state, holds=False), tz)


def _change_at(facts: StatusInputs, tz: tzinfo) -> datetime | None:
    if facts.withdrawn_at is not None or facts.refused_at is not None:
        return None
    valid_until = facts.valid_until
    if facts.approved_at is not None and valid_until is not None:
        return _expiry(valid_until, tz)
    deadline = facts.deadline
    if facts.circulated_at is None or deadline is None:
        return None
    return deadline + _MICROSECOND


#: The only changes time alone makes (`change_at`): a row whose run goes on past its
#: `changes_at` shows the second status from there on.
TIME_CHANGES: dict[Status, Status] = {"under_review": "awaiting_decision", "active": "expired"}


def opening(state: RequestState, start: datetime, tz: tzinfo) -> tuple[datetime | None, Status]:
    """`(change_at(state, tz), the status without the holds at start)`, the state read
    once."""
    facts = status_inputs(state, holds=False)
    return _change_at(facts, tz), derived_status(facts, start, tz)


def status_then(status: Status, changes_at: datetime | None, at: datetime) -> Status:
    """The status at `at` of a row that shows `status` from its start and changes with
    time alone at `changes_at` (None: never, within the row)."""
    if changes_at is not None and changes_at <= at:
        return TIME_CHANGES[status]
    return status
