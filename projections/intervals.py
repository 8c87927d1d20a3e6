"""Bitemporal intervals of a request: its status and its holds in business time and in
log position, so that "as of T at position P" is an interval lookup (pure).

The law behind it. `request.fold(events, as_of=T, at_position=P)` folds the stream's
events with `position <= P` and `occurred_at <= T`. Within a stream both positions and
business times grow with the version (SPEC §3: `occurred_at` is never before the stream's
last event), so those events are a *prefix* of the stream: the first
`k = min(A(P), B(T))` events, `A(P)` counting positions `<= P`, `B(T)` times `<= T`.
Folding that prefix is the state `S_k` (a retraction in the prefix removes its target;
a retraction after it does not). The moments `(T, P)` of prefix `k` form an L-shaped
region, the union of two rectangles:

- the *live* rectangle: `P in [p_k, p_k+1)`, `T in [t_k, ...)`;
- the *settled* rectangle: `P in [p_k+1, ...)`, `T in [t_k, t_k+1)`.

While `k` is the stream's last event, its live rectangle is open upwards in position.
The next event `k+1` closes it at `p_k+1` (the log no longer shows only `k`) and adds the
settled rectangle, which no later event can change: every later event happens at or
after `t_k+1`. So rows are only ever inserted, or closed once in `recorded_to`.

Within a rectangle the status can still change with business time alone, without an
event: `under_review` becomes `awaiting_decision` the microsecond after the deadline, and
`active` becomes `expired` when the committee's calendar day passes `valid_until`. Each
rectangle is cut there, so a row's status holds on the whole of it.

Rows are kept per *run*, not per event: a row's content (the status and the facts the
lists and statistics filter on, `StatusFacts`; or a hold as `holds.fold` shows it) that
stays the same over prefixes `[a, b)` covers the union of their L's — the same two
rectangles with `a` and `b` in place of `k` and `k+1`. An event that changes none of it
(a review, an annotation, a shipment) writes no interval row. A live piece that ended in
business time before the next event (`valid_to <= t_k+1`) is final as it is: no prefix
after `k` reaches those times. A retraction may end a run and bring earlier content back,
which is just another run. What a list item shows of the state (`summary`) changes with
every event: it is kept per event in `Version`, found for `(T, P)` as the stream's last
version with `position <= P` and `occurred_at <= T`.

Intervals are half-open: `[valid_from, valid_to)` in business time (`None` = no end) and
`[recorded_from, recorded_to)` in log position (`None` = still shown at the head).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from projections import holds as hold_rows
from projections.history import EventRow, request_id_of
from projections.request import RequestState, Status, evolve, fold, status
from projections.request.state import _time as request_time_text

__all__ = [
    "SUMMARY_FIELDS",
    "HoldInterval",
    "StatusFacts",
    "StatusInterval",
    "Step",
    "StreamHead",
    "StreamIntervals",
    "Version",
    "advance",
    "change_at",
    "hold_at",
    "status_at",
    "step",
    "stream_intervals",
    "summary",
    "version_at",
]

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What a status interval says of the request besides its status: the list filters
    and flags, and the facts the statistics count. Equal facts continue a run."""

    submitted_at: datetime
    applicant_name: str
    # members with an active hold, sorted
    held_by: tuple[str, ...]
    information_pending: bool
    open_procedure: str | None
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
    # where time alone changes the status (`change_at`)
    cut: datetime | None

    @classmethod
    def of(cls, state: RequestState, cut: datetime | None) -> StatusFacts:
        initial = state.procedures[0]
        active = state.active_holds
        return cls(
            state.submitted_at,
            str(state.applicant.get("name", "")),
            tuple(sorted(hold.member for hold in active)) if active else (),
            bool(state.open_questions) and state.information_pending,
            state.open_procedure,
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
        )


@dataclass(frozen=True, slots=True)
class StatusInterval:
    """One row of `request_status_intervals`: request `request_id` was in `status`, with
    `facts`, for business times `[valid_from, valid_to)` as the log showed it at
    positions `[recorded_from, recorded_to)`."""

    request_id: str
    status: Status
    valid_from: datetime
    valid_to: datetime | None
    recorded_from: int
    recorded_to: int | None
    facts: StatusFacts

    @property
    def key(self) -> tuple[str, int, datetime]:
        """The row's identity: (request_id, recorded_from, valid_from)."""
        return (self.request_id, self.recorded_from, self.valid_from)

    @property
    def run(self) -> tuple[StatusFacts, str, datetime | None]:
        """What a later state must show for this row to stay live."""
        return (self.facts, self.status, self.valid_to)

    def covers(self, at: datetime, position: int) -> bool:
        return _covers(
            self.valid_from, self.valid_to, self.recorded_from, self.recorded_to, at, position
        )


