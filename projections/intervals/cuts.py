"""Where the status of one request state changes with business time alone, without an
event (pure): `under_review` becomes `awaiting_decision` the microsecond after the
deadline, and `active` becomes `expired` when the committee's calendar day passes
`valid_until`. `projections.intervals.steps` cuts its rows there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from projections.request import RequestState, Status, derived_status
from projections.request.state import status_inputs
from projections.request.statuses import StatusInputs

__all__ = ["change_at", "pieces", "timeline"]

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
    """The instant from which `status(state, T)` differs from its value just before,
    when the state can change status with time alone; None when it cannot.

    Mirrors `request.status`: a decided request changes only from `active` to `expired`;
    a circulated request without holds from `under_review` to `awaiting_decision`
    (`T > deadline`, i.e. from the next microsecond)."""
    return _change_at(status_inputs(state), tz)


def _change_at(facts: StatusInputs, tz: tzinfo) -> datetime | None:
    if facts.withdrawn_at is not None or facts.refused_at is not None:
        return None
    valid_until = facts.valid_until
    if facts.approved_at is not None and valid_until is not None:
        return _expiry(valid_until, tz)
    deadline = facts.deadline
    if facts.circulated_at is None or deadline is None or facts.active_holds:
        return None
    return deadline + _MICROSECOND


Pieces = list[tuple[Status, datetime, datetime | None]]


def pieces(state: RequestState, start: datetime, cut: datetime | None, tz: tzinfo) -> Pieces:
    """`[start, ...)` cut where the status changes (`cut`, `change_at` of the state),
    each piece with its status."""
    return _pieces(status_inputs(state), start, cut, tz)


def _pieces(facts: StatusInputs, start: datetime, cut: datetime | None, tz: tzinfo) -> Pieces:
    if cut is None or cut <= start:
        return [(derived_status(facts, start, tz), start, None)]
    return [
        (derived_status(facts, start, tz), start, cut),
        (derived_status(facts, cut, tz), cut, None),
    ]


def timeline(state: RequestState, start: datetime, tz: tzinfo) -> tuple[datetime | None, Pieces]:
    """`(change_at(state, tz), pieces(state, start, that, tz))`, the state read once."""
    facts = status_inputs(state)
    cut = _change_at(facts, tz)
    return cut, _pieces(facts, start, cut, tz)
