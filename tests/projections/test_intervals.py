"""The bitemporal law: for every moment (T, P), the interval rows in force equal a fold of
the stream's events with position <= P and occurred_at <= T (as
`GET /v1/requests/{id}?as_of=&at_position=` folds), status and holds alike."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings

from events.model import RecordedEvent
from projections import holds as hold_rows
from projections.intervals import steps as intervals
from projections.request import RequestState, evolve_known, fold, status, view
from projections.request.state import status_inputs
from tests.projections import histories

NEW_YORK = ZoneInfo("America/New_York")


def _streams(log: list[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in log:
        streams[event.stream_id].append(event)
    return streams


def _known(events: list[RecordedEvent], position: int) -> list[RecordedEvent]:
    """What the log holds as true at `position`, written out plainly: the events up to
    it, less the targets of the retractions among them (SPEC §5)."""
    upto = [e for e in events if e.position <= position]
    targets = {e.data["target_position"] for e in upto if e.event_type == "EventRetracted"}
    return [e for e in upto if e.position not in targets]


def _plain(
    events: list[RecordedEvent], at: datetime, position: int
) -> tuple[RequestState | None, list[hold_rows.Hold]]:
    """The state and the holds at `(at, position)`: the known events that occurred by
    `at`, one `evolve` after another."""
    state: RequestState | None = None
    holds: hold_rows.Holds = ()
    for event in _known(events, position):
        if event.occurred_at <= at:
            state = evolve_known(state, event)
            holds = hold_rows.evolve(holds, event)
    return state, sorted(holds, key=lambda h: h.position)


def _check(log: list[RecordedEvent], tz: ZoneInfo) -> None:
    for events in _streams(log).values():
        rows = intervals.stream_intervals(events, tz)
        for at, position in histories.moments(events):
            state, holds = _plain(events, at, position)
            assert fold(events, as_of=at, at_position=position) == state, (at, position)
            found = intervals.status_at(rows.status, at, position)
            shown_status = intervals.status_shown(rows.status, rows.holds, at, position)
            if state is None:
                assert found is None and shown_status is None
            else:
                assert found is not None, (at, position)
                assert shown_status == status(state, at, tz), (at, position)
                facts = found.facts
                cut = intervals.change_at(state, tz)
                assert facts == intervals.StatusFacts.of(state, cut), (at, position)
                active = sorted(h.member for h in holds if h.active)
                assert active == sorted(h.member for h in state.active_holds), (at, position)
                assert facts.decided_at == state.procedures[0].decided_at
                assert facts.outcome == state.procedures[0].outcome
                assert facts.exemption_until == state.valid_until
            assert intervals.hold_at(rows.holds, at, position) == holds, (at, position)
            shown = hold_rows.fold(events, as_of=at, at_position=position)
            assert sorted(shown, key=lambda h: h.position) == holds, (at, position)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories.steps, histories.starts)
def test_intervals_equal_a_fold_at_every_moment(
    draws: list[histories.Draw], start_days: list[int]
) -> None:
    _check(histories.build(draws, start_days), NEW_YORK)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories.retracting_steps, histories.starts)
def test_a_retraction_takes_its_target_back_at_every_time(
    draws: list[histories.Draw], start_days: list[int]
) -> None:
    """Histories that retract holds, releases, approvals and shipments at random
    positions, often long after they occurred: every moment as a plain fold says."""
    _check(histories.build(draws, start_days), NEW_YORK)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories.steps, histories.starts)
def test_what_inert_and_hold_events_leave_alone(
    draws: list[histories.Draw], start_days: list[int]
) -> None:
    """The shortcuts of `intervals.follow`: an `INERT` event changes no fact of a status
    row and no hold; one of `HOLDS_ONLY` no fact (the status without the holds
    included, at every time: `cut` is where it changes)."""
    for events in _streams(histories.build(draws, start_days)).values():
        state: RequestState | None = None
        holds: hold_rows.Holds = ()
        for event in events:
            after = evolve_known(state, event)
            held = hold_rows.evolve(holds, event)
            if state is not None and event.event_type in intervals.INERT | intervals.HOLDS_ONLY:
                before = intervals.StatusFacts.of(state, intervals.change_at(state, NEW_YORK))
                assert intervals.StatusFacts.of(after, intervals.change_at(after, NEW_YORK)) == (
                    before
                ), event
                unheld = status_inputs(after, holds=False)
                assert unheld == status_inputs(state, holds=False), event
            if event.event_type in intervals.INERT:
                assert held == holds, event
            state, holds = after, held


def test_rows_are_only_inserted_settled_or_closed_once() -> None:
    """Replaying a longer stream keeps every row of a shorter one, but for a live row
    settled once (`settled_from` from None to a later position, `valid_to` cut, the old
    end kept in `live_to`) and `recorded_to` set once (from None to a later position);
    a row not live is closed by a retraction only, which closes what it changes at every
    business time."""
    draws = [(0, 0, 0, 7), (0, 0, 60, 7), (0, 1, 3600, 1), (0, 12, 60, 0), (0, 6, 86400, 5)]
    log = histories.build(draws, [0, 0, 0, 0])
    assert log[3].event_type == "EventRetracted"
    long = {r.key: r for r in intervals.stream_intervals(log).status}
    for cut in range(1, len(log)):
        later = (None, *[e.position for e in log[cut:]])
        shorter = intervals.stream_intervals(log[:cut])
        assert shorter.head is not None
        live = {row.key for row in shorter.head.live_status}
        for row in shorter.status:
            key = row.key
            if row.recorded_to is not None:
                assert long[key] == row
                continue
            found = long[key]
            if row.settled_from is None and found.settled_from is not None:
                assert found.settled_from in later
                assert found.live_to == row.valid_to
                assert found.valid_to is not None
                assert row.valid_to is None or found.valid_to <= row.valid_to
                found = found._replace(valid_to=row.valid_to, settled_from=None, live_to=None)
            assert found._replace(recorded_to=None) == row
            closed_by = found.recorded_to
            assert closed_by in later
            if key not in live and closed_by is not None:
                assert log[closed_by - 1].event_type == "EventRetracted", (cut, row)


def _history() -> list[RecordedEvent]:
    sub = histories.submission("HX-2025-0001", "Relief 0")
    t = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
    rid = "request-HX-2025-0001"
    deadline = t + timedelta(days=5)
    return [
        histories.recorded(1, rid, 1, "RequestSubmitted", sub, t),
        histories.recorded(
            2,
            rid,
            2,
            "RequestCirculated",
            {"procedure": "initial", "deadline": "2025-03-08T15:00:00Z", "expedited": False},
            t + timedelta(days=1),
        ),
        histories.recorded(
            3, rid, 3, "HoldPlaced", {"procedure": "initial", "member": "USA"}, deadline
        ),
        histories.recorded(
            4, rid, 4, "EventRetracted", {"target_position": 3, "reason": "x"}, deadline
        ),
        histories.recorded(
            5,
            rid,
            5,
            "ExemptionApproved",
            {
                "procedure": "initial",
                "valid_from": "2025-03-20",
                "valid_until": "2025-09-20",
                "letter_ref": "L-1",
                "shipments_allowed": 3,
            },
            datetime(2025, 3, 20, 12, tzinfo=UTC),
        ),
    ]


def test_time_alone_moves_a_status() -> None:
    """No event between circulation and the hold, yet the status passes from
    `under_review` to `awaiting_decision` the microsecond after the deadline; and an
    exemption expires at midnight in the committee's zone after `valid_until`. Each run
    is one row, which keeps where time changes it."""
    log = _history()
    made = intervals.stream_intervals(log, NEW_YORK)
    rows = made.status

    def shown(at: datetime, position: int) -> str | None:
        return intervals.status_shown(rows, made.holds, at, position)

    deadline = datetime(2025, 3, 8, 15, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    assert shown(deadline, 2) == "under_review"
    assert shown(deadline + tick, 2) == "awaiting_decision"
    assert intervals.status_at(rows, deadline, 2) == intervals.status_at(rows, deadline + tick, 2)
    # at position 3 the hold counts from its time on; at position 4 it is retracted
    assert shown(deadline, 3) == "on_hold"
    assert shown(deadline, 4) == "under_review"
    assert shown(deadline + tick, 4) == "awaiting_decision"
    # valid through 20 September in New York: 21 Sept 04:00 UTC is midnight there (EDT)
    end = datetime(2025, 9, 21, 4, tzinfo=UTC)
    assert shown(end - tick, 5) == "active"
    assert shown(end, 5) == "expired"
    assert shown(end, 4) == "awaiting_decision"
    assert shown(deadline, 0) is None


def test_summary_is_the_view_s_fields() -> None:
    log = _history()
    for cut in range(1, len(log) + 1):
        state = fold(log[:cut])
        assert state is not None
        document = view(state, datetime(2026, 1, 1, tzinfo=UTC))
        assert intervals.summary(state) == {k: document[k] for k in intervals.SUMMARY_FIELDS}


def test_expiry_at_a_skipped_midnight() -> None:
    """Where a clock change skips local midnight, the exemption expires at the change."""
    from projections.intervals.cuts import _expiry

    santiago = ZoneInfo("America/Santiago")  # DST began at 00:00 on 2023-09-03
    moment = _expiry(date(2023, 9, 2), santiago)
    assert moment is not None
    assert (moment - timedelta(microseconds=1)).astimezone(santiago).date() == date(2023, 9, 2)
    assert moment.astimezone(santiago).date() == date(2023, 9, 3)


def test_business_time_never_goes_back_within_a_stream() -> None:
    log = _history()
    head = None
    for event in log[:2]:
        head = intervals.advance(head, event, None).head
    late = histories.recorded(
        3, log[0].stream_id, 3, "HoldPlaced", {"member": "USA"}, log[0].occurred_at
    )
    with pytest.raises(ValueError, match="business time must not go back"):
        intervals.advance(head, late, None)
