"""Decide functions for a request's commands (pure): state + command + context -> changes.

Each returns the events to append, or raises the `RuleBroken` naming the rule it breaks.
Times: a command's `occurred_at` (default `context.now`) is checked against the stream's
last event; calendar days (validity, term of seats) are read in the committee's zone. The
checks they share are in `checks`; the decision on a procedure in `decision_rules`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from events.types import (
    AmendmentRequested,
    Change,
    EntryAnnotated,
    EventRetracted,
    ExtensionRequested,
    HoldPlaced,
    HoldReleased,
    InformationProvided,
    InformationRequested,
    RequestCirculated,
    RequestSubmitted,
    RequestWithdrawn,
    ReviewStepRecorded,
    ShipmentRecorded,
    request_stream,
)
from projections.committee import seated_at
from projections.request import RequestState
from service.rules import errors
from service.rules.calendar import no_objection_deadline
from service.rules.checks import (
    existing,
    local_day,
    occurred_at,
    one_change,
    open_procedure,
    unexpired_exemption,
)
from service.rules.commands import (
    Annotate,
    Circulate,
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
from service.rules.context import Context

__all__ = [
    "TargetEvent",
    "annotate",
    "circulate",
    "place_hold",
    "provide_information",
    "record_review",
    "record_shipment",
    "release_hold",
    "request_amendment",
    "request_extension",
    "request_id_for",
    "request_information",
    "retract",
    "submit",
    "withdraw",
]


class TargetEvent(Protocol):
    """The recorded event an annotation or a retraction points at (the shell reads it)."""

    @property
    def position(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...


# --- submission and circulation --------------------------------------------------------


def request_id_for(submitted_at: datetime, sequence: int) -> str:
    """The id the server assigns: `HX-<year>-<4-digit sequence>`, the year of the
    submission's `occurred_at` (UTC), the sequence counting that year's submissions."""
    return f"HX-{submitted_at.astimezone(UTC).year}-{sequence:04d}"


def submit(
    state: RequestState | None, command: SubmitRequest, context: Context, *, request_id: str
) -> list[Change]:
    """`RequestSubmitted`: `request_id` is the caller's or the one the shell assigned."""
    if state is not None:
        raise errors.RequestAlreadyExists(f"request {request_id} already exists")
    at = occurred_at(None, command, context)
    body = command.model_dump(exclude={"occurred_at", "request_id"})
    event = RequestSubmitted.model_validate({**body, "request_id": request_id})
    return [Change(request_stream(request_id), "RequestSubmitted", event.to_data(), at)]


def circulate(state: RequestState | None, command: Circulate, context: Context) -> list[Change]:
    """`RequestCirculated`: the deadline is computed from the calendar unless given;
    urgent requests, extensions and amendments are expedited unless told otherwise."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = open_procedure(state)
    if procedure.circulated_at is not None:
        raise errors.AlreadyCirculated(f"{procedure.name} was circulated already")
    expedited = command.expedited
    if expedited is None:
        expedited = procedure.name != "initial" or state.urgent
    deadline = command.deadline
    if deadline is None:
        days = context.expedited_working_days if expedited else context.working_days
        deadline = no_objection_deadline(at, days, context.tz, context.holidays)
    elif deadline <= at:
        raise errors.DeadlineBeforeCirculation("the deadline must be after the circulation")
    event = RequestCirculated(procedure=procedure.name, deadline=deadline, expedited=expedited)
    return one_change(state, event, at)


# --- holds, information, reviews ------------------------------------------------------


def place_hold(state: RequestState | None, command: PlaceHold, context: Context) -> list[Change]:
    """`HoldPlaced` by a member seated at `occurred_at`, one active hold per member."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = open_procedure(state)
    if procedure.circulated_at is None:
        raise errors.HoldRequiresCirculation(f"{procedure.name} has not been circulated")
    if not seated_at(context.roster, command.member, at, context.zone):
        raise errors.HoldRequiresSeatedMember(
            f"{command.member} does not sit on the committee on {local_day(at, context)}"
        )
    if state.active_hold_by(command.member) is not None:
        raise errors.OneActiveHoldPerMember(f"{command.member} already holds this request")
    event = HoldPlaced(
        procedure=procedure.name, member=command.member, reason=command.reason, note=command.note
    )
    return one_change(state, event, at)


def release_hold(
    state: RequestState | None, command: ReleaseHold, context: Context, *, member: str
) -> list[Change]:
    """`HoldReleased`, only by the member holding the request."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    hold = state.active_hold_by(member)
    if hold is None:
        raise errors.ReleaseOnlyByHolder(f"{member} holds no active hold on this request")
    event = HoldReleased(procedure=hold.procedure, member=member, note=command.note)
    return one_change(state, event, at)


def request_information(
    state: RequestState | None, command: RequestInformation, context: Context
) -> list[Change]:
    """`InformationRequested` by a seated member or the committee, on a circulated
    procedure."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = open_procedure(state)
    if procedure.circulated_at is None:
        raise errors.InformationRequestRequiresCirculation(
            f"{procedure.name} has not been circulated"
        )
    asker = command.requested_by
    if asker != "committee" and not seated_at(context.roster, asker, at, context.zone):
        raise errors.InformationRequestRequiresSeatedMember(
            f"{asker} does not sit on the committee on {local_day(at, context)}"
        )
    event = InformationRequested(
        procedure=procedure.name, requested_by=asker, questions=command.questions
    )
    return one_change(state, event, at)


