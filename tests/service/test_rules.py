"""Every rule of the exemption procedure, accepted and refused, with plain values.

Each case is a row: a history (the commands already decided, folded into an in-memory
log), one more command, and what it must give: the rule it breaks, or the events it
decides. Every date is fixed here and every decision gets `now` explicitly: no clock, no
I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import pytest
from pydantic import ValidationError

from events.types import COMMITTEE_STREAM, Change, request_stream
from projections import committee, request
from projections.request import RequestState
from service import rules
from service.data.roster_2025_2026 import ROSTER_2025_2026
from service.rules import RULES, Context, RuleBroken
from service.rules.calendar import no_objection_deadline
from service.rules.commands import (
    Annotate,
    Circulate,
    Command,
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
from service.rules.request_rules import request_id_for


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


NOW = utc("2026-02-05T15:00:00Z")  # a Thursday
AT_SUBMISSION = utc("2026-01-05T15:00:00Z")  # a Monday
AT_CIRCULATION = utc("2026-01-05T16:00:00Z")
DEADLINE = utc("2026-01-13T04:59:59.999999Z")  # end of Mon 12 Jan in New York
AT_APPROVAL = utc("2026-01-20T15:00:00Z")
AT_CHANGE = utc("2026-01-21T15:00:00Z")  # an extension or an amendment is asked for
AT_CHANGE_CIRCULATION = utc("2026-01-21T16:00:00Z")
ROSTER_WRITTEN = utc("2024-01-01T00:00:00Z")
RID = "HX-2026-0001"
OTHER = "HX-2026-0002"
THIRD = "HX-2026-0003"

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
MORE_ITEMS = [
    {
        "description": "GeneXpert cartridges",
        "quantity": 6000,
        "unit": "cartridge",
        "value_usd": 59_940,
    }
]


# --- the in-memory log ----------------------------------------------------------------


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
        self.write(
            [
                Change(COMMITTEE_STREAM, "MemberSeated", dict(seat), ROSTER_WRITTEN)
                for seat in ROSTER_2025_2026
            ]
        )

    def write(self, changes: Sequence[Change]) -> None:
        for change in changes:
            version = len(self.stream(change.stream_id)) + 1
            self.events.append(
                Recorded(
                    len(self.events) + 1,
                    change.stream_id,
                    version,
                    change.event_type,
                    change.data,
                    change.occurred_at,
                )
            )

    def stream(self, stream_id: str) -> list[Recorded]:
        return [e for e in self.events if e.stream_id == stream_id]

    def state(self, request_id: str = RID) -> RequestState | None:
        return request.fold(self.stream(request_stream(request_id)))

    def requests(self) -> list[RequestState]:
        """Every request's state, in the order they were submitted (what the shell
        hands a departure or a release-all to look for holds in)."""
        streams = dict.fromkeys(e.stream_id for e in self.events if e.stream_id != COMMITTEE_STREAM)
        folded = (request.fold(self.stream(stream_id)) for stream_id in streams)
        return [state for state in folded if state is not None]

    def roster(self) -> committee.Roster:
        return committee.fold(self.stream(COMMITTEE_STREAM))

    def context(self, now: datetime = NOW, **policy: Any) -> Context:
        return Context(now=now, roster=self.roster(), **policy)


# --- steps: one command each, called the way the shell calls its decide function ------


class Step(Protocol):
    def changes(self, log: Log) -> list[Change]: ...


Decider = Callable[..., list[Change]]


@dataclass(frozen=True)
class Do:
    """A command on a request: `decide(state, command, context, **extra)`."""

    decide: Decider
    command: Command
    extra: dict[str, Any] = field(default_factory=dict)
    rid: str = RID
    now: datetime = NOW
    policy: dict[str, Any] = field(default_factory=dict)

    def changes(self, log: Log) -> list[Change]:
        context = log.context(self.now, **self.policy)
        return self.decide(log.state(self.rid), self.command, context, **self.extra)


@dataclass(frozen=True)
class Aim:
    """An annotation or a retraction of the event at a position: a number, or the
    first event of that type in the request's stream. The shell finds the target."""

    decide: Decider
    command: type[Annotate | Retract]
    at: str | int
    fields: dict[str, Any]

    def changes(self, log: Log) -> list[Change]:
        position = self.at if isinstance(self.at, int) else _first(log, self.at)
        found = next((e for e in log.events if e.position == position), None)
        command = self.command.model_validate({"target_position": position, **self.fields})
        return self.decide(log.state(), command, log.context(), target=found)