@dataclass(frozen=True, slots=True)
class HoldInterval:
    """One row of `hold_intervals`: the hold placed at `hold_position`, as it stood
    (`ended_at`, `end_kind`) for business times `[valid_from, valid_to)` as the log showed
    it at positions `[recorded_from, recorded_to)`."""

    request_id: str
    hold_position: int
    member: str
    procedure: str
    placed_at: datetime
    ended_at: datetime | None
    end_kind: hold_rows.EndKind | None
    valid_from: datetime
    valid_to: datetime | None
    recorded_from: int
    recorded_to: int | None

    @property
    def key(self) -> tuple[str, int, int, datetime]:
        """The row's identity: (request_id, hold_position, recorded_from, valid_from)."""
        return (self.request_id, self.hold_position, self.recorded_from, self.valid_from)

    def hold(self) -> hold_rows.Hold:
        return hold_rows.Hold(
            position=self.hold_position,
            request_id=self.request_id,
            procedure=self.procedure,
            member=self.member,
            placed_at=self.placed_at,
            ended_at=self.ended_at,
            end=self.end_kind,
        )

    def covers(self, at: datetime, position: int) -> bool:
        return _covers(
            self.valid_from, self.valid_to, self.recorded_from, self.recorded_to, at, position
        )


def _covers(
    valid_from: datetime,
    valid_to: datetime | None,
    recorded_from: int,
    recorded_to: int | None,
    at: datetime,
    position: int,
) -> bool:
    return (
        valid_from <= at
        and (valid_to is None or at < valid_to)
        and recorded_from <= position
        and (recorded_to is None or position < recorded_to)
    )


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


@dataclass(frozen=True, slots=True)
class Version:
    """One row of `request_versions`: the list item's fields of the state after the event
    at `position` (business time `occurred_at`)."""

    request_id: str
    position: int
    occurred_at: datetime
    summary: dict[str, Any]

    @classmethod
    def of(cls, state: RequestState) -> Version:
        return cls(state.request_id, state.position, state.last_occurred_at, summary(state))


def version_at(versions: Iterable[Version], at: datetime, position: int) -> Version | None:
    """The version shown at `(at, position)`: the last with `position <= position` and
    `occurred_at <= at` (one stream's versions)."""
    found = None
    for version in versions:
        shown = version.position <= position and version.occurred_at <= at
        if shown and (found is None or version.position > found.position):
            found = version
    return found


# --- the status within one state, over business time --------------------------------------


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


def _pieces(
    state: RequestState, start: datetime, tz: tzinfo
) -> list[tuple[Status, datetime, datetime | None]]:
    """`[start, ...)` cut where the status changes, each piece with its status."""
    cut = change_at(state, tz)
    if cut is None or cut <= start:
        return [(status(state, start, tz), start, None)]
    return [(status(state, start, tz), start, cut), (status(state, cut, tz), cut, None)]


# --- one event of one stream ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamHead:
    """What the projection keeps of a stream between events: its last state and holds,
    and the rows still live (their rectangle open upwards in position)."""

    state: RequestState
    holds: hold_rows.Holds
    live_status: tuple[StatusInterval, ...]
    live_holds: tuple[HoldInterval, ...]

    @property
    def position(self) -> int:
        return self.state.position

    @property
    def occurred_at(self) -> datetime:
        return self.state.last_occurred_at


@dataclass(frozen=True, slots=True)
class Step:
    """What one event changes: rows to insert (with `recorded_to` None), keys of live
    rows to close at `closed_at`, and the version to insert."""

    head: StreamHead | None
    closed_at: int
    close_status: tuple[tuple[str, int, datetime], ...] = ()
    close_holds: tuple[tuple[str, int, int, datetime], ...] = ()
    insert_status: tuple[StatusInterval, ...] = ()
    insert_holds: tuple[HoldInterval, ...] = ()
    version: Version | None = None


