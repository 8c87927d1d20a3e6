"""Every rule of the exemption procedure, accepted and refused, with plain values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from events.types import COMMITTEE_STREAM, Change, request_stream
from projections import committee, request
from projections.request import RequestState
from service import rules
from service.calendar import no_objection_deadline
from service.data.roster_2025_2026 import ROSTER_2025_2026
from service.rules import RULES, Context, RuleBroken
from service.rules.commands import (
    Annotate,
    Circulate,
    Decide,
    DepartMember,
    PlaceHold,
    ProvideInformation,
    RecordReview,
    RecordShipment,
    ReleaseAll,
    ReleaseHold,
    RequestAmendment,
    RequestExtension,
    RequestInformation,
    Retract,
    SeatMember,
    SubmitRequest,
    Withdraw,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


NOW = utc("2026-02-05T15:00:00Z")  # a Thursday
SUBMITTED = "2026-01-05T15:00:00Z"  # a Monday
CIRCULATED = "2026-01-05T16:00:00Z"
DEADLINE = utc("2026-01-13T04:59:59.999999Z")  # end of Mon 12 Jan in New York
APPROVED = "2026-01-20T15:00:00Z"
RID = "HX-2026-0001"
OTHER = "HX-2026-0002"

SUBMISSION: dict[str, Any] = {
    "applicant": {"name": "Médecins du Monde", "kind": "ngo"},
    "channel": "resident_coordinator",
    "title": "Tuberculosis diagnostics for North Hwanghae",
    "purpose": "Diagnose and treat tuberculosis in provincial hospitals.",
    "beneficiaries": "About 12,000 patients in 14 county hospitals.",
    "items": [
        {
            "description": "GeneXpert cartridges",
            "hs_code": "3822.19",
            "quantity": 5000,
            "unit": "cartridge",
            "value_usd": 49_950,
        },
    ],
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
    """An in-memory log: enough of the store to fold what the rules decide."""

    def __init__(self) -> None:
        self.events: list[Recorded] = []
        seated = utc("2024-01-01T00:00:00Z")
        self.write(
            [
                Change(COMMITTEE_STREAM, "MemberSeated", dict(seat), seated)
                for seat in ROSTER_2025_2026
            ]
        )

    def write(self, changes: list[Change]) -> list[Recorded]:
        written = []
        for change in changes:
            version = sum(1 for e in self.events if e.stream_id == change.stream_id) + 1
            event = Recorded(
                len(self.events) + 1,
                change.stream_id,
                version,
                change.event_type,
                change.data,
                change.occurred_at,
            )
            self.events.append(event)
            written.append(event)
        return written

    def stream(self, stream_id: str) -> list[Recorded]:
        return [e for e in self.events if e.stream_id == stream_id]

    def state(self, request_id: str = RID) -> RequestState | None:
        return request.fold(self.stream(request_stream(request_id)))

    def roster(self) -> committee.Roster:
        return committee.fold(self.stream(COMMITTEE_STREAM))

    def context(self, now: datetime = NOW, **policy: Any) -> Context:
        return Context(now=now, roster=self.roster(), **policy)

    def do(
        self,
        decide: Callable[..., list[Change]],
        command: Any,
        rid: str = RID,
        now: datetime = NOW,
        **kwargs: Any,
    ) -> list[Recorded]:
        return self.write(decide(self.state(rid), command, self.context(now), **kwargs))


# --- stages of a request ------------------------------------------------------------


def submitted(log: Log, request_id: str = RID, **fields: Any) -> None:
    command = SubmitRequest.model_validate({**SUBMISSION, **fields, "occurred_at": SUBMITTED})
    log.do(rules.submit, command, request_id, request_id=request_id)


def circulated(log: Log, request_id: str = RID) -> None:
    submitted(log, request_id)
    log.do(rules.circulate, Circulate(occurred_at=utc(CIRCULATED)), request_id)


def held(log: Log, member: str = "USA", request_id: str = RID) -> None:
    circulated(log, request_id)
    log.do(rules.place_hold, PlaceHold(member=member, occurred_at=utc(CIRCULATED)), request_id)


def asked(log: Log) -> None:
    circulated(log)
    log.do(
        rules.request_information,
        RequestInformation(
            requested_by="FRA", questions="Which hospitals?", occurred_at=utc(CIRCULATED)
        ),
    )


def approved(log: Log) -> None:
    circulated(log)
    log.do(rules.decide, Decide(outcome="approved", occurred_at=utc(APPROVED)))


def refused(log: Log) -> None:
    circulated(log)
    log.do(rules.decide, Decide(outcome="refused", occurred_at=utc(APPROVED)))


def extension_open(log: Log) -> None:
    approved(log)
    log.do(
        rules.request_extension,
        RequestExtension(
            requested_until=date(2026, 10, 19),
            reason="Port closures",
            occurred_at=utc("2026-01-21T15:00:00Z"),
        ),
    )


def extension_circulated(log: Log) -> None:
    extension_open(log)
    log.do(rules.circulate, Circulate(occurred_at=utc("2026-01-21T16:00:00Z")))


def amendment_circulated(log: Log) -> None:
    approved(log)
    items = [
        {
            "description": "GeneXpert cartridges",
            "quantity": 6000,
            "unit": "cartridge",
            "value_usd": 59_940,
        }
    ]
    log.do(
        rules.request_amendment,
        RequestAmendment(
            items=items, reason="More patients", occurred_at=utc("2026-01-21T15:00:00Z")
        ),
    )
    log.do(rules.circulate, Circulate(occurred_at=utc("2026-01-21T16:00:00Z")))


def shipped(count: int) -> Callable[[Log], None]:
    def setup(log: Log) -> None:
        approved(log)
        for number in range(1, count + 1):
            log.do(
                rules.record_shipment,
                RecordShipment(shipment_no=number, shipped_on=date(2026, 1, 25)),
            )

    return setup


def nothing(log: Log) -> None:
    pass


# --- the table ------------------------------------------------------------------------

Act = Callable[[Log], list[Change]]


def act(
    decide: Callable[..., list[Change]],
    command: Any,
    now: datetime = NOW,
    rid: str = RID,
    **kwargs: Any,
) -> Act:
    def run(log: Log) -> list[Change]:
        return decide(log.state(rid), command, log.context(now), **kwargs)

    return run


def target(position_of: Callable[[Log], int]) -> Callable[..., Act]:
    """An annotation or retraction of the event the shell finds at a position."""

    def make(decide: Callable[..., list[Change]], build: Callable[[int], Any]) -> Act:
        def run(log: Log) -> list[Change]:
            position = position_of(log)
            found = next((e for e in log.events if e.position == position), None)
            return decide(log.state(), build(position), log.context(), target=found)

        return run

    return make


def position_of(event_type: str) -> Callable[[Log], int]:
    return lambda log: next(
        e.position
        for e in log.events
        if e.stream_id == request_stream(RID) and e.event_type == event_type
    )


CASES: list[tuple[str, Callable[[Log], None], Act, str]] = [
    # submission
    (
        "submit",
        nothing,
        act(rules.submit, SubmitRequest.model_validate(SUBMISSION), request_id=RID),
        "RequestSubmitted",
    ),
    (
        "submit twice",
        submitted,
        act(rules.submit, SubmitRequest.model_validate(SUBMISSION), request_id=RID),
        "request-already-exists",
    ),
    (
        "submit in the future",
        nothing,
        act(
            rules.submit,
            SubmitRequest.model_validate({**SUBMISSION, "occurred_at": "2026-03-01T00:00:00Z"}),
            request_id=RID,
        ),
        "occurred-in-future",
    ),
    # circulation
    ("circulate", submitted, act(rules.circulate, Circulate()), "RequestCirculated"),
    ("circulate unknown request", nothing, act(rules.circulate, Circulate()), "request-not-found"),
    ("circulate twice", circulated, act(rules.circulate, Circulate()), "already-circulated"),
    (
        "circulate with a past deadline",
        submitted,
        act(rules.circulate, Circulate(deadline=utc("2026-02-01T00:00:00Z"))),
        "deadline-before-circulation",
    ),
    (
        "circulate before the last event",
        submitted,
        act(rules.circulate, Circulate(occurred_at=utc("2026-01-01T00:00:00Z"))),
        "occurred-before-last-event",
    ),
    (
        "circulate a refused request",
        refused,
        act(rules.circulate, Circulate()),
        "procedure-must-be-open",
    ),
    # holds
    ("hold", circulated, act(rules.place_hold, PlaceHold(member="USA")), "HoldPlaced"),
    (
        "hold by a member elected for 2026",
        circulated,
        act(rules.place_hold, PlaceHold(member="LVA")),
        "HoldPlaced",
    ),
    (
        "hold before circulation",
        submitted,
        act(rules.place_hold, PlaceHold(member="USA")),
        "hold-requires-circulation",
    ),
    (
        "hold by a non-member",
        circulated,
        act(rules.place_hold, PlaceHold(member="DEU")),
        "hold-requires-seated-member",
    ),
    (
        "hold by a member whose term ended",
        circulated,
        act(rules.place_hold, PlaceHold(member="SVN")),
        "hold-requires-seated-member",
    ),
    (
        "second hold by the same member",
        held,
        act(rules.place_hold, PlaceHold(member="USA")),
        "one-active-hold-per-member",
    ),
    (
        "hold on an approved request",
        approved,
        act(rules.place_hold, PlaceHold(member="USA")),
        "procedure-must-be-open",
    ),
    (
        "release by the holder",
        held,
        act(rules.release_hold, ReleaseHold(), member="USA"),
        "HoldReleased",
    ),
    (
        "release by another member",
        held,
        act(rules.release_hold, ReleaseHold(), member="CHN"),
        "release-only-by-holder",
    ),
    # information
    (
        "committee asks",
        circulated,
        act(rules.request_information, RequestInformation(requested_by="committee", questions="?")),
        "InformationRequested",
    ),
    (
        "member asks",
        circulated,
        act(rules.request_information, RequestInformation(requested_by="GBR", questions="?")),
        "InformationRequested",
    ),
    (
        "non-member asks",
        circulated,
        act(rules.request_information, RequestInformation(requested_by="DEU", questions="?")),
        "information-request-requires-seated-member",
    ),
    (
        "asks before circulation",
        submitted,
        act(rules.request_information, RequestInformation(requested_by="committee", questions="?")),
        "information-request-requires-circulation",
    ),
    (
        "applicant answers",
        asked,
        act(rules.provide_information, ProvideInformation(response="Fourteen county hospitals.")),
        "InformationProvided",
    ),
    (
        "answer with nothing asked",
        circulated,
        act(rules.provide_information, ProvideInformation(response="?")),
        "information-response-requires-pending-request",
    ),
    # reviews
    (
        "review",
        circulated,
        act(rules.record_review, RecordReview(step="expert", outcome="ok")),
        "ReviewStepRecorded",
    ),
    (
        "review after the decision",
        refused,
        act(rules.record_review, RecordReview(step="expert", outcome="ok")),
        "procedure-must-be-open",
    ),
    # approval
    ("approve", circulated, act(rules.decide, Decide(outcome="approved")), "ExemptionApproved"),
    (
        "approve uncirculated",
        submitted,
        act(rules.decide, Decide(outcome="approved")),
        "approval-requires-circulation",
    ),
    (
        "approve before the deadline",
        circulated,
        act(rules.decide, Decide(outcome="approved", occurred_at=DEADLINE)),
        "approval-requires-deadline-passed",
    ),
    (
        "approve on hold",
        held,
        act(rules.decide, Decide(outcome="approved")),
        "approval-blocked-by-hold",
    ),
    (
        "approve with a question open",
        asked,
        act(rules.decide, Decide(outcome="approved")),
        "approval-blocked-by-information-request",
    ),
    (
        "approve 7 months",
        circulated,
        act(rules.decide, Decide(outcome="approved", validity_months=7)),
        "validity-months-not-allowed",
    ),
    (
        "approve 9 months unjustified",
        circulated,
        act(rules.decide, Decide(outcome="approved", validity_months=9)),
        "extended-validity-requires-justification",
    ),
    (
        "approve with valid_until",
        circulated,
        act(rules.decide, Decide(outcome="approved", valid_until=date(2026, 12, 31))),
        "decision-field-not-applicable",
    ),
    (
        "refuse",
        submitted,
        act(rules.decide, Decide(outcome="refused", reason="dual use")),
        "ExemptionRefused",
    ),
    ("refuse on hold", held, act(rules.decide, Decide(outcome="refused")), "ExemptionRefused"),
    (
        "decide twice",
        refused,
        act(rules.decide, Decide(outcome="refused")),
        "procedure-must-be-open",
    ),
    # extensions
    (
        "extend",
        approved,
        act(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 10, 19), reason="r"),
        ),
        "ExtensionRequested",
    ),
    (
        "extend unapproved",
        circulated,
        act(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 10, 19), reason="r"),
        ),
        "change-requires-approved-exemption",
    ),
    (
        "extend expired",
        approved,
        act(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 12, 19), reason="r"),
            now=utc("2026-07-21T15:00:00Z"),
        ),
        "change-requires-unexpired-exemption",
    ),
    (
        "extend on its last day",
        approved,
        act(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 12, 19), reason="r"),
            now=utc("2026-07-20T03:00:00Z"),
        ),
        "ExtensionRequested",
    ),
    (
        "extend while extending",
        extension_open,
        act(
            rules.request_extension,
            RequestExtension(requested_until=date(2026, 11, 19), reason="r"),
        ),
        "one-open-procedure",
    ),
    (
        "extend to an earlier date",
        approved,
        act(
            rules.request_extension, RequestExtension(requested_until=date(2026, 7, 19), reason="r")
        ),
        "extension-must-extend-validity",
    ),
    (
        "grant extension",
        extension_circulated,
        act(rules.decide, Decide(outcome="approved")),
        "ExtensionGranted",
    ),
    (
        "grant extension too short",
        extension_circulated,
        act(rules.decide, Decide(outcome="approved", valid_until=date(2026, 7, 1))),
        "extension-must-extend-validity",
    ),
    (
        "grant extension with months",
        extension_circulated,
        act(rules.decide, Decide(outcome="approved", validity_months=6)),
        "decision-field-not-applicable",
    ),
    (
        "grant extension early",
        extension_open,
        act(rules.decide, Decide(outcome="approved")),
        "approval-requires-circulation",
    ),
    (
        "refuse extension",
        extension_circulated,
        act(rules.decide, Decide(outcome="refused")),
        "ExtensionRefused",
    ),
    # amendments
    (
        "amend",
        approved,
        act(rules.request_amendment, RequestAmendment(items=SUBMISSION["items"], reason="r")),
        "AmendmentRequested",
    ),
    (
        "amend unapproved",
        submitted,
        act(rules.request_amendment, RequestAmendment(items=SUBMISSION["items"], reason="r")),
        "change-requires-approved-exemption",
    ),
    (
        "amend while extending",
        extension_open,
        act(rules.request_amendment, RequestAmendment(items=SUBMISSION["items"], reason="r")),
        "one-open-procedure",
    ),
    (
        "approve amendment",
        amendment_circulated,
        act(rules.decide, Decide(outcome="approved")),
        "AmendmentApproved",
    ),
    (
        "approve amendment with a letter",
        amendment_circulated,
        act(rules.decide, Decide(outcome="approved", letter_ref="S/AC.49/2026/1")),
        "decision-field-not-applicable",
    ),
    (
        "refuse amendment",
        amendment_circulated,
        act(rules.decide, Decide(outcome="refused")),
        "AmendmentRefused",
    ),
    # withdrawal
    ("withdraw", submitted, act(rules.withdraw, Withdraw(reason="funding")), "RequestWithdrawn"),
    ("withdraw an extension", extension_open, act(rules.withdraw, Withdraw()), "RequestWithdrawn"),
    (
        "withdraw when approved",
        approved,
        act(rules.withdraw, Withdraw()),
        "withdrawal-requires-undecided-request",
    ),
    (
        "withdraw when refused",
        refused,
        act(rules.withdraw, Withdraw()),
        "withdrawal-requires-undecided-request",
    ),
    # shipments
    (
        "ship",
        approved,
        act(rules.record_shipment, RecordShipment(shipment_no=1, shipped_on=date(2026, 1, 25))),
        "ShipmentRecorded",
    ),
    (
        "ship unapproved",
        circulated,
        act(rules.record_shipment, RecordShipment(shipment_no=1, shipped_on=date(2026, 1, 25))),
        "change-requires-approved-exemption",
    ),
    (
        "ship before validity",
        approved,
        act(rules.record_shipment, RecordShipment(shipment_no=1, shipped_on=date(2026, 1, 19))),
        "shipment-outside-validity",
    ),
    (
        "ship after validity",
        approved,
        act(rules.record_shipment, RecordShipment(shipment_no=1, shipped_on=date(2026, 7, 20))),
        "shipment-outside-validity",
    ),
    (
        "ship number 4",
        approved,
        act(rules.record_shipment, RecordShipment(shipment_no=4, shipped_on=date(2026, 1, 25))),
        "shipment-number-out-of-range",
    ),
    (
        "ship number 1 twice",
        shipped(1),
        act(rules.record_shipment, RecordShipment(shipment_no=1, shipped_on=date(2026, 1, 26))),
        "duplicate-shipment-number",
    ),
    (
        "ship the third",
        shipped(2),
        act(rules.record_shipment, RecordShipment(shipment_no=3, shipped_on=date(2026, 1, 26))),
        "ShipmentRecorded",
    ),
    (
        "ship a fourth",
        shipped(3),
        act(rules.record_shipment, RecordShipment(shipment_no=2, shipped_on=date(2026, 1, 26))),
        "shipments-exhausted",
    ),
    # annotations and retractions
    (
        "annotate",
        held,
        target(position_of("HoldPlaced"))(
            rules.annotate, lambda p: Annotate(target_position=p, text="by phone")
        ),
        "EntryAnnotated",
    ),
    (
        "annotate another stream",
        held,
        target(lambda log: 1)(rules.annotate, lambda p: Annotate(target_position=p, text="x")),
        "target-not-in-stream",
    ),
    (
        "annotate nothing",
        held,
        target(lambda log: 10_000)(rules.annotate, lambda p: Annotate(target_position=p, text="x")),
        "target-not-in-stream",
    ),
    (
        "retract a hold",
        held,
        target(position_of("HoldPlaced"))(
            rules.retract, lambda p: Retract(target_position=p, reason="wrong member")
        ),
        "EventRetracted",
    ),
    (
        "retract the submission",
        held,
        target(position_of("RequestSubmitted"))(
            rules.retract, lambda p: Retract(target_position=p, reason="x")
        ),
        "submission-cannot-be-retracted",
    ),
    (
        "retract a position of another stream",
        held,
        target(lambda log: 1)(rules.retract, lambda p: Retract(target_position=p, reason="x")),
        "target-not-in-stream",
    ),
]


def _retracted_hold(log: Log) -> None:
    held(log)
    hold = position_of("HoldPlaced")(log)
    found = next(e for e in log.events if e.position == hold)
    log.write(
        rules.retract(
            log.state(), Retract(target_position=hold, reason="x"), log.context(), target=found
        )
    )


CASES += [
    (
        "retract twice",
        _retracted_hold,
        target(position_of("HoldPlaced"))(
            rules.retract, lambda p: Retract(target_position=p, reason="x")
        ),
        "already-retracted",
    ),
    (
        "retract a retraction",
        _retracted_hold,
        target(position_of("EventRetracted"))(
            rules.retract, lambda p: Retract(target_position=p, reason="x")
        ),
        "retraction-cannot-be-retracted",
    ),
]


@pytest.mark.parametrize(
    ("setup", "action", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_rule(setup: Callable[[Log], None], action: Act, expected: str) -> None:
    log = Log()
    setup(log)
    if expected in RULES:
        with pytest.raises(RuleBroken) as caught:
            action(log)
        assert caught.value.rule == expected
        assert caught.value.problem()["type"].endswith("/" + expected)
    else:
        changes = action(log)
        assert [change.event_type for change in changes] == [expected]
        log.write(changes)  # what was decided folds


def test_every_rule_is_exercised() -> None:
    exercised = {case[3] for case in CASES} | set(COMMITTEE_RULES_EXERCISED)
    assert set(RULES) - exercised - {"rule-broken"} == set()


class TestDecidedValues:
    def test_deadline_from_the_calendar(self) -> None:
        log = Log()
        submitted(log)
        [change] = rules.circulate(
            log.state(), Circulate(occurred_at=utc(CIRCULATED)), log.context()
        )
        assert change.data == {
            "procedure": "initial",
            "deadline": "2026-01-13T04:59:59.999999Z",
            "expedited": False,
        }
        assert change.occurred_at == utc(CIRCULATED)
        assert change.stream_id == "request-HX-2026-0001"

    def test_urgent_requests_are_expedited(self) -> None:
        log = Log()
        submitted(log, urgent=True)
        [change] = rules.circulate(
            log.state(), Circulate(occurred_at=utc(CIRCULATED)), log.context()
        )
        expected = no_objection_deadline(utc(CIRCULATED), 2, "America/New_York", frozenset())
        assert change.data["expedited"] is True
        assert utc(change.data["deadline"]) == expected

    def test_extensions_are_expedited(self) -> None:
        log = Log()
        extension_open(log)
        [change] = rules.circulate(log.state(), Circulate(), log.context())
        assert change.data["procedure"] == "extension-1"
        assert change.data["expedited"] is True

    def test_given_deadline(self) -> None:
        log = Log()
        submitted(log)
        deadline = utc("2026-02-20T22:00:00Z")
        [change] = rules.circulate(
            log.state(), Circulate(deadline=deadline, expedited=False), log.context()
        )
        assert change.data["deadline"] == "2026-02-20T22:00:00.000000Z"

    def test_approval_letter(self) -> None:
        log = Log()
        circulated(log)
        [change] = rules.decide(log.state(), Decide(outcome="approved"), log.context())
        assert change.data == {
            "procedure": "initial",
            "valid_from": "2026-02-05",
            "valid_until": "2026-08-04",
            "letter_ref": f"{RID}/initial",
            "shipments_allowed": 3,
        }

    def test_nine_months_with_justification(self) -> None:
        log = Log()
        submitted(log, requested_validity_months=9, justification="Winter roads")
        log.do(rules.circulate, Circulate(occurred_at=utc(CIRCULATED)))
        [change] = rules.decide(
            log.state(),
            Decide(outcome="approved", valid_from=date(2026, 3, 1), letter_ref="S/AC.49/2026/OC.7"),
            log.context(),
        )
        assert change.data["valid_from"] == "2026-03-01"
        assert change.data["valid_until"] == "2026-11-30"
        assert change.data["letter_ref"] == "S/AC.49/2026/OC.7"

    def test_extension_granted_as_requested(self) -> None:
        log = Log()
        extension_circulated(log)
        [change] = rules.decide(log.state(), Decide(outcome="approved"), log.context())
        assert change.data == {"procedure": "extension-1", "valid_until": "2026-10-19"}
        log.write([change])
        state = log.state()
        assert state is not None
        assert state.valid_until == date(2026, 10, 19)
        assert state.open_procedure is None

    def test_second_extension_is_numbered(self) -> None:
        log = Log()
        extension_circulated(log)
        log.do(rules.decide, Decide(outcome="refused"))
        [change] = rules.request_extension(
            log.state(),
            RequestExtension(requested_until=date(2026, 9, 1), reason="r"),
            log.context(),
        )
        assert change.data["procedure"] == "extension-2"

    def test_withdrawing_an_extension_names_it(self) -> None:
        log = Log()
        extension_open(log)
        [change] = rules.withdraw(log.state(), Withdraw(), log.context())
        assert change.data == {"procedure": "extension-1"}

    def test_occurred_at_is_kept(self) -> None:
        log = Log()
        circulated(log)
        at = utc("2026-01-06T12:00:00Z")
        [change] = rules.place_hold(
            log.state(), PlaceHold(member="CHN", occurred_at=at), log.context()
        )
        assert change.occurred_at == at


# --- the committee -------------------------------------------------------------------

COMMITTEE_RULES_EXERCISED = ("member-already-seated", "departure-requires-seated-member")


class TestCommittee:
    def test_seat_a_new_member(self) -> None:
        log = Log()
        command = SeatMember(member="DEU", term_start=date(2027, 1, 1), term_end=date(2028, 12, 31))
        [change] = rules.seat_member(log.roster(), command, log.context())
        assert change == Change(
            COMMITTEE_STREAM,
            "MemberSeated",
            {"member": "DEU", "term_start": "2027-01-01", "term_end": "2028-12-31"},
            NOW,
        )

    def test_seat_a_member_again_after_its_term(self) -> None:
        log = Log()
        command = SeatMember(member="SVN", term_start=date(2028, 1, 1), term_end=date(2029, 12, 31))
        assert rules.seat_member(log.roster(), command, log.context())[0].data["member"] == "SVN"

    @pytest.mark.parametrize(
        ("member", "start", "end"),
        [
            ("USA", date(2026, 1, 1), None),
            ("PAK", date(2026, 6, 1), date(2027, 12, 31)),
            ("KOR", date(2025, 1, 1), date(2026, 12, 31)),
        ],
    )
    def test_seat_an_already_seated_member(
        self, member: str, start: date, end: date | None
    ) -> None:
        log = Log()
        with pytest.raises(RuleBroken) as caught:
            rules.seat_member(
                log.roster(),
                SeatMember(member=member, term_start=start, term_end=end),
                log.context(),
            )
        assert caught.value.rule == "member-already-seated"

    def test_seat_before_the_roster_was_written(self) -> None:
        log = Log()
        command = SeatMember(
            member="DEU", term_start=date(2027, 1, 1), occurred_at=utc("2023-01-01T00:00:00Z")
        )
        with pytest.raises(RuleBroken) as caught:
            rules.seat_member(log.roster(), command, log.context())
        assert caught.value.rule == "occurred-before-last-event"

    def test_departure_lapses_holds(self) -> None:
        log = Log()
        held(log, "GBR", RID)
        held(log, "GBR", OTHER)
        submitted(log, "HX-2026-0003")
        states = [s for s in (log.state(RID), log.state(OTHER), log.state("HX-2026-0003")) if s]
        changes = rules.depart_member(
            log.roster(),
            DepartMember(on=date(2026, 2, 5)),
            log.context(),
            member="GBR",
            held=states,
        )
        assert [(c.stream_id, c.event_type) for c in changes] == [
            (COMMITTEE_STREAM, "MemberDeparted"),
            (request_stream(RID), "HoldLapsed"),
            (request_stream(OTHER), "HoldLapsed"),
        ]
        assert changes[1].data == {
            "procedure": "initial",
            "member": "GBR",
            "cause": "member_departed",
        }
        log.write(changes)
        state = log.state()
        assert state is not None and not state.active_holds
        assert state.holds[0].ended_by == "lapsed"
        assert not committee.seated_at(log.roster(), "GBR", date(2026, 2, 5))
        assert committee.seated_at(log.roster(), "GBR", date(2026, 2, 4))

    def test_departure_without_lapse_policy(self) -> None:
        log = Log()
        held(log, "GBR")
        context = log.context(holds_lapse_on_departure=False)
        state = log.state()
        assert state is not None
        changes = rules.depart_member(
            log.roster(), DepartMember(on=date(2026, 2, 5)), context, member="GBR", held=[state]
        )
        assert [c.event_type for c in changes] == ["MemberDeparted"]

    def test_departure_at_term_end(self) -> None:
        log = Log()
        changes = rules.depart_member(
            log.roster(), DepartMember(on=date(2026, 1, 1)), log.context(), member="SVN", held=[]
        )
        assert changes[0].data == {"member": "SVN", "on": "2026-01-01"}

    @pytest.mark.parametrize(
        ("member", "on"),
        [("DEU", date(2026, 2, 5)), ("SVN", date(2026, 3, 1)), ("BHR", date(2025, 6, 1))],
    )
    def test_departure_of_a_member_without_seat(self, member: str, on: date) -> None:
        log = Log()
        with pytest.raises(RuleBroken) as caught:
            rules.depart_member(
                log.roster(), DepartMember(on=on), log.context(), member=member, held=[]
            )
        assert caught.value.rule == "departure-requires-seated-member"

    def test_departure_only_once(self) -> None:
        log = Log()
        log.write(
            rules.depart_member(
                log.roster(),
                DepartMember(on=date(2026, 2, 1)),
                log.context(),
                member="PAK",
                held=[],
            )
        )
        with pytest.raises(RuleBroken):
            rules.depart_member(
                log.roster(),
                DepartMember(on=date(2026, 2, 2)),
                log.context(),
                member="PAK",
                held=[],
            )

    def test_release_all(self) -> None:
        log = Log()
        held(log, "RUS", RID)
        held(log, "CHN", OTHER)
        log.do(rules.place_hold, PlaceHold(member="RUS"), OTHER)
        states = [s for s in (log.state(RID), log.state(OTHER)) if s]
        changes = rules.release_all_holds(
            ReleaseAll(note="instructions"), log.context(), member="RUS", held=states
        )
        assert [(c.stream_id, c.data) for c in changes] == [
            (
                request_stream(RID),
                {"procedure": "initial", "member": "RUS", "note": "instructions"},
            ),
            (
                request_stream(OTHER),
                {"procedure": "initial", "member": "RUS", "note": "instructions"},
            ),
        ]
        assert rules.release_all_holds(ReleaseAll(), log.context(), member="FRA", held=states) == []


# --- 422: malformed bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (SubmitRequest, {**SUBMISSION, "extra": 1}),
        (SubmitRequest, {**SUBMISSION, "items": []}),
        (SubmitRequest, {**SUBMISSION, "requested_validity_months": 9}),
        (SubmitRequest, {**SUBMISSION, "requested_validity_months": 12, "justification": "x"}),
        (SubmitRequest, {**SUBMISSION, "channel": "member_state"}),
        (SubmitRequest, {**SUBMISSION, "sponsor": "FRA"}),
        (SubmitRequest, {**SUBMISSION, "channel": "member_state", "sponsor": "XXX"}),
        (SubmitRequest, {**SUBMISSION, "request_id": "hx-1"}),
        (SubmitRequest, {**SUBMISSION, "title": "   "}),
        (SubmitRequest, {**SUBMISSION, "title": "a\x00b"}),
        (SubmitRequest, {**SUBMISSION, "purpose": "x" * 10_001}),
        (SubmitRequest, {**SUBMISSION, "occurred_at": "2026-02-05T10:00:00"}),
        (SubmitRequest, {**SUBMISSION, "items": [{**SUBMISSION["items"][0], "value_usd": -1}]}),
        (SubmitRequest, {**SUBMISSION, "items": [{**SUBMISSION["items"][0], "quantity": 0}]}),
        (SubmitRequest, {**SUBMISSION, "items": [{**SUBMISSION["items"][0], "hs_code": "abc"}]}),
        (SubmitRequest, {**SUBMISSION, "applicant": {"name": "x", "kind": "company"}}),
        (PlaceHold, {"member": "usa"}),
        (PlaceHold, {"member": "ABC"}),
        (Decide, {"outcome": "approved", "reason": "x"}),
        (Decide, {"outcome": "refused", "validity_months": 6}),
        (Decide, {"outcome": "maybe"}),
        (RecordShipment, {"shipment_no": 0, "shipped_on": "2026-01-01"}),
        (RecordShipment, {"shipment_no": 1, "shipped_on": 20260101}),
        (RecordShipment, {"shipment_no": 1, "shipped_on": "2026-01-01T00:00:00Z"}),
        (SeatMember, {"member": "DEU", "term_start": "2027-01-01", "term_end": "2026-12-31"}),
        (Retract, {"target_position": 0, "reason": "x"}),
        (RequestInformation, {"requested_by": "secretariat", "questions": "?"}),
    ],
)
def test_malformed_bodies(model: type[Any], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_well_formed_bodies() -> None:
    SubmitRequest.model_validate(
        {
            **SUBMISSION,
            "channel": "member_state",
            "sponsor": "FRA",
            "requested_validity_months": 9,
            "justification": "Winter",
            "request_id": "HX-2026-0042",
            "occurred_at": "2026-02-05T10:00:00-05:00",
        }
    )
    RequestInformation.model_validate({"requested_by": "committee", "questions": "?"})
    Decide.model_validate({"outcome": "approved", "validity_months": 9, "valid_from": "2026-03-01"})
    SeatMember.model_validate({"member": "USA", "term_start": "1945-10-24", "term_end": None})


def test_assigned_request_ids() -> None:
    from service.rules.request_rules import request_id_for

    assert request_id_for(utc("2026-12-31T23:30:00-05:00"), 7) == "HX-2027-0007"
    assert request_id_for(NOW, 1234) == "HX-2026-1234"