def _first(log: Log, event_type: str) -> int:
    return next(e.position for e in log.stream(request_stream(RID)) if e.event_type == event_type)


@dataclass(frozen=True)
class Seat:
    """`seat_member(roster, command, context)`."""

    command: SeatMember

    def changes(self, log: Log) -> list[Change]:
        return rules.seat_member(log.roster(), self.command, log.context())


@dataclass(frozen=True)
class Depart:
    """`depart_member(roster, command, context, member=, held=every request)`."""

    member: str
    on: date
    policy: dict[str, Any] = field(default_factory=dict)

    def changes(self, log: Log) -> list[Change]:
        return rules.depart_member(
            log.roster(),
            DepartMember(on=self.on),
            log.context(**self.policy),
            member=self.member,
            held=log.requests(),
        )


@dataclass(frozen=True)
class ReleaseAllOf:
    """`release_all_holds(command, context, member=, held=every request)`."""

    member: str
    note: str | None = None

    def changes(self, log: Log) -> list[Change]:
        command = ReleaseAll(note=self.note)
        return rules.release_all_holds(
            command, log.context(), member=self.member, held=log.requests()
        )


# --- one command each: short names for the rows below -----------------------------------


def submit(rid: str = RID, **fields: Any) -> Do:
    body = SubmitRequest.model_validate({**SUBMISSION, **fields})
    return Do(rules.submit, body, {"request_id": rid}, rid=rid)


def circulate(rid: str = RID, **fields: Any) -> Do:
    return Do(rules.circulate, Circulate.model_validate(fields), rid=rid)


def hold(member: str, rid: str = RID, at: datetime | None = None) -> Do:
    return Do(rules.place_hold, PlaceHold(member=member, occurred_at=at), rid=rid)


def release(member: str) -> Do:
    return Do(rules.release_hold, ReleaseHold(), {"member": member})


def ask(requested_by: str, questions: str = "?", at: datetime | None = None) -> Do:
    command = RequestInformation(requested_by=requested_by, questions=questions, occurred_at=at)
    return Do(rules.request_information, command)


def answer(response: str) -> Do:
    return Do(rules.provide_information, ProvideInformation(response=response))


def review() -> Do:
    return Do(rules.record_review, RecordReview(step="expert", outcome="ok"))


def decide(outcome: str, **fields: Any) -> Do:
    return Do(rules.decide, Decide.model_validate({"outcome": outcome, **fields}))


def extend(until: date, now: datetime = NOW, **fields: Any) -> Do:
    command = RequestExtension.model_validate({"requested_until": until, "reason": "r", **fields})
    return Do(rules.request_extension, command, now=now)


def amend(items: list[dict[str, Any]] = SUBMISSION["items"], **fields: Any) -> Do:
    command = RequestAmendment.model_validate({"items": items, "reason": "r", **fields})
    return Do(rules.request_amendment, command)


def withdraw(reason: str | None = None) -> Do:
    return Do(rules.withdraw, Withdraw(reason=reason))


def ship(number: int, on: date = date(2026, 1, 25)) -> Do:
    return Do(rules.record_shipment, RecordShipment(shipment_no=number, shipped_on=on))


def annotate(at: str | int, text: str = "x") -> Aim:
    return Aim(rules.annotate, Annotate, at, {"text": text})


def retract(at: str | int, reason: str = "x") -> Aim:
    return Aim(rules.retract, Retract, at, {"reason": reason})