def settled(row: StatusInterval, position: int, until: datetime) -> StatusInterval | None:
    """The settled part of live `row` closed by the event at (`until`, `position`): from
    `position` on, business time cut at `until`; None when that is empty."""
    end = until if row.valid_to is None or row.valid_to > until else row.valid_to
    if row.valid_from >= end:
        return None
    # positional, not `dataclasses.replace`: rebuilds make many of these
    return StatusInterval(
        row.request_id, row.status, row.valid_from, end, position, None, row.facts
    )


def settled_hold(row: HoldInterval, position: int, until: datetime) -> HoldInterval | None:
    """`settled` for a hold interval."""
    end = until if row.valid_to is None or row.valid_to > until else row.valid_to
    if row.valid_from >= end:
        return None
    return HoldInterval(
        row.request_id,
        row.hold_position,
        row.member,
        row.procedure,
        row.placed_at,
        row.ended_at,
        row.end_kind,
        row.valid_from,
        end,
        position,
        None,
    )


def _status_step(
    head: StreamHead | None,
    state: RequestState | None,
    position: int,
    occurred_at: datetime,
    tz: tzinfo,
    close: list[tuple[str, int, datetime]],
    insert: list[StatusInterval],
) -> tuple[StatusInterval, ...]:
    """The status rows of a step; returns the new live rows."""
    wanted: list[tuple[Status, datetime, datetime | None]] = []
    facts = None
    if state is not None:
        wanted = _pieces(state, occurred_at, tz)
        facts = StatusFacts.of(state, change_at(state, tz))
    live: list[StatusInterval] = []
    kept: set[tuple[StatusFacts, str, datetime | None]] = set()
    if head is not None:
        runs = {(facts, piece, valid_to) for piece, _, valid_to in wanted}
        for row in head.live_status:
            if row.valid_to is not None and row.valid_to <= occurred_at:
                continue  # no prefix from here on reaches its times: final as it is
            if row.run in runs:
                live.append(row)
                kept.add(row.run)
                continue
            close.append(row.key)
            part = settled(row, position, occurred_at)
            if part is not None:
                insert.append(part)
    if facts is not None:
        assert state is not None
        for piece, valid_from, valid_to in wanted:
            if (facts, piece, valid_to) in kept:
                continue
            row = StatusInterval(
                state.request_id, piece, valid_from, valid_to, position, None, facts
            )
            live.append(row)
            insert.append(row)
    return tuple(live)


def step(
    head: StreamHead | None,
    state: RequestState | None,
    holds: hold_rows.Holds,
    position: int,
    occurred_at: datetime,
    tz: tzinfo = UTC,
) -> Step:
    """The rows of the event at `position` (business time `occurred_at`) after which the
    stream's state is `state` and its holds (`holds.fold` of the stream so far) `holds`.

    A live row whose content the new state still shows stays live; any other is closed
    at `position` and its settled part (`valid_to` cut at `occurred_at`) inserted, if not
    empty; content the old rows did not show opens at `(occurred_at, position)`."""
    if head is not None and occurred_at < head.occurred_at:
        raise ValueError(
            f"position {position} occurred before the stream's last event: "
            "business time must not go back within a stream (SPEC §3)"
        )
    close_status: list[tuple[str, int, datetime]] = []
    close_holds: list[tuple[str, int, int, datetime]] = []
    insert_status: list[StatusInterval] = []
    insert_holds: list[HoldInterval] = []
    live_status = _status_step(head, state, position, occurred_at, tz, close_status, insert_status)
    if state is None:
        return Step(
            None,
            position,
            tuple(close_status),
            tuple(close_holds),
            tuple(insert_status),
        )
    if head is not None and holds is head.holds:
        live_holds = head.live_holds  # the event left the holds alone
    else:
        # `holds.evolve` hands unchanged holds on as the same objects: match by identity
        # first, by value only for holds it rebuilt (or a re-fold made anew)
        rows_of: dict[int, HoldInterval] = {}
        before: dict[int, hold_rows.Hold] = {}
        if head is not None:
            rows_of = {id(h): row for h, row in zip(head.holds, head.live_holds, strict=True)}
            before = {id(h): h for h in head.holds}
        by_value: dict[hold_rows.Hold, int] | None = None
        opened_holds: list[HoldInterval] = []
        for hold in holds:
            known = rows_of.pop(id(hold), None)
            if known is None and rows_of:
                if by_value is None:
                    by_value = {before[key]: key for key in rows_of}
                key = by_value.pop(hold, None)
                if key is not None:
                    known = rows_of.pop(key)
            if known is not None:
                opened_holds.append(known)
                continue
            opened = HoldInterval(
                hold.request_id,
                hold.position,
                hold.member,
                hold.procedure,
                hold.placed_at,
                hold.ended_at,
                hold.end,
                occurred_at,
                None,
                position,
                None,
            )
            opened_holds.append(opened)
            insert_holds.append(opened)
        for hold_row in rows_of.values():  # shown no more
            close_holds.append(hold_row.key)
            hold_part = settled_hold(hold_row, position, occurred_at)
            if hold_part is not None:
                insert_holds.append(hold_part)
        live_holds = tuple(opened_holds)
    return Step(
        head=StreamHead(state, holds, live_status, live_holds),
        closed_at=position,
        close_status=tuple(close_status),
        close_holds=tuple(close_holds),
        insert_status=tuple(insert_status),
        insert_holds=tuple(insert_holds),
        version=Version.of(state),
    )


