"""Bitemporal intervals of a request: its status and its holds in business time and in
log position, so that "as of T at position P" is an interval lookup (pure).

The law behind it (SPEC §5). `request.fold(events, as_of=T, at_position=P)` takes the
events *known* at P (`request.known`: those with `position <= P`, less the targets of
the retractions among them) and folds those with `occurred_at <= T`. Within a stream
both positions and business times grow with the version (SPEC §3: `occurred_at` is
never before the stream's last event).

Between two retractions the known events only grow at the end, so for P in such a
stretch the events folded are a *prefix* of them: the first `k = min(A(P), B(T))`,
`A(P)` counting known positions `<= P`, `B(T)` times `<= T`. The moments `(T, P)` of
prefix `k` form an L: `P >= p_k, T >= t_k`, less `P >= p_k+1, T >= t_k+1`.

Rows are kept per *run*: content (the status and the facts the lists and statistics
filter on, `StatusFacts`; or a hold as `holds.fold` shows it) that stays the same over
prefixes `[a, b)` covers the union of their L's, which is one row: recorded from `p_a`,
valid from `t_a`, reaching without end in business time until the event `b` *settles*
it at `p_b`: from there on it ends at `t_b` (`settled_from = p_b`, `valid_to = t_b`,
the old end kept in `live_to`). An event that changes none of it writes nothing; one
that ends it updates the row once. When nothing remains from `p_b` on (`t_b` at or
before the row's start), the row is closed instead (`recorded_to = p_b`).

Within a run the status can still change with business time alone, without an event:
`under_review` becomes `awaiting_decision` the microsecond after the deadline, and
`active` becomes `expired` when the committee's calendar day passes `valid_until`. The
row keeps that instant (`changes_at`, from the facts' `cut`) and shows the later status
from there on (`cuts.status_then`): the run stays one row.

A retraction at position `p_r` changes what is known at every business time, also
before its own `occurred_at`: from `p_r` on, the stream is its known events, as if the
target had never been recorded. `retract` replays those events and closes at `p_r`
every row shown at the head whose content or business times differ from the replay's,
whatever those times, and inserts the replay's rows from `p_r` (a row equal in content,
times and settledness stays as it is). So a row is inserted, settled at most once and
closed at most once.

What a list item shows of the state (`summary`) changes with every event: it is
`summary` of the fold itself (`interval_queries` folds the page's streams).

Intervals are half-open: `[valid_from, valid_to)` in business time (`None` = no end) and
`[recorded_from, recorded_to)` in log position (`None` = still shown at the head).
The rows and the lookups of a moment are `projections.intervals.rows` (re-exported here);
this module makes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from operator import is_
from typing import NamedTuple

from projections import holds as hold_rows
from projections.history import EventRow, request_id_of
from projections.intervals.cuts import change_at, opening
from projections.intervals.rows import (
    SUMMARY_FIELDS,
    HoldInterval,
    StatusFacts,
    StatusInterval,
    ended_hold,
    hold_at,
    settled,
    status_at,
    status_shown,
    summary,
)
from projections.request import RequestState, Status, evolve, evolve_known, known

__all__ = [
    "HOLDS_ONLY",
    "INERT",
    "SUMMARY_FIELDS",
    "HoldInterval",
    "StatusFacts",
    "StatusInterval",
    "Step",
    "StreamHead",
    "StreamIntervals",
    "advance",
    "change_at",
    "follow",
    "hold_at",
    "retract",
    "status_at",
    "status_shown",
    "step",
    "stream_intervals",
    "summary",
]

RETRACTION = "EventRetracted"

# a named tuple made from all its values, without its `__new__`'s argument parsing
_new_status = _new_head = _new_step = tuple.__new__

# --- one event of one stream ---------------------------------------------------------------


class StreamHead(NamedTuple):
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


class Step(NamedTuple):
    """What one event changes: rows to insert (with `recorded_to` None), keys of rows to
    close at `closed_at`, and rows settled by it (status rows with `settled_from` set,
    hold rows with their end: the same keys as rows written before, to be updated)."""

    head: StreamHead | None
    closed_at: int
    close_status: tuple[tuple[str, int, datetime], ...] = ()
    close_holds: tuple[tuple[str, int, int], ...] = ()
    insert_status: tuple[StatusInterval, ...] = ()
    insert_holds: tuple[HoldInterval, ...] = ()
    settle_status: tuple[StatusInterval, ...] = ()
    settle_holds: tuple[HoldInterval, ...] = ()


def _status_step(
    head: StreamHead | None,
    state: RequestState | None,
    position: int,
    occurred_at: datetime,
    tz: tzinfo,
) -> tuple[
    tuple[StatusInterval, ...],
    tuple[tuple[str, int, datetime], ...],
    tuple[StatusInterval, ...],
    tuple[StatusInterval, ...],
]:
    """The status rows of a step: the new live rows, and the keys of rows to close, the
    rows to insert and the rows settled.

    A live row whose facts the new state still has goes on: the status is a function of
    the facts and of business time (`derived_status` reads nothing else, the deadline
    only through `cut`), so the row shows what the state does at every time from here."""
    facts = None
    opened: Status = "submitted"
    if state is not None:
        cut, opened = opening(state, occurred_at, tz)
        facts = StatusFacts.of(state, cut)
    live: list[StatusInterval] = []
    close: list[tuple[str, int, datetime]] = []
    settle: list[StatusInterval] = []
    if head is not None:
        for row in head.live_status:  # at most one
            if row.facts == facts:
                live.append(row)
                continue
            part = settled(row, position, occurred_at)
            if part is None:
                close.append((row.request_id, row.recorded_from, row.valid_from))
            else:
                settle.append(part)
    insert: tuple[StatusInterval, ...] = ()
    if facts is not None and not live:
        assert state is not None
        values = (state.request_id, opened, occurred_at, None, position, None, facts, None, None)
        insert = (_new_status(StatusInterval, values),)
        live.extend(insert)
    return tuple(live), tuple(close), insert, tuple(settle)


def step(
    head: StreamHead | None,
    state: RequestState | None,
    holds: hold_rows.Holds,
    position: int,
    occurred_at: datetime,
    tz: tzinfo = UTC,
    *,
    holds_only: bool = False,
) -> Step:
    """The rows of the event at `position` (business time `occurred_at`) after which the
    stream's state is `state` and its holds (`holds.fold` of the stream so far) `holds`
    (`holds_only`: an event of `HOLDS_ONLY`, which leaves the status rows as they are).

    A live status row whose content the new state still shows stays live; any other is
    settled at `position` (`valid_to` cut at `occurred_at`), or closed there if nothing
    remains of it; content the old rows did not show opens at `(occurred_at, position)`.
    A hold's row takes its end, with `position`, when the hold ends."""
    if head is not None and occurred_at < head.state.last_occurred_at:
        raise ValueError(
            f"position {position} occurred before the stream's last event: "
            "business time must not go back within a stream (SPEC §3)"
        )
    status_rows = (
        (head.live_status, (), (), ())
        if holds_only and head is not None
        else _status_step(head, state, position, occurred_at, tz)
    )
    live_status, close_status, insert_status, settle_status = status_rows
    if state is None:
        return Step(None, position, close_status, (), insert_status, (), settle_status)
    if head is not None and holds is head.holds:  # the event left the holds alone
        made = _new_head(StreamHead, (state, holds, live_status, head.live_holds))
        return _new_step(
            Step, (made, position, close_status, (), insert_status, (), settle_status, ())
        )
    close_holds: list[tuple[str, int, int]] = []
    insert_holds: list[HoldInterval] = []
    settle_holds: list[HoldInterval] = []
    opened_holds: list[HoldInterval] = []
    fresh: Sequence[hold_rows.Hold] = holds
    rows_of: dict[int, HoldInterval] = {}  # the live rows by hold position
    if head is not None:
        old = head.holds
        # `holds.evolve` hands unchanged holds on as the same objects
        if len(holds) >= len(old) and all(map(is_, holds, old)):
            opened_holds = list(head.live_holds)  # holds placed, none changed
            fresh = holds[len(old) :]
        else:
            rows_of = {row.hold_position: row for row in head.live_holds}
    for hold in fresh:
        known = rows_of.pop(hold.position, None)
        if known is not None:
            if known.ended_at == hold.ended_at and known.end_kind == hold.end:
                opened_holds.append(known)
                continue
            if known.ended_from is None:  # the hold ended here: its row is settled
                ended = ended_hold(known, hold, position)
                opened_holds.append(ended)
                settle_holds.append(ended)
                continue
            close_holds.append(known.key)
        opened = HoldInterval(
            hold.request_id,
            hold.position,
            hold.member,
            hold.procedure,
            hold.placed_at,
            hold.ended_at,
            hold.end,
            position,
            None,
            None if hold.end is None else position,
        )
        opened_holds.append(opened)
        insert_holds.append(opened)
    close_holds.extend(row.key for row in rows_of.values())  # shown no more
    return Step(
        StreamHead(state, holds, live_status, tuple(opened_holds)),
        position,
        close_status,
        tuple(close_holds),
        insert_status,
        tuple(insert_holds),
        settle_status,
        tuple(settle_holds),
    )