def seat(member: str, start: date, end: date | None = None, at: datetime | None = None) -> Seat:
    return Seat(SeatMember(member=member, term_start=start, term_end=end, occurred_at=at))


# --- histories --------------------------------------------------------------------------

History = tuple[Step, ...]


def replay(history: History) -> Log:
    log = Log()
    for step in history:
        log.write(step.changes(log))
    return log


def submitted(rid: str = RID, **fields: Any) -> History:
    return (submit(rid, occurred_at=AT_SUBMISSION, **fields),)


def circulated(rid: str = RID) -> History:
    return (*submitted(rid), circulate(rid, occurred_at=AT_CIRCULATION))


def held(member: str = "USA", rid: str = RID) -> History:
    return (*circulated(rid), hold(member, rid, at=AT_CIRCULATION))


def shipped(count: int) -> History:
    return (*APPROVED, *(ship(number) for number in range(1, count + 1)))


NOTHING: History = ()
SUBMITTED = submitted()
CIRCULATED = circulated()
HELD = held()
ASKED = (*CIRCULATED, ask("FRA", "Which hospitals?", at=AT_CIRCULATION))
APPROVED = (*CIRCULATED, decide("approved", occurred_at=AT_APPROVAL))
REFUSED = (*CIRCULATED, decide("refused", occurred_at=AT_APPROVAL))
EXTENSION_OPEN = (
    *APPROVED,
    extend(date(2026, 10, 19), reason="Port closures", occurred_at=AT_CHANGE),
)
EXTENSION_CIRCULATED = (*EXTENSION_OPEN, circulate(occurred_at=AT_CHANGE_CIRCULATION))
AMENDMENT_CIRCULATED = (
    *APPROVED,
    amend(MORE_ITEMS, reason="More patients", occurred_at=AT_CHANGE),
    circulate(occurred_at=AT_CHANGE_CIRCULATION),
)
HOLD_RETRACTED = (*HELD, retract("HoldPlaced"))
GBR_HOLDS_TWO_OF_THREE = (*held("GBR", RID), *held("GBR", OTHER), *submitted(THIRD))
RUS_HOLDS_TWO = (*held("RUS", RID), *held("CHN", OTHER), hold("RUS", OTHER))


# --- refused or accepted: the rule broken, or the events decided -----------------------

Expected = str | tuple[str, ...]  # a rule's name, or the types of the events decided


