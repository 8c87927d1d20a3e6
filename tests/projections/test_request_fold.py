"""Folding a request's stream: statuses over time, time travel, retractions, the roster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import projections.request.state as request_module
from events.model import utc_text
from events.types import COMMITTEE_STREAM, Change, request_stream
from projections import committee
from projections.public import is_public, public_request
from projections.read_models.request_state import PUBLIC_COLUMNS, public_of, state_record
from projections.request import (
    RefoldRequired,
    RequestState,
    evolve,
    evolve_known,
    fold,
    public_view,
    status,
    view,
)
from projections.tables import request_state
from service import rules
from service.data.roster_2025_2026 import ROSTER_2025_2026
from service.rules import Context, RuleBroken
from service.rules.commands import (
    Circulate,
    Decide,
    PlaceHold,
    ProvideInformation,
    RecordReview,
    RecordShipment,
    ReleaseHold,
    RequestAmendment,
    RequestExtension,
    RequestInformation,
    Retract,
    SubmitRequest,
    Withdraw,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


RID = "HX-2026-0001"
STREAM = request_stream(RID)
SUBMISSION: dict[str, Any] = {
    "applicant": {"name": "UNICEF", "kind": "un_agency"},
    "channel": "direct",
    "title": "Vaccines",
    "purpose": "Routine immunisation",
    "beneficiaries": "Children under five",
    "items": [{"description": "BCG vaccine", "quantity": 100, "unit": "vial", "value_usd": 900}],
}


@dataclass(frozen=True)
class Recorded:
    position: int
    stream_id: str
    stream_version: int
    event_type: str
    data: dict[str, Any]
    occurred_at: datetime


class Log:
    """A log with the 2025–2026 roster and one request stream."""

    def __init__(self) -> None:
        self.committee: list[Recorded] = []
        self.request: list[Recorded] = []
        self.position = 0
        at = utc("2024-01-01T00:00:00Z")
        self.write(
            [Change(COMMITTEE_STREAM, "MemberSeated", dict(s), at) for s in ROSTER_2025_2026]
        )
        self.roster = committee.fold(self.committee)

    def write(self, changes: list[Change]) -> None:
        for change in changes:
            self.position += 1
            stream = self.committee if change.stream_id == COMMITTEE_STREAM else self.request
            stream.append(
                Recorded(
                    self.position,
                    change.stream_id,
                    len(stream) + 1,
                    change.event_type,
                    change.data,
                    change.occurred_at,
                )
            )

    def state(self) -> RequestState | None:
        return fold(self.request)

    def run(self, decide: Any, command: Any, now: datetime, **kwargs: Any) -> None:
        context = Context(now=now, roster=self.roster)
        self.write(decide(self.state(), command, context, **kwargs))


def story() -> Log:
    """Submitted 5 Jan, circulated, held by USA 7 Jan, released 20 Jan, approved 21 Jan."""
    log = Log()
    log.run(
        rules.submit,
        SubmitRequest.model_validate(SUBMISSION),
        utc("2026-01-05T15:00:00Z"),
        request_id=RID,
    )
    log.run(rules.circulate, Circulate(), utc("2026-01-05T16:00:00Z"))
    log.run(rules.place_hold, PlaceHold(member="USA"), utc("2026-01-07T15:00:00Z"))
    log.run(rules.release_hold, ReleaseHold(), utc("2026-01-20T15:00:00Z"), member="USA")
    log.run(rules.decide, Decide(outcome="approved"), utc("2026-01-21T15:00:00Z"))
    return log


class TestStatus:
    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            ("2026-01-05T15:30:00Z", "submitted"),
            ("2026-01-06T12:00:00Z", "under_review"),
            ("2026-01-08T12:00:00Z", "on_hold"),
            ("2026-01-20T16:00:00Z", "awaiting_decision"),
            ("2026-01-22T00:00:00Z", "active"),
            ("2026-07-20T12:00:00Z", "active"),
            ("2026-07-21T12:00:00Z", "expired"),
        ],
    )
    def test_as_of(self, at: str, expected: str) -> None:
        log = story()
        state = fold(log.request, as_of=utc(at))
        assert state is not None
        assert status(state, utc(at)) == expected

    def test_refused_and_withdrawn(self) -> None:
        log = Log()
        now = utc("2026-01-05T15:00:00Z")
        log.run(rules.submit, SubmitRequest.model_validate(SUBMISSION), now, request_id=RID)
        log.run(rules.withdraw, Withdraw(reason="duplicate"), now)
        state = log.state()
        assert state is not None
        assert status(state, now) == "withdrawn"
        assert state.open_procedure is None and state.withdrawn_at == now

    def test_status_stays_active_during_an_extension(self) -> None:
        log = story()
        now = utc("2026-02-01T15:00:00Z")
        log.run(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 12, 31), reason="roads"),
            now,
        )
        log.run(rules.circulate, Circulate(), now)
        log.run(rules.place_hold, PlaceHold(member="RUS"), now)
        state = log.state()
        assert state is not None
        assert status(state, now) == "active"
        assert state.open_procedure == "extension-1"
        assert state.deadline is not None and state.deadline > now
        assert [h.member for h in state.active_holds] == ["RUS"]

    def test_information_pending(self) -> None:
        log = Log()
        now = utc("2026-01-05T15:00:00Z")
        log.run(rules.submit, SubmitRequest.model_validate(SUBMISSION), now, request_id=RID)
        log.run(rules.circulate, Circulate(), now)
        log.run(
            rules.request_information,
            RequestInformation(requested_by="FRA", questions="Cold chain?"),
            now,
        )
        log.run(
            rules.request_information,
            RequestInformation(requested_by="committee", questions="Which provinces?"),
            now,
        )
        state = log.state()
        assert state is not None and state.information_pending
        log.run(rules.provide_information, ProvideInformation(response="Yes; all."), now)
        state = log.state()
        assert state is not None and not state.information_pending
        assert [q.response for q in state.information_requests] == ["Yes; all.", "Yes; all."]


class TestTimeTravel:
    def test_at_position(self) -> None:
        log = story()
        hold = log.request[2]
        state = fold(log.request, at_position=hold.position)
        assert state is not None
        assert [h.member for h in state.active_holds] == ["USA"]
        assert state.stream_version == 3 and state.position == hold.position

    def test_before_the_submission(self) -> None:
        assert fold(story().request, as_of=utc("2026-01-01T00:00:00Z")) is None

    def test_view(self) -> None:
        log = story()
        state = log.state()
        assert state is not None
        body = view(state, utc("2026-02-01T00:00:00Z"))
        assert body["status"] == "active"
        assert body["request_id"] == RID
        assert body["applicant"] == {"name": "UNICEF", "kind": "un_agency"}
        assert body["open_procedure"] is None
        assert body["information_pending"] is False
        assert body["deadline"] == "2026-01-13T04:59:59.999999Z"
        assert body["active_holds"] == []
        assert body["approved_at"] == "2026-01-21T15:00:00.000000Z"
        assert (body["valid_from"], body["valid_until"]) == ("2026-01-21", "2026-07-20")
        assert body["shipments"] == []
        assert body["stream_version"] == 5
        assert body["holds"][0]["ended_by"] == "released"
        held = view(
            fold(log.request, at_position=log.request[2].position) or state,
            utc("2026-01-08T00:00:00Z"),
        )
        assert held["active_holds"] == [
            {"member": "USA", "placed_at": "2026-01-07T15:00:00.000000Z"}
        ]


class TestRetraction:
    def retracted_hold(self) -> Log:
        log = Log()
        now = utc("2026-01-05T15:00:00Z")
        log.run(rules.submit, SubmitRequest.model_validate(SUBMISSION), now, request_id=RID)
        log.run(rules.circulate, Circulate(), now)
        log.run(rules.place_hold, PlaceHold(member="CHN"), now)
        hold = log.request[-1]
        log.run(
            rules.retract,
            Retract(target_position=hold.position, reason="wrong member"),
            now,
            target=hold,
        )
        return log

    def test_folds_as_if_the_target_had_not_happened(self) -> None:
        log = self.retracted_hold()
        state = log.state()
        assert state is not None
        assert state.active_holds == () and state.holds == ()
        assert state.retracted == (log.request[2].position,)
        assert state.stream_version == 4
        # Before the retraction, the hold was there.
        before = fold(log.request, at_position=log.request[2].position)
        assert before is not None and before.active_holds

    def test_evolve_needs_the_history(self) -> None:
        log = self.retracted_hold()
        before = fold(log.request[:3])
        with pytest.raises(RefoldRequired):
            evolve(before, log.request[3])
        assert evolve(before, log.request[3], history=log.request[:3]) == log.state()

    def test_a_retraction_corrects_the_past(self) -> None:
        """A hold recorded by mistake on 5 August 2025 and retracted months later: at the
        head it never counts, at any time, also before the retraction occurred; at a
        position before the retraction it counts from 5 August on."""
        log = Log()
        log.run(
            rules.submit,
            SubmitRequest.model_validate(SUBMISSION),
            utc("2025-07-01T15:00:00Z"),
            request_id=RID,
        )
        log.run(rules.circulate, Circulate(), utc("2025-07-02T15:00:00Z"))
        log.run(rules.place_hold, PlaceHold(member="GBR"), utc("2025-08-05T15:00:00Z"))
        hold = log.request[-1]
        log.run(
            rules.retract,
            Retract(target_position=hold.position, reason="recorded in error"),
            utc("2026-03-02T15:00:00Z"),
            target=hold,
        )
        retraction = log.request[-1].position
        for at in ("2025-08-15T00:00:00Z", "2025-12-31T23:59:59Z", "2026-03-03T00:00:00Z"):
            now = fold(log.request, as_of=utc(at))
            assert now is not None and now.active_holds == ()
            assert status(now, utc(at)) == "awaiting_decision"
            same = fold(log.request, as_of=utc(at), at_position=retraction)
            assert same == now
            before = fold(log.request, as_of=utc(at), at_position=retraction - 1)
            assert before is not None
            assert [h.member for h in before.active_holds] == ["GBR"]
            assert status(before, utc(at)) == "on_hold"
        # the retraction itself is folded only from its own time on
        assert fold(log.request, as_of=utc("2025-12-31T23:59:59Z")).retracted == ()  # type: ignore[union-attr]
        assert fold(log.request).retracted == (hold.position,)  # type: ignore[union-attr]
        early = fold(log.request, as_of=utc("2025-08-04T00:00:00Z"), at_position=retraction - 1)
        assert early is not None and early.active_holds == ()

    def test_a_retracted_approval_reopens_the_procedure(self) -> None:
        log = story()
        approval = log.request[-1]
        log.run(
            rules.retract,
            Retract(target_position=approval.position, reason="wrong file"),
            utc("2026-01-22T15:00:00Z"),
            target=approval,
        )
        state = log.state()
        assert state is not None
        assert state.open_procedure == "initial" and state.approved_at is None
        assert status(state, utc("2026-01-22T15:00:00Z")) == "awaiting_decision"


class TestRoster:
    def test_fifteen_members_each_year(self) -> None:
        roster = Log().roster
        members_2025 = committee.members_as_of(roster, date(2025, 6, 1))
        members_2026 = committee.members_as_of(roster, date(2026, 6, 1))
        assert len(members_2025) == len(members_2026) == 15
        assert members_2025[:5] == ["CHN", "FRA", "GBR", "RUS", "USA"]
        assert "SVN" in members_2025 and "SVN" not in members_2026
        assert "LVA" in members_2026 and "LVA" not in members_2025

    @pytest.mark.parametrize(
        ("member", "moment", "seated"),
        [
            ("SVN", date(2025, 12, 31), True),
            ("SVN", date(2026, 1, 1), False),
            ("BHR", date(2025, 12, 31), False),
            ("BHR", date(2026, 1, 1), True),
            ("USA", date(2090, 1, 1), True),
            ("DEU", date(2026, 1, 1), False),
        ],
    )
    def test_seated_at(self, member: str, moment: date, seated: bool) -> None:
        assert committee.seated_at(Log().roster, member, moment) is seated

    def test_a_time_is_read_in_the_committee_zone(self) -> None:
        from zoneinfo import ZoneInfo

        roster = Log().roster
        # 1 Jan 2026 03:00 UTC is still 31 Dec 2025 in New York.
        moment = utc("2026-01-01T03:00:00Z")
        assert committee.seated_at(roster, "SVN", moment, ZoneInfo("America/New_York"))
        assert not committee.seated_at(roster, "SVN", moment)

    def test_as_of(self) -> None:
        log = Log()
        log.write(
            [
                Change(
                    COMMITTEE_STREAM,
                    "MemberDeparted",
                    {"member": "PAK", "on": "2026-03-01"},
                    utc("2026-03-01T12:00:00Z"),
                )
            ]
        )
        roster = committee.fold(log.committee)
        assert not committee.seated_at(roster, "PAK", date(2026, 3, 1))
        earlier = committee.fold(log.committee, as_of=utc("2026-02-01T00:00:00Z"))
        assert committee.seated_at(earlier, "PAK", date(2026, 3, 1))
        assert committee.roster_as_of(roster, date(2026, 3, 1))[0].to_dict()["permanent"]


# --- the law of time travel ------------------------------------------------------------

MEMBERS = ["USA", "CHN", "LVA", "DEU"]


def _command(
    kind: str, member: str, number: int, state: RequestState | None, day: date
) -> tuple[Any, Any, dict[str, Any]]:
    if kind == "circulate":
        return rules.circulate, Circulate(), {}
    if kind == "hold":
        return rules.place_hold, PlaceHold(member=member), {}
    if kind == "release":
        if state is not None and state.active_holds and member != "DEU":
            member = state.active_holds[number % len(state.active_holds)].member
        return rules.release_hold, ReleaseHold(), {"member": member}
    if kind == "ask":
        return rules.request_information, RequestInformation(requested_by=member, questions="?"), {}
    if kind == "answer":
        return rules.provide_information, ProvideInformation(response="!"), {}
    if kind == "review":
        return rules.record_review, RecordReview(step="legal", outcome="ok", member=member), {}
    if kind == "approve":
        return rules.decide, Decide(outcome="approved"), {}
    if kind == "refuse":
        return rules.decide, Decide(outcome="refused"), {}
    if kind == "extend":
        until = (state.valid_until if state and state.valid_until else day) + timedelta(days=90)
        return rules.request_extension, RequestExtension(requested_until=until, reason="r"), {}
    if kind == "amend":
        return rules.request_amendment, RequestAmendment(items=SUBMISSION["items"], reason="r"), {}
    if kind == "withdraw":
        return rules.withdraw, Withdraw(), {}
    if kind == "ship":
        return rules.record_shipment, RecordShipment(shipment_no=number, shipped_on=day), {}
    raise AssertionError(kind)


# Weighted so that most histories get past the decision: a refusal or a withdrawal ends
# the story early.
KINDS = [
    *["circulate"] * 4,
    *["hold"] * 3,
    *["release"] * 6,
    *["ask"] * 2,
    *["answer"] * 3,
    "review",
    *["approve"] * 5,
    "refuse",
    *["extend"] * 3,
    *["amend"] * 2,
    "withdraw",
    *["ship"] * 3,
    *["retract"] * 2,
]

steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from(MEMBERS),
        st.integers(1, 3),
        st.integers(0, 6 * 24 * 3600),
    ),
    min_size=10,
    max_size=80,
)


def _history(plan: list[tuple[str, str, int, int]], disclosure: str = "confidential") -> Log:
    log = Log()
    now = utc("2026-01-05T15:00:00Z")
    submitted = SubmitRequest.model_validate({**SUBMISSION, "disclosure": disclosure})
    log.run(rules.submit, submitted, now, request_id=RID)
    log.run(rules.circulate, Circulate(), now)
    for kind, member, number, seconds in plan:
        now += timedelta(seconds=seconds)
        state = log.state()
        try:
            if kind == "retract":
                target = log.request[(number * 7 + seconds) % len(log.request)]
                log.run(
                    rules.retract,
                    Retract(target_position=target.position, reason="r"),
                    now,
                    target=target,
                )
                continue
            decide, command, kwargs = _command(kind, member, number, state, now.date())
            log.run(decide, command, now, **kwargs)
        except RuleBroken:
            pass
    return log


def _plain(events: list[Recorded], at: datetime, at_position: int | None) -> RequestState | None:
    """SPEC §5 written out: the events up to the position, less the targets of the
    retractions among them, of those the ones that occurred by `at`, evolved in order."""
    upto = [e for e in events if at_position is None or e.position <= at_position]
    targets = {e.data["target_position"] for e in upto if e.event_type == "EventRetracted"}
    state = None
    for event in upto:
        if event.position not in targets and event.occurred_at <= at:
            state = evolve_known(state, event)
    return state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps, data=st.data())
def test_as_of_equals_the_fold_of_the_prefix(
    plan: list[tuple[str, str, int, int]], data: st.DataObject
) -> None:
    log = _history(plan)
    events = log.request
    # Incremental evolve, as the projection runner applies it, one event at a time.
    states: list[RequestState] = []
    state: RequestState | None = None
    for index, event in enumerate(events):
        state = evolve(state, event, history=events[:index])
        states.append(state)
    assert states[-1] == fold(events)

    cut = data.draw(st.integers(0, len(events) - 1))
    moment = events[cut].occurred_at
    assert fold(events, at_position=events[cut].position) == states[cut]
    between = moment + timedelta(microseconds=1)
    position = data.draw(st.sampled_from([e.position for e in events]))
    for at in (moment, between):
        for at_position in (None, position, events[cut].position):
            assert fold(events, as_of=at, at_position=at_position) == _plain(
                events, at, at_position
            ), (at, at_position)
        # with no retraction after it, the fold as of a time is the state after its
        # last event; a retraction recorded later takes its target back even then
        last = max(i for i, e in enumerate(events) if e.occurred_at <= at)
        if all(e.event_type != "EventRetracted" for e in events[last + 1 :]):
            assert fold(events, as_of=at) == states[last]
    # Whatever the history, a status is one of the SPEC's.
    assert status(states[-1], between) in {
        "submitted",
        "under_review",
        "on_hold",
        "awaiting_decision",
        "active",
        "expired",
        "refused",
        "withdrawn",
    }


#: any aware time, in UTC or in another zone
_moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


@given(moment=_moments)
def test_view_times_are_utc_text(moment: datetime) -> None:
    """The view's time text (orjson's for UTC, a zero fraction included) is `utc_text`,
    whatever the zone."""
    assert request_module._time(moment) == utc_text(moment)
    assert request_module._time(moment.astimezone(UTC)) == utc_text(moment)
    whole = moment.replace(microsecond=0)
    assert request_module._time(whole.astimezone(UTC)) == utc_text(whole)


@given(moment=_moments)
def test_a_native_time_is_dumped_as_its_text(moment: datetime) -> None:
    """What `native_time` hands orjson (`OPT_UTC_Z`: `request_state`'s documents) is
    written as `_time` writes it, with or without a fraction, whatever the zone."""
    for at in (moment, moment.astimezone(UTC), moment.replace(microsecond=0).astimezone(UTC)):
        native = orjson.dumps(request_module.native_time(at), option=orjson.OPT_UTC_Z)
        assert native == orjson.dumps(request_module._time(at))


class _Reads(dict[str, Any]):
    """A view that notes each key read of it."""

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__(view)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps, disclosure=st.sampled_from(["public", "confidential"]))
def test_a_public_record_is_made_of_the_public_view_alone(
    plan: list[tuple[str, str, int, int]], disclosure: str
) -> None:
    """`public_view` (what `request_state` keeps for the public feeds) is `view`'s own
    values, of a request the public may see only, and a public record made of it is
    the one made of the whole view: the record reads no key it leaves out. The row
    keeps it as columns and a document (`public_of` puts them together): the record
    made of that is the same. At every state of random histories, the record as of
    times around its dates."""
    events = _history(plan, disclosure).request
    for index in range(len(events)):
        state = fold(events[: index + 1])
        assert state is not None
        last = state.last_occurred_at
        whole = view(state, last)
        part = public_view(state, last)
        assert (part is not None) == is_public(whole)
        if part is None:
            continue
        assert part == {key: whole[key] for key in part}
        stored = orjson.loads(
            orjson.dumps(
                public_view(state, last, time=request_module.native_time), option=orjson.OPT_UTC_Z
            )
        )
        assert stored == part
        row = dict(zip(request_state.c.keys(), state_record(state), strict=True))
        held = public_of(row)
        assert held is not None and held.keys() == part.keys()
        assert not PUBLIC_COLUMNS.keys() & orjson.loads(row["public_document"]).keys()
        for now in (last, last + timedelta(days=200), last + timedelta(days=900)):
            reads = _Reads(whole)
            assert public_request(part, now) == public_request(reads, now)
            assert reads.read <= part.keys()
            assert public_request(held, now) == public_request(part, now)