#: Event types that change no status, no fact of `StatusFacts` and no hold: the head
#: takes the new state and keeps its rows (tests/projections/test_intervals.py checks it).
INERT = frozenset(
    {
        "ReviewStepRecorded",
        "EntryAnnotated",
        "ShipmentRecorded",
        # questions and requests for a change: no status row keeps them (0015)
        "InformationRequested",
        "InformationProvided",
        "ExtensionRequested",
        "AmendmentRequested",
    }
)
#: Event types that change the holds and nothing a status row keeps (the status without
#: the holds, `StatusFacts`): they write hold rows only (checked there too).
HOLDS_ONLY = frozenset({"HoldPlaced", "HoldReleased", "HoldLapsed"})


def advance(
    head: StreamHead | None,
    event: EventRow,
    history: Sequence[EventRow] | None,
    tz: tzinfo = UTC,
) -> Step:
    """`step` for the next event of a stream. A retraction needs `history` (the stream's
    events before `event`): the rows it shows are those of the stream replayed
    (`stream_intervals`), and `retract` replaces them; any other event evolves the
    head's state (`follow`)."""
    if event.event_type != RETRACTION:
        return follow(head, event, evolve(None if head is None else head.state, event), tz)
    if history is None:
        raise ValueError("a retraction needs the stream's history")
    shown = stream_intervals(history, tz)
    return retract(shown.shown_status(), shown.shown_holds(), [*history, event], tz)