RULES_TABLE: list[tuple[str, History, Step, Expected]] = [
    # submission
    ("submit", NOTHING, submit(), "RequestSubmitted"),
    ("submit twice", SUBMITTED, submit(), "request-already-exists"),
    ("submit in the future", NOTHING, submit(occurred_at="2026-03-01T00:00:00Z"),
     "occurred-in-future"),
    # circulation
    ("circulate", SUBMITTED, circulate(), "RequestCirculated"),
    ("circulate unknown request", NOTHING, circulate(), "request-not-found"),
    ("circulate twice", CIRCULATED, circulate(), "already-circulated"),
    ("circulate with a past deadline", SUBMITTED, circulate(deadline="2026-02-01T00:00:00Z"),
     "deadline-before-circulation"),
    ("circulate before the last event", SUBMITTED,
     circulate(occurred_at="2026-01-01T00:00:00Z"), "occurred-before-last-event"),
    ("circulate a refused request", REFUSED, circulate(), "procedure-must-be-open"),
    # holds
    ("hold", CIRCULATED, hold("USA"), "HoldPlaced"),
    ("hold by a member elected for 2026", CIRCULATED, hold("LVA"), "HoldPlaced"),
    ("hold before circulation", SUBMITTED, hold("USA"), "hold-requires-circulation"),
    ("hold by a non-member", CIRCULATED, hold("DEU"), "hold-requires-seated-member"),
    ("hold by a member whose term ended", CIRCULATED, hold("SVN"),
     "hold-requires-seated-member"),
    ("second hold by the same member", HELD, hold("USA"), "one-active-hold-per-member"),
    ("hold on an approved request", APPROVED, hold("USA"), "procedure-must-be-open"),
    ("release by the holder", HELD, release("USA"), "HoldReleased"),
    ("release by another member", HELD, release("CHN"), "release-only-by-holder"),
    # information
    ("committee asks", CIRCULATED, ask("committee"), "InformationRequested"),
    ("member asks", CIRCULATED, ask("GBR"), "InformationRequested"),
    ("non-member asks", CIRCULATED, ask("DEU"), "information-request-requires-seated-member"),
    ("asks before circulation", SUBMITTED, ask("committee"),
     "information-request-requires-circulation"),
    ("applicant answers", ASKED, answer("Fourteen county hospitals."), "InformationProvided"),
    ("answer with nothing asked", CIRCULATED, answer("?"),
     "information-response-requires-pending-request"),
    # reviews
    ("review", CIRCULATED, review(), "ReviewStepRecorded"),
    ("review after the decision", REFUSED, review(), "procedure-must-be-open"),
    # approval and refusal
    ("approve", CIRCULATED, decide("approved"), "ExemptionApproved"),
    ("approve uncirculated", SUBMITTED, decide("approved"), "approval-requires-circulation"),
    ("approve before the deadline", CIRCULATED, decide("approved", occurred_at=DEADLINE),
     "approval-requires-deadline-passed"),
    ("approve on hold", HELD, decide("approved"), "approval-blocked-by-hold"),
    ("approve with a question open", ASKED, decide("approved"),
     "approval-blocked-by-information-request"),
    ("approve 7 months", CIRCULATED, decide("approved", validity_months=7),
     "validity-months-not-allowed"),
    ("approve 9 months unjustified", CIRCULATED, decide("approved", validity_months=9),
     "extended-validity-requires-justification"),
    ("approve with valid_until", CIRCULATED, decide("approved", valid_until=date(2026, 12, 31)),
     "decision-field-not-applicable"),
    ("refuse", SUBMITTED, decide("refused", reason="dual use"), "ExemptionRefused"),
    ("refuse on hold", HELD, decide("refused"), "ExemptionRefused"),
    ("decide twice", REFUSED, decide("refused"), "procedure-must-be-open"),
    # extensions
    ("extend", APPROVED, extend(date(2026, 10, 19)), "ExtensionRequested"),
    ("extend unapproved", CIRCULATED, extend(date(2026, 10, 19)),
     "change-requires-approved-exemption"),
    ("extend expired", APPROVED, extend(date(2026, 12, 19), now=utc("2026-07-21T15:00:00Z")),
     "change-requires-unexpired-exemption"),
    ("extend on its last day", APPROVED,
     extend(date(2026, 12, 19), now=utc("2026-07-20T03:00:00Z")), "ExtensionRequested"),
    ("extend while extending", EXTENSION_OPEN, extend(date(2026, 11, 19)), "one-open-procedure"),
    ("extend to an earlier date", APPROVED, extend(date(2026, 7, 19)),
     "extension-must-extend-validity"),
    ("grant extension", EXTENSION_CIRCULATED, decide("approved"), "ExtensionGranted"),
    ("grant extension too short", EXTENSION_CIRCULATED,
     decide("approved", valid_until=date(2026, 7, 1)), "extension-must-extend-validity"),
    ("grant extension with months", EXTENSION_CIRCULATED, decide("approved", validity_months=6),
     "decision-field-not-applicable"),
    ("grant extension early", EXTENSION_OPEN, decide("approved"),
     "approval-requires-circulation"),
    ("refuse extension", EXTENSION_CIRCULATED, decide("refused"), "ExtensionRefused"),
    # amendments
    ("amend", APPROVED, amend(), "AmendmentRequested"),
    ("amend unapproved", SUBMITTED, amend(), "change-requires-approved-exemption"),
    ("amend while extending", EXTENSION_OPEN, amend(), "one-open-procedure"),
    ("approve amendment", AMENDMENT_CIRCULATED, decide("approved"), "AmendmentApproved"),
    ("approve amendment with a letter", AMENDMENT_CIRCULATED,
     decide("approved", letter_ref="S/AC.49/2026/1"), "decision-field-not-applicable"),
    ("refuse amendment", AMENDMENT_CIRCULATED, decide("refused"), "AmendmentRefused"),
    # withdrawal
    ("withdraw", SUBMITTED, withdraw("funding"), "RequestWithdrawn"),
    ("withdraw an extension", EXTENSION_OPEN, withdraw(), "RequestWithdrawn"),
    ("withdraw when approved", APPROVED, withdraw(), "withdrawal-requires-undecided-request"),
    ("withdraw when refused", REFUSED, withdraw(), "withdrawal-requires-undecided-request"),
    # shipments
    ("ship", APPROVED, ship(1), "ShipmentRecorded"),
    ("ship unapproved", CIRCULATED, ship(1), "change-requires-approved-exemption"),
    ("ship before validity", APPROVED, ship(1, date(2026, 1, 19)), "shipment-outside-validity"),
    ("ship after validity", APPROVED, ship(1, date(2026, 7, 20)), "shipment-outside-validity"),
    ("ship number 4", APPROVED, ship(4), "shipment-number-out-of-range"),
    ("ship number 1 twice", shipped(1), ship(1, date(2026, 1, 26)), "duplicate-shipment-number"),
    ("ship the third", shipped(2), ship(3, date(2026, 1, 26)), "ShipmentRecorded"),
    ("ship a fourth", shipped(3), ship(2, date(2026, 1, 26)), "shipments-exhausted"),
    # annotations and retractions
    ("annotate", HELD, annotate("HoldPlaced", "by phone"), "EntryAnnotated"),
    ("annotate another stream", HELD, annotate(1), "target-not-in-stream"),
    ("annotate nothing", HELD, annotate(10_000), "target-not-in-stream"),
    ("retract a hold", HELD, retract("HoldPlaced", "wrong member"), "EventRetracted"),
    ("retract the submission", HELD, retract("RequestSubmitted"),
     "submission-cannot-be-retracted"),
    ("retract a position of another stream", HELD, retract(1), "target-not-in-stream"),
    ("retract twice", HOLD_RETRACTED, retract("HoldPlaced"), "already-retracted"),
    ("retract a retraction", HOLD_RETRACTED, retract("EventRetracted"),
     "retraction-cannot-be-retracted"),
    # the committee
    ("seat a permanent member again", NOTHING, seat("USA", date(2026, 1, 1)),
     "member-already-seated"),
    ("seat an elected member within its term", NOTHING,
     seat("PAK", date(2026, 6, 1), date(2027, 12, 31)), "member-already-seated"),
    ("seat an elected member over its term", NOTHING,
     seat("KOR", date(2025, 1, 1), date(2026, 12, 31)), "member-already-seated"),
    ("seat before the roster was written", NOTHING,
     seat("DEU", date(2027, 1, 1), at=utc("2023-01-01T00:00:00Z")), "occurred-before-last-event"),
    ("depart without lapse policy", held("GBR"),
     Depart("GBR", date(2026, 2, 5), {"holds_lapse_on_departure": False}), ("MemberDeparted",)),
    ("depart a non-member", NOTHING, Depart("DEU", date(2026, 2, 5)),
     "departure-requires-seated-member"),
    ("depart after the term ended", NOTHING, Depart("SVN", date(2026, 3, 1)),
     "departure-requires-seated-member"),
    ("depart before the term began", NOTHING, Depart("BHR", date(2025, 6, 1)),
     "departure-requires-seated-member"),
    ("depart twice", (Depart("PAK", date(2026, 2, 1)),), Depart("PAK", date(2026, 2, 2)),
     "departure-requires-seated-member"),
]  # fmt: skip
RULE_CASES = [pytest.param(*row, id=name) for name, *row in RULES_TABLE]


