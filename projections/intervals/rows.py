"""The rows of the bitemporal projection (`projections.intervals.steps` makes them): a status
interval and a hold interval, the list item's fields of a state (`summary`), and the
lookups of the row shown at a moment `(business time, log position)` (pure).

Intervals are half-open: `[valid_from, valid_to)` in business time (`None` = no end) and
`[recorded_from, recorded_to)` in log position (`None` = still shown at the head). A row
is one run of equal content: before the event that ends the run (at `settled_from`,
None while none has) it reaches to `live_to` in business time, from that event on to
`valid_to` (the ending event's `occurred_at`, or the row's own end if earlier). While
`settled_from` is None, `valid_to` is the row's end and `live_to` unused (None). A hold
row is one per hold (and recording): it keeps its end and the position that ended it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

from projections import holds as hold_rows
from projections.intervals.cuts import status_then
from projections.request import RequestState, Status
from projections.request.state import _time as request_time_text
from projections.request.statuses import with_holds

# a named tuple made from all its values, without its `__new__`'s argument parsing
_new_facts = _new_row = tuple.__new__


class StatusFacts(NamedTuple):
    """What a status interval says of the request besides its status: what the list
    filters on and the facts the statistics count, no more (a list item's other fields
    are folded from the log: `summary`). Equal facts continue a run, so a fact kept
    here that no read asks for would only cut runs (questions asked and answered did,
    until 0015; holds placed and ended did, until 0017: the hold rows say who held a
    request when).

    This and the interval rows are named tuples, not frozen dataclasses: a rebuild makes
    a few of them per event, and a frozen dataclass of 15 fields takes ~8 times as long
    to build (one `object.__setattr__` per field), and to hash and compare."""

    submitted_at: datetime
    applicant_name: str
    circulated_at: datetime | None
    # the initial procedure's decision: approved, refused or withdrawn
    decided_at: datetime | None
    outcome: str | None
    approved_at: datetime | None
    refused_at: datetime | None
    withdrawn_at: datetime | None
    exemption_from: date | None
    exemption_until: date | None
    disclosure: str
    # where time alone changes the status (`cuts.change_at`): a row shows
    # `cuts.TIME_CHANGES[status]` from there on
    cut: datetime | None

    @classmethod
    def of(cls, state: RequestState, cut: datetime | None) -> StatusFacts:
        initial = state.procedures[0]
        return _new_facts(
            cls,
            (
                state.submitted_at,
                str(state.applicant.get("name", "")),
                initial.circulated_at,
                initial.decided_at,
                initial.outcome,
                state.approved_at,
                state.refused_at,
                state.withdrawn_at,
                state.valid_from,
                state.valid_until,
                state.disclosure,
                cut,
            ),
        )


class StatusInterval(NamedTuple):
    """One row of `request_status_intervals`: request `request_id` was in `status`, with
    `facts`, for business times `[valid_from, valid_to)` as the log showed it at
    positions `[recorded_from, recorded_to)` — in `status` from `valid_from`, and in
    `TIME_CHANGES[status]` from `changes_at` on, where time alone changes it. The status
    is the one without the holds (`statuses.with_holds` counts them: `status_shown`)."""

    request_id: str
    status: Status
    valid_from: datetime
    valid_to: datetime | None
    recorded_from: int
    recorded_to: int | None
    facts: StatusFacts
    # the position of the event that ended the run (None: not ended), and the business
    # end the row had before it
    settled_from: int | None = None
    live_to: datetime | None = None

    @property
    def key(self) -> tuple[str, int, datetime]:
        """The row's identity: (request_id, recorded_from, valid_from)."""
        return (self.request_id, self.recorded_from, self.valid_from)

    @property
    def changes_at(self) -> datetime | None:
        """Where time alone changes the row's status (`cuts.change_at` of its state),
        if after the row's start (before it, `status` already says so)."""
        cut = self.facts.cut
        return cut if cut is not None and cut > self.valid_from else None

    def status_as_of(self, at: datetime) -> Status:
        """The status without the holds the row shows at business time `at` (within the
        row)."""
        return status_then(self.status, self.changes_at, at)

    def covers(self, at: datetime, position: int) -> bool:
        return _covers(self, self.live_to, at, position)


class HoldInterval(NamedTuple):
    """One row of `hold_intervals`: the hold placed at `hold_position`, from `placed_at`
    on in business time, as the log showed it at positions `[recorded_from,
    recorded_to)`. A hold changes once, when it ends: the row keeps the end and the
    position of the event that ended it (`ended_from`), and shows the hold ended at
    `(T, P)` when `ended_from <= P` and `ended_at <= T`, active before."""

    request_id: str
    hold_position: int
    member: str
    procedure: str
    placed_at: datetime
    ended_at: datetime | None
    end_kind: hold_rows.EndKind | None
    recorded_from: int
    recorded_to: int | None
    ended_from: int | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """The row's identity: (request_id, hold_position, recorded_from)."""
        return (self.request_id, self.hold_position, self.recorded_from)

    def hold(self, at: datetime, position: int) -> hold_rows.Hold:
        """The hold as it stood at `(at, position)` (the row covering it)."""
        ended_from = self.ended_from
        ended_at = self.ended_at
        if ended_from is None or ended_from > position or ended_at is None or ended_at > at:
            return hold_rows.Hold(
                self.hold_position, self.request_id, self.procedure, self.member, self.placed_at
            )
        return hold_rows.Hold.of_row(self, self.hold_position)

    def covers(self, at: datetime, position: int) -> bool:
        return (
            self.placed_at <= at
            and self.recorded_from <= position
            and (self.recorded_to is None or position < self.recorded_to)
        )