def follow(head: StreamHead | None, event: EventRow, state: RequestState, tz: tzinfo = UTC) -> Step:
    """`advance` for an event that is not a retraction, `state` being `evolve` of the
    head's state by it (the projection takes it from the fold it shares with
    `request_state`). An `INERT` event only hands the head the new state."""
    if head is not None and event.event_type in INERT:
        return _inert(head, event, state)
    old = () if head is None else head.holds
    # `hold_rows.evolve` hands the holds back as they are but for `HOLD_EVENTS`
    holds = hold_rows.evolve(old, event) if event.event_type in hold_rows.HOLD_EVENTS else old
    holds_only = event.event_type in HOLDS_ONLY
    return step(head, state, holds, event.position, event.occurred_at, tz, holds_only=holds_only)


def _inert(head: StreamHead, event: EventRow, state: RequestState) -> Step:
    if event.occurred_at < head.state.last_occurred_at:
        raise ValueError(
            f"position {event.position} occurred before the stream's last event: "
            "business time must not go back within a stream (SPEC §3)"
        )
    return Step(StreamHead(state, head.holds, head.live_status, head.live_holds), event.position)


def _status_content(row: StatusInterval) -> tuple[object, ...]:
    """What a status row shows at the head, wherever it was recorded, and whether a later
    event may still settle it."""
    return (row.status, row.valid_from, row.valid_to, row.facts, row.settled_from is None)


def _hold_content(row: HoldInterval) -> tuple[object, ...]:
    # all but `recorded_from` and `recorded_to`
    return (*row[:7], row.ended_from)


def _status_from(row: StatusInterval, position: int) -> StatusInterval:
    """A status row the replay of a retraction at `position` shows, recorded from there
    on as it shows it at the head (settled from there on, if settled)."""
    settled_from = None if row.settled_from is None else position
    return row._replace(recorded_from=position, recorded_to=None, settled_from=settled_from)


def _hold_from(row: HoldInterval, position: int) -> HoldInterval:
    """`_status_from` for a hold row: its end stays where it was recorded, which the log
    holds from `position` on."""
    return row._replace(recorded_from=position, recorded_to=None)