@pytest.mark.parametrize(("history", "step", "expected"), RULE_CASES)
def test_rule(history: History, step: Step, expected: Expected) -> None:
    log = replay(history)
    if isinstance(expected, str) and expected in RULES:
        with pytest.raises(RuleBroken) as caught:
            step.changes(log)
        assert caught.value.rule == expected
        assert caught.value.problem()["type"].endswith("/" + expected)
    else:
        changes = step.changes(log)
        types = (expected,) if isinstance(expected, str) else expected
        assert tuple(change.event_type for change in changes) == types
        log.write(changes)  # what was decided folds
        assert log.requests() is not None and log.roster() is not None


def test_every_rule_is_exercised() -> None:
    exercised = {expected for *_, expected in RULES_TABLE}
    assert set(RULES) - exercised - {"rule-broken"} == set()


# --- accepted: exactly the events decided ---------------------------------------------


def on_request(event_type: str, data: dict[str, Any], at: datetime = NOW, rid: str = RID) -> Change:
    return Change(request_stream(rid), event_type, data, at)


def on_committee(event_type: str, data: dict[str, Any], at: datetime = NOW) -> Change:
    return Change(COMMITTEE_STREAM, event_type, data, at)


def deadline_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expedited(at: datetime) -> str:
    """The deadline two working days after `at` (the calendar's own answer)."""
    return deadline_text(no_objection_deadline(at, 2, "America/New_York", frozenset()))