def provide_information(
    state: RequestState | None, command: ProvideInformation, context: Context
) -> list[Change]:
    """`InformationProvided`: answers the open procedure's unanswered questions."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    if not state.information_pending or state.open_procedure is None:
        raise errors.InformationResponseRequiresPendingRequest(
            f"request {state.request_id} has no unanswered information request"
        )
    event = InformationProvided(procedure=state.open_procedure, response=command.response)
    return one_change(state, event, at)


def record_review(
    state: RequestState | None, command: RecordReview, context: Context
) -> list[Change]:
    """`ReviewStepRecorded` on the open procedure."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = open_procedure(state)
    event = ReviewStepRecorded(
        procedure=procedure.name,
        step=command.step,
        outcome=command.outcome,
        member=command.member,
        note=command.note,
    )
    return one_change(state, event, at)


# --- extensions, amendments, withdrawal ---------------------------------------------


def _next_procedure(state: RequestState, kind: str) -> str:
    if state.open_procedure is not None:
        raise errors.OneOpenProcedure(f"{state.open_procedure} is still open")
    count = sum(1 for procedure in state.procedures if procedure.kind == kind)
    return f"{kind}-{count + 1}"


def request_extension(
    state: RequestState | None, command: RequestExtension, context: Context
) -> list[Change]:
    """`ExtensionRequested`: opens `extension-<n>` on an approved, unexpired exemption."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    valid_until = unexpired_exemption(state, at, context)
    name = _next_procedure(state, "extension")
    if command.requested_until <= valid_until:
        raise errors.ExtensionMustExtendValidity(
            f"the exemption is already valid until {valid_until.isoformat()}"
        )
    event = ExtensionRequested(
        procedure=name, requested_until=command.requested_until, reason=command.reason
    )
    return one_change(state, event, at)


def request_amendment(
    state: RequestState | None, command: RequestAmendment, context: Context
) -> list[Change]:
    """`AmendmentRequested`: opens `amendment-<n>` on an approved, unexpired exemption."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    unexpired_exemption(state, at, context)
    name = _next_procedure(state, "amendment")
    event = AmendmentRequested(procedure=name, items=command.items, reason=command.reason)
    return one_change(state, event, at)


def withdraw(state: RequestState | None, command: Withdraw, context: Context) -> list[Change]:
    """`RequestWithdrawn`: the whole request while `initial` is undecided; after
    approval, the open extension or amendment procedure."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    if state.open_procedure is None:
        raise errors.WithdrawalRequiresUndecidedRequest(
            f"request {state.request_id} is finally decided and has no open procedure"
        )
    event = RequestWithdrawn(procedure=state.open_procedure, reason=command.reason)
    return one_change(state, event, at)


# --- shipments, annotations, retractions ---------------------------------------------


def record_shipment(
    state: RequestState | None, command: RecordShipment, context: Context
) -> list[Change]:
    """`ShipmentRecorded`: within validity, numbered 1..shipments_allowed, once each."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    if state.approved_at is None or state.valid_from is None or state.valid_until is None:
        raise errors.ChangeRequiresApprovedExemption(
            f"request {state.request_id} has no approved exemption"
        )
    if not state.valid_from <= command.shipped_on <= state.valid_until:
        raise errors.ShipmentOutsideValidity(
            f"the exemption is valid from {state.valid_from} to {state.valid_until}"
        )
    allowed = state.shipments_allowed or context.shipments_allowed
    if len(state.shipments) >= allowed:
        raise errors.ShipmentsExhausted(f"all {allowed} shipments have been recorded")
    if not 1 <= command.shipment_no <= allowed:
        raise errors.ShipmentNumberOutOfRange(f"shipments are numbered 1 to {allowed}")
    if any(shipment.shipment_no == command.shipment_no for shipment in state.shipments):
        raise errors.DuplicateShipmentNumber(f"shipment {command.shipment_no} is recorded")
    event = ShipmentRecorded(
        shipment_no=command.shipment_no, shipped_on=command.shipped_on, note=command.note
    )
    return one_change(state, event, at)


def _in_stream(state: RequestState, position: int, target: TargetEvent | None) -> TargetEvent:
    if (
        target is None
        or target.position != position
        or target.stream_id != request_stream(state.request_id)
    ):
        raise errors.TargetNotInStream(f"position {position} is not an event of this request")
    return target


def annotate(
    state: RequestState | None,
    command: Annotate,
    context: Context,
    *,
    target: TargetEvent | None,
) -> list[Change]:
    """`EntryAnnotated` on an event of this request (`target`: the event at
    `command.target_position`, or None if the log has none)."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    _in_stream(state, command.target_position, target)
    event = EntryAnnotated(target_position=command.target_position, text=command.text)
    return one_change(state, event, at)


def retract(
    state: RequestState | None,
    command: Retract,
    context: Context,
    *,
    target: TargetEvent | None,
) -> list[Change]:
    """`EventRetracted` of an event of this request, neither the submission nor a
    retraction, and not retracted already."""
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    found = _in_stream(state, command.target_position, target)
    if found.event_type == "RequestSubmitted":
        raise errors.SubmissionCannotBeRetracted("withdraw the request instead")
    if found.event_type == "EventRetracted":
        raise errors.RetractionCannotBeRetracted(f"position {found.position} is a retraction")
    if found.position in state.retracted:
        raise errors.AlreadyRetracted(f"position {found.position} is retracted already")
    event = EventRetracted(target_position=command.target_position, reason=command.reason)
    return one_change(state, event, at)