def retract(
    shown_status: Iterable[StatusInterval],
    shown_holds: Iterable[HoldInterval],
    stream: Sequence[EventRow],
    tz: tzinfo = UTC,
) -> Step:
    """The rows of retraction `stream[-1]`, `stream` being its stream up to it and
    `shown_*` the rows the stream shows before it (those with `recorded_to` None).

    From the retraction's position on, the stream is its known events (`request.known`)
    at every business time (SPEC §5). Those events are replayed as a stream without
    retractions; each row that replay shows at its end is kept where a row shown now
    has the same content over the same business times (and is as settled), else
    inserted from the retraction's position as the head shows it; every other shown row
    is closed there, whatever its business times."""
    event = stream[-1]
    position = event.position
    rows = _Rows()
    head: StreamHead | None = None
    for known_event in known(stream):
        state = evolve_known(None if head is None else head.state, known_event)
        if head is not None and known_event.event_type == RETRACTION:
            result = _inert(head, known_event, state)  # its target is not in `known`
        else:
            result = follow(head, known_event, state, tz)
        rows.take(result)
        head = result.head
    old_status = {_status_content(row): row for row in shown_status}
    old_holds = {_hold_content(row): row for row in shown_holds}
    insert_status: list[StatusInterval] = []
    insert_holds: list[HoldInterval] = []
    status_of: dict[tuple[object, ...], StatusInterval] = {}
    holds_of: dict[tuple[object, ...], HoldInterval] = {}
    for row in rows.shown_status():
        content = _status_content(row)
        kept = old_status.pop(content, None)
        if kept is None:
            kept = _status_from(row, position)
            insert_status.append(kept)
        status_of[content] = kept
    for hold_row in rows.shown_holds():
        content = _hold_content(hold_row)
        kept_hold = old_holds.pop(content, None)
        if kept_hold is None:
            kept_hold = _hold_from(hold_row, position)
            insert_holds.append(kept_hold)
        holds_of[content] = kept_hold
    new_head = None
    if head is not None:
        new_head = StreamHead(
            head.state,
            head.holds,
            tuple(status_of[_status_content(row)] for row in head.live_status),
            tuple(holds_of[_hold_content(row)] for row in head.live_holds),
        )
    return Step(
        new_head,
        position,
        tuple(row.key for row in old_status.values()),
        tuple(row.key for row in old_holds.values()),
        tuple(insert_status),
        tuple(insert_holds),
    )


# --- a whole stream, and lookups --------------------------------------------------------------


class _Rows:
    """The rows of one stream as steps write them: inserted, then settled and closed at
    most once each."""

    __slots__ = ("holds", "status")

    def __init__(self) -> None:
        self.status: dict[tuple[str, int, datetime], StatusInterval] = {}
        self.holds: dict[tuple[str, int, int], HoldInterval] = {}

    def take(self, result: Step) -> None:
        status, holds = self.status, self.holds
        for settled_row in result.settle_status:
            assert status[settled_row.key].settled_from is None, settled_row
            status[settled_row.key] = settled_row
        for settled_hold_row in result.settle_holds:
            assert holds[settled_hold_row.key].ended_from is None, settled_hold_row
            holds[settled_hold_row.key] = settled_hold_row
        for key in result.close_status:
            assert status[key].recorded_to is None, key
            status[key] = status[key]._replace(recorded_to=result.closed_at)
        for hold_key in result.close_holds:
            holds[hold_key] = holds[hold_key]._replace(recorded_to=result.closed_at)
        for row in result.insert_status:
            assert row.key not in status, row
            status[row.key] = row
        for hold_row in result.insert_holds:
            assert hold_row.key not in holds, hold_row
            holds[hold_row.key] = hold_row

    def shown_status(self) -> list[StatusInterval]:
        """The rows shown at the head (`recorded_to` None)."""
        return [row for row in self.status.values() if row.recorded_to is None]

    def shown_holds(self) -> list[HoldInterval]:
        return [row for row in self.holds.values() if row.recorded_to is None]


@dataclass(frozen=True, slots=True)
class StreamIntervals:
    """Every row of one stream, each closed where a later event closed it, and the
    stream's head after its last event."""

    status: tuple[StatusInterval, ...]
    holds: tuple[HoldInterval, ...]
    head: StreamHead | None

    def shown_status(self) -> list[StatusInterval]:
        """The status rows shown at the head (`recorded_to` None)."""
        return [row for row in self.status if row.recorded_to is None]

    def shown_holds(self) -> list[HoldInterval]:
        """The hold rows shown at the head."""
        return [row for row in self.holds if row.recorded_to is None]


def stream_intervals(events: Iterable[EventRow], tz: tzinfo = UTC) -> StreamIntervals:
    """The rows of one request stream (events in version order), as the projection
    writes them event by event."""
    rows = _Rows()
    head: StreamHead | None = None
    seen: list[EventRow] = []
    for event in events:
        if request_id_of(event.stream_id) is None:
            continue
        seen.append(event)
        if event.event_type == RETRACTION:
            result = retract(rows.shown_status(), rows.shown_holds(), seen, tz)
        else:
            result = follow(head, event, evolve(None if head is None else head.state, event), tz)
        rows.take(result)
        head = result.head
    return StreamIntervals(tuple(rows.status.values()), tuple(rows.holds.values()), head)