CHN_AT = utc("2026-01-06T12:00:00Z")
LETTERED = "S/AC.49/2026/OC.7"
NINE_MONTHS = (
    *submitted(requested_validity_months=9, justification="Winter roads"),
    circulate(occurred_at=AT_CIRCULATION),
)
LAPSED = {"procedure": "initial", "member": "GBR", "cause": "member_departed"}
RELEASED = {"procedure": "initial", "member": "RUS", "note": "instructions"}

VALUES_TABLE: list[tuple[str, History, Step, list[Change]]] = [
    ("the deadline comes from the calendar", SUBMITTED, circulate(occurred_at=AT_CIRCULATION),
     [on_request("RequestCirculated", {"procedure": "initial",
      "deadline": "2026-01-13T04:59:59.999999Z", "expedited": False}, AT_CIRCULATION)]),
    ("urgent requests are expedited", submitted(urgent=True), circulate(occurred_at=AT_CIRCULATION),
     [on_request("RequestCirculated", {"procedure": "initial",
      "deadline": expedited(AT_CIRCULATION), "expedited": True}, AT_CIRCULATION)]),
    ("extensions are expedited", EXTENSION_OPEN, circulate(),
     [on_request("RequestCirculated", {"procedure": "extension-1",
      "deadline": expedited(NOW), "expedited": True})]),
    ("a given deadline is kept", SUBMITTED,
     circulate(deadline="2026-02-20T22:00:00Z", expedited=False),
     [on_request("RequestCirculated", {"procedure": "initial",
      "deadline": "2026-02-20T22:00:00.000000Z", "expedited": False})]),
    ("the approval letter", CIRCULATED, decide("approved"),
     [on_request("ExemptionApproved", {"procedure": "initial", "valid_from": "2026-02-05",
      "valid_until": "2026-08-04", "letter_ref": f"{RID}/initial", "shipments_allowed": 3})]),
    ("nine months with a justification", NINE_MONTHS,
     decide("approved", valid_from=date(2026, 3, 1), letter_ref=LETTERED),
     [on_request("ExemptionApproved", {"procedure": "initial", "valid_from": "2026-03-01",
      "valid_until": "2026-11-30", "letter_ref": LETTERED, "shipments_allowed": 3})]),
    ("an extension granted as requested", EXTENSION_CIRCULATED, decide("approved"),
     [on_request("ExtensionGranted", {"procedure": "extension-1", "valid_until": "2026-10-19"})]),
    ("a second extension is numbered", (*EXTENSION_CIRCULATED, decide("refused")),
     extend(date(2026, 9, 1)),
     [on_request("ExtensionRequested",
      {"procedure": "extension-2", "requested_until": "2026-09-01", "reason": "r"})]),
    ("withdrawing an extension names it", EXTENSION_OPEN, withdraw(),
     [on_request("RequestWithdrawn", {"procedure": "extension-1"})]),
    ("occurred_at is kept", CIRCULATED, hold("CHN", at=CHN_AT),
     [on_request("HoldPlaced", {"procedure": "initial", "member": "CHN"}, CHN_AT)]),
    ("seat a new member", NOTHING, seat("DEU", date(2027, 1, 1), date(2028, 12, 31)),
     [on_committee("MemberSeated",
      {"member": "DEU", "term_start": "2027-01-01", "term_end": "2028-12-31"})]),
    ("seat a member again after its term", NOTHING,
     seat("SVN", date(2028, 1, 1), date(2029, 12, 31)),
     [on_committee("MemberSeated",
      {"member": "SVN", "term_start": "2028-01-01", "term_end": "2029-12-31"})]),
    ("depart at the end of a term", NOTHING, Depart("SVN", date(2026, 1, 1)),
     [on_committee("MemberDeparted", {"member": "SVN", "on": "2026-01-01"})]),
    ("a departure lapses the member's holds", GBR_HOLDS_TWO_OF_THREE,
     Depart("GBR", date(2026, 2, 5)),
     [on_committee("MemberDeparted", {"member": "GBR", "on": "2026-02-05"}),
      on_request("HoldLapsed", LAPSED, rid=RID), on_request("HoldLapsed", LAPSED, rid=OTHER)]),
    ("release all of a member's holds", RUS_HOLDS_TWO, ReleaseAllOf("RUS", "instructions"),
     [on_request("HoldReleased", RELEASED, rid=RID),
      on_request("HoldReleased", RELEASED, rid=OTHER)]),
    ("release all of a member without holds", RUS_HOLDS_TWO, ReleaseAllOf("FRA"), []),
]  # fmt: skip
VALUE_CASES = [pytest.param(*row, id=name) for name, *row in VALUES_TABLE]