def advance(
    head: StreamHead | None,
    event: EventRow,
    history: Sequence[EventRow] | None,
    tz: tzinfo = UTC,
) -> Step:
    """`step` for the next event of a stream. A retraction re-folds `history` (the
    stream's events before `event`), as `request.evolve` does; other events evolve the
    head's state."""
    if event.event_type == "EventRetracted":
        if history is None:
            raise ValueError("a retraction needs the stream's history")
        stream = [*history, event]
        state = fold(stream)
        holds = hold_rows.fold(stream)  # type: ignore[arg-type]
    else:
        state = evolve(None if head is None else head.state, event)
        before = () if head is None else head.holds
        holds = hold_rows.evolve(before, event)
    return step(head, state, holds, event.position, event.occurred_at, tz)


# --- a whole stream, and lookups --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamIntervals:
    """Every row of one stream, each closed where a later event closed it."""

    status: tuple[StatusInterval, ...]
    holds: tuple[HoldInterval, ...]
    versions: tuple[Version, ...]


def stream_intervals(events: Iterable[EventRow], tz: tzinfo = UTC) -> StreamIntervals:
    """The rows of one request stream (events in version order), as the projection
    writes them event by event."""
    status_rows: dict[tuple[str, int, datetime], StatusInterval] = {}
    hold_rows_: dict[tuple[str, int, int, datetime], HoldInterval] = {}
    versions: list[Version] = []
    head: StreamHead | None = None
    seen: list[EventRow] = []
    for event in events:
        if request_id_of(event.stream_id) is None:
            continue
        result = advance(head, event, seen, tz)
        seen.append(event)
        for key in result.close_status:
            status_rows[key] = replace(status_rows[key], recorded_to=result.closed_at)
        for hold_key in result.close_holds:
            hold_rows_[hold_key] = replace(hold_rows_[hold_key], recorded_to=result.closed_at)
        for row in result.insert_status:
            assert row.key not in status_rows, row
            status_rows[row.key] = row
        for hold_row in result.insert_holds:
            assert hold_row.key not in hold_rows_, hold_row
            hold_rows_[hold_row.key] = hold_row
        if result.version is not None:
            versions.append(result.version)
        head = result.head
    return StreamIntervals(tuple(status_rows.values()), tuple(hold_rows_.values()), tuple(versions))


def status_at(rows: Iterable[StatusInterval], at: datetime, position: int) -> StatusInterval | None:
    """The row in force at business time `at` and log position `position`, if any."""
    found = [row for row in rows if row.covers(at, position)]
    if len(found) > 1:
        raise AssertionError(f"overlapping intervals at ({at}, {position}): {found}")
    return found[0] if found else None


def hold_at(rows: Iterable[HoldInterval], at: datetime, position: int) -> list[hold_rows.Hold]:
    """The holds shown at business time `at` and log position `position`, by position."""
    return sorted((row.hold() for row in rows if row.covers(at, position)), key=_by_position)


def _by_position(hold: hold_rows.Hold) -> int:
    return hold.position