def settled(row: StatusInterval, position: int, until: datetime) -> StatusInterval | None:
    """Live `row` settled by the event at (`until`, `position`): from `position` on,
    business time cut at `until`; None when nothing remains (the row is closed)."""
    request_id, status, valid_from, valid_to, recorded_from, recorded_to, facts, _, _ = row
    end = until if valid_to is None or valid_to > until else valid_to
    if valid_from >= end:
        return None
    # `row._replace(valid_to=end, settled_from=position, live_to=valid_to)`, at a third
    # of its cost
    values = (request_id, status, valid_from, end, recorded_from, recorded_to, facts)
    return _new_row(StatusInterval, (*values, position, valid_to))


def ended_hold(row: HoldInterval, hold: hold_rows.Hold, position: int) -> HoldInterval:
    """Live `row` ended as `hold` says by the event at `position`."""
    return row._replace(ended_at=hold.ended_at, end_kind=hold.end, ended_from=position)


def _covers(row: StatusInterval, live_to: datetime | None, at: datetime, position: int) -> bool:
    if not (
        row.valid_from <= at
        and row.recorded_from <= position
        and (row.recorded_to is None or position < row.recorded_to)
    ):
        return False
    settled_from = row.settled_from
    end = row.valid_to if settled_from is None or settled_from <= position else live_to
    return end is None or at < end


#: The fields of `GET /v1/requests/{id}` kept per event for collection reads as of a
#: moment (SPEC §6's "at least" list and the list filters), `status` excepted: it is
#: the interval's.
SUMMARY_FIELDS = (
    "request_id",
    "applicant",
    "channel",
    "title",
    "urgent",
    "disclosure",
    "submitted_at",
    "open_procedure",
    "information_pending",
    "deadline",
    "active_holds",
    "approved_at",
    "valid_from",
    "valid_until",
    "letter_ref",
    "shipments",
    "decided_at",
    "refused_at",
    "withdrawn_at",
    "stream_version",
    "position",
)


def _text(moment: datetime | None) -> str | None:
    # the view's own formatting (cached): `utc_text`, byte for byte, at half the cost
    return request_time_text(moment)


def _day(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def summary(state: RequestState) -> dict[str, Any]:
    """`{field: view(state)[field] for field in SUMMARY_FIELDS}`, without the whole view."""
    return {
        "request_id": state.request_id,
        "applicant": dict(state.applicant),
        "channel": state.channel,
        "title": state.title,
        "urgent": state.urgent,
        "disclosure": state.disclosure,
        "submitted_at": _text(state.submitted_at),
        "open_procedure": state.open_procedure,
        "information_pending": bool(state.open_questions) and state.information_pending,
        "deadline": _text(state.deadline),
        "active_holds": [
            {"member": hold.member, "placed_at": _text(hold.placed_at)}
            for hold in state.active_holds
        ],
        "approved_at": _text(state.approved_at),
        "valid_from": _day(state.valid_from),
        "valid_until": _day(state.valid_until),
        "letter_ref": state.letter_ref,
        "shipments": [shipment.to_dict() for shipment in state.shipments]
        if state.shipments
        else [],
        "decided_at": _text(state.decided_at),
        "refused_at": _text(state.refused_at),
        "withdrawn_at": _text(state.withdrawn_at),
        "stream_version": state.stream_version,
        "position": state.position,
    }


def status_at(rows: Iterable[StatusInterval], at: datetime, position: int) -> StatusInterval | None:
    """The row in force at business time `at` and log position `position`, if any."""
    found = [row for row in rows if row.covers(at, position)]
    if len(found) > 1:
        raise AssertionError(f"overlapping intervals at ({at}, {position}): {found}")
    return found[0] if found else None


def status_shown(
    rows: Iterable[StatusInterval], holds: Iterable[HoldInterval], at: datetime, position: int
) -> Status | None:
    """The request's status at business time `at` and log position `position` (None:
    no request then): its status row's, `on_hold` where one of its holds was active."""
    row = status_at(rows, at, position)
    if row is None:
        return None
    held = any(hold.active for hold in hold_at(holds, at, position))
    return with_holds(row.status_as_of(at), held)


def hold_at(rows: Iterable[HoldInterval], at: datetime, position: int) -> list[hold_rows.Hold]:
    """The holds shown at business time `at` and log position `position`, by position."""
    shown = (row.hold(at, position) for row in rows if row.covers(at, position))
    return sorted(shown, key=_by_position)


def _by_position(hold: hold_rows.Hold) -> int:
    return hold.position
