"""Where the status of one request state changes with business time alone, without an
event (pure): `under_review` becomes `awaiting_decision` the microsecond after the
deadline, and `active` becomes `expired` when the committee's calendar day passes
`valid_until`. `projections.intervals.steps` cuts its rows there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from projections.request import RequestState, Status, status

__all__ = ["change_at", "pieces"]

_MICROSECOND = timedelta(microseconds=1)


def _expiry(valid_until: date, tz: tzinfo) -> datetime | None:
    """The first instant whose calendar day in `tz` is after `valid_until`. A local
    midnight that a clock change skips maps (fold 0) to the instant of the change, and
    one that happens twice to its first occurrence: the first instant of the next day."""
    if valid_until == date.max:
        return None
    midnight = datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=tz)
    return midnight.astimezone(UTC)


def change_at(state: RequestState, tz: tzinfo = UTC) -> datetime | None:
    """The instant from which `status(state, T)` differs from its value just before,
    when the state can change status with time alone; None when it cannot.

    Mirrors `request.status`: a decided request changes only from `active` to `expired`;
    a circulated request without holds from `under_review` to `awaiting_decision`
    (`T > deadline`, i.e. from the next microsecond)."""
    if state.withdrawn_at is not None or state.refused_at is not None:
        return None
    if state.approved_at is not None and state.valid_until is not None:
        return _expiry(state.valid_until, tz)
    initial = state.procedures[0]
    if initial.circulated_at is None or initial.deadline is None or state.active_holds:
        return None
    return initial.deadline + _MICROSECOND


def pieces(
    state: RequestState, start: datetime, cut: datetime | None, tz: tzinfo
) -> list[tuple[Status, datetime, datetime | None]]:
    """`[start, ...)` cut where the status changes (`cut`, `change_at` of the state),
    each piece with its status."""
    if cut is None or cut <= start:
        return [(status(state, start, tz), start, None)]
    return [(status(state, start, tz), start, cut), (status(state, cut, tz), cut, None)]