@pytest.mark.parametrize(("history", "step", "expected"), VALUE_CASES)
def test_decided(history: History, step: Step, expected: list[Change]) -> None:
    log = replay(history)
    changes = step.changes(log)
    assert changes == expected
    log.write(changes)  # what was decided folds
    assert log.requests() is not None and log.roster() is not None


# --- what the decided events fold to --------------------------------------------------


def test_a_granted_extension_closes_the_procedure() -> None:
    log = replay((*EXTENSION_CIRCULATED, decide("approved")))
    state = log.state()
    assert state is not None
    assert state.valid_until == date(2026, 10, 19)
    assert state.open_procedure is None


def test_a_departure_lapses_the_holds_and_ends_the_seat() -> None:
    log = replay((*GBR_HOLDS_TWO_OF_THREE, Depart("GBR", date(2026, 2, 5))))
    state = log.state()
    assert state is not None and not state.active_holds
    assert state.holds[0].ended_by == "lapsed"
    assert not committee.seated_at(log.roster(), "GBR", date(2026, 2, 5))
    assert committee.seated_at(log.roster(), "GBR", date(2026, 2, 4))


# --- 422: malformed bodies ----------------------------------------------------------------

ITEM = SUBMISSION["items"][0]


def body(name: str, model: type[Any], data: dict[str, Any]) -> Any:
    return pytest.param(model, data, id=name)


MALFORMED = [
    body("submit: an unknown field", SubmitRequest, {**SUBMISSION, "extra": 1}),
    body("submit: no items", SubmitRequest, {**SUBMISSION, "items": []}),
    body("submit: 9 months unjustified", SubmitRequest,
         {**SUBMISSION, "requested_validity_months": 9}),
    body("submit: 12 months", SubmitRequest,
         {**SUBMISSION, "requested_validity_months": 12, "justification": "x"}),
    body("submit: member state without sponsor", SubmitRequest,
         {**SUBMISSION, "channel": "member_state"}),
    body("submit: sponsor on another channel", SubmitRequest, {**SUBMISSION, "sponsor": "FRA"}),
    body("submit: unknown sponsor", SubmitRequest,
         {**SUBMISSION, "channel": "member_state", "sponsor": "XXX"}),
    body("submit: lower-case request id", SubmitRequest, {**SUBMISSION, "request_id": "hx-1"}),
    body("submit: blank title", SubmitRequest, {**SUBMISSION, "title": "   "}),
    body("submit: control character", SubmitRequest, {**SUBMISSION, "title": "a\x00b"}),
    body("submit: purpose too long", SubmitRequest, {**SUBMISSION, "purpose": "x" * 10_001}),
    body("submit: naive occurred_at", SubmitRequest,
         {**SUBMISSION, "occurred_at": "2026-02-05T10:00:00"}),
    body("submit: negative value", SubmitRequest,
         {**SUBMISSION, "items": [{**ITEM, "value_usd": -1}]}),
    body("submit: zero quantity", SubmitRequest,
         {**SUBMISSION, "items": [{**ITEM, "quantity": 0}]}),
    body("submit: bad HS code", SubmitRequest,
         {**SUBMISSION, "items": [{**ITEM, "hs_code": "abc"}]}),
    body("submit: unknown applicant kind", SubmitRequest,
         {**SUBMISSION, "applicant": {"name": "x", "kind": "company"}}),
    body("hold: lower-case member", PlaceHold, {"member": "usa"}),
    body("hold: unknown member code", PlaceHold, {"member": "ABC"}),
    body("decide: approval with a reason", Decide, {"outcome": "approved", "reason": "x"}),
    body("decide: refusal with months", Decide, {"outcome": "refused", "validity_months": 6}),
    body("decide: unknown outcome", Decide, {"outcome": "maybe"}),
    body("ship: number 0", RecordShipment, {"shipment_no": 0, "shipped_on": "2026-01-01"}),
    body("ship: date as a number", RecordShipment, {"shipment_no": 1, "shipped_on": 20260101}),
    body("ship: date with a time", RecordShipment,
         {"shipment_no": 1, "shipped_on": "2026-01-01T00:00:00Z"}),
    body("seat: term ends before it starts", SeatMember,
         {"member": "DEU", "term_start": "2027-01-01", "term_end": "2026-12-31"}),
    body("retract: position 0", Retract, {"target_position": 0, "reason": "x"}),
    body("ask: unknown requester", RequestInformation,
         {"requested_by": "secretariat", "questions": "?"}),
]  # fmt: skip

WELL_FORMED = [
    body(
        "submit: sponsored, 9 months justified, id and offset time given",
        SubmitRequest,
        {
            **SUBMISSION,
            "channel": "member_state",
            "sponsor": "FRA",
            "requested_validity_months": 9,
            "justification": "Winter",
            "request_id": "HX-2026-0042",
            "occurred_at": "2026-02-05T10:00:00-05:00",
        },
    ),
    body(
        "ask: by the committee", RequestInformation, {"requested_by": "committee", "questions": "?"}
    ),
    body(
        "decide: 9 months from a date",
        Decide,
        {"outcome": "approved", "validity_months": 9, "valid_from": "2026-03-01"},
    ),
    body(
        "seat: a permanent member",
        SeatMember,
        {"member": "USA", "term_start": "1945-10-24", "term_end": None},
    ),
]


@pytest.mark.parametrize(("model", "data"), MALFORMED)
def test_malformed_bodies(model: type[Any], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize(("model", "data"), WELL_FORMED)
def test_well_formed_bodies(model: type[Any], data: dict[str, Any]) -> None:
    model.model_validate(data)


@pytest.mark.parametrize(
    ("at", "sequence", "expected"),
    [
        pytest.param(utc("2026-12-31T23:30:00-05:00"), 7, "HX-2027-0007", id="year of UTC"),
        pytest.param(NOW, 1234, "HX-2026-1234", id="four digits"),
    ],
)
def test_assigned_request_ids(at: datetime, sequence: int, expected: str) -> None:
    assert request_id_for(at, sequence) == expected
