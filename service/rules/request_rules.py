"""Decide functions for a request's commands (pure): state + command + context -> changes.

Each returns the events to append, or raises the `RuleBroken` naming the rule it breaks.
Times: a command's `occurred_at` (default `context.now`) is checked against the stream's
last event; calendar days (validity, term of seats) are read in the committee's zone.
"""

from __future__ import annotations

import calendar as month_calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from events.types import (
    AmendmentApproved,
    AmendmentRefused,
    AmendmentRequested,
    Change,
    Data,
    EntryAnnotated,
    EventRetracted,
    ExemptionApproved,
    ExemptionRefused,
    ExtensionGranted,
    ExtensionRefused,
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
from projections.request import Procedure, RequestState
from service.rules import errors
from service.rules.calendar import no_objection_deadline
from service.rules.commands import (
    Annotate,
    Circulate,
    Command,
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
from service.rules.context import Context

__all__ = [
    "TargetEvent",
    "add_months",
    "annotate",
    "circulate",
    "decide",
    "occurred_at",
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


# --- shared checks -------------------------------------------------------------------


def occurred_at(last: datetime | None, command: Command, context: Context) -> datetime:
    """When the command's decision was taken: never in the future, never before `last`."""
    at = command.occurred_at or context.now
    if at > context.now:
        raise errors.OccurredInFuture(f"occurred_at {at.isoformat()} is after now")
    if last is not None and at < last:
        raise errors.OccurredBeforeLastEvent(
            f"occurred_at {at.isoformat()} is before the stream's last event ({last.isoformat()})"
        )
    return at


def _existing(state: RequestState | None) -> RequestState:
    if state is None:
        raise errors.RequestNotFound("no such request")
    return state


def _change(state: RequestState, event: Data, at: datetime) -> list[Change]:
    return [Change(request_stream(state.request_id), type(event).__name__, event.to_data(), at)]


def _open(state: RequestState) -> Procedure:
    if state.open_procedure is None:
        raise errors.ProcedureMustBeOpen(f"request {state.request_id} has no open procedure")
    return state.current_procedure


def _day(at: datetime, context: Context) -> date:
    return at.astimezone(context.zone).date()


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the end of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def validity_end(valid_from: date, months: int) -> date:
    """The last day of validity: `months` after `valid_from`, less one day (inclusive)."""
    return add_months(valid_from, months) - timedelta(days=1)


def _unexpired_exemption(state: RequestState, at: datetime, context: Context) -> date:
    if state.approved_at is None or state.valid_until is None:
        raise errors.ChangeRequiresApprovedExemption(
            f"request {state.request_id} has no approved exemption"
        )
    if _day(at, context) > state.valid_until:
        raise errors.ChangeRequiresUnexpiredExemption(
            f"the exemption expired after {state.valid_until.isoformat()}"
        )
    return state.valid_until


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
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = _open(state)
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
    return _change(state, event, at)


# --- holds, information, reviews ------------------------------------------------------


def place_hold(state: RequestState | None, command: PlaceHold, context: Context) -> list[Change]:
    """`HoldPlaced` by a member seated at `occurred_at`, one active hold per member."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = _open(state)
    if procedure.circulated_at is None:
        raise errors.HoldRequiresCirculation(f"{procedure.name} has not been circulated")
    if not seated_at(context.roster, command.member, at, context.zone):
        raise errors.HoldRequiresSeatedMember(
            f"{command.member} does not sit on the committee on {_day(at, context)}"
        )
    if state.active_hold_by(command.member) is not None:
        raise errors.OneActiveHoldPerMember(f"{command.member} already holds this request")
    event = HoldPlaced(
        procedure=procedure.name, member=command.member, reason=command.reason, note=command.note
    )
    return _change(state, event, at)


def release_hold(
    state: RequestState | None, command: ReleaseHold, context: Context, *, member: str
) -> list[Change]:
    """`HoldReleased`, only by the member holding the request."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    hold = state.active_hold_by(member)
    if hold is None:
        raise errors.ReleaseOnlyByHolder(f"{member} holds no active hold on this request")
    event = HoldReleased(procedure=hold.procedure, member=member, note=command.note)
    return _change(state, event, at)


def request_information(
    state: RequestState | None, command: RequestInformation, context: Context
) -> list[Change]:
    """`InformationRequested` by a seated member or the committee, on a circulated
    procedure."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = _open(state)
    if procedure.circulated_at is None:
        raise errors.InformationRequestRequiresCirculation(
            f"{procedure.name} has not been circulated"
        )
    asker = command.requested_by
    if asker != "committee" and not seated_at(context.roster, asker, at, context.zone):
        raise errors.InformationRequestRequiresSeatedMember(
            f"{asker} does not sit on the committee on {_day(at, context)}"
        )
    event = InformationRequested(
        procedure=procedure.name, requested_by=asker, questions=command.questions
    )
    return _change(state, event, at)


def provide_information(
    state: RequestState | None, command: ProvideInformation, context: Context
) -> list[Change]:
    """`InformationProvided`: answers the open procedure's unanswered questions."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    if not state.information_pending or state.open_procedure is None:
        raise errors.InformationResponseRequiresPendingRequest(
            f"request {state.request_id} has no unanswered information request"
        )
    event = InformationProvided(procedure=state.open_procedure, response=command.response)
    return _change(state, event, at)


def record_review(
    state: RequestState | None, command: RecordReview, context: Context
) -> list[Change]:
    """`ReviewStepRecorded` on the open procedure."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = _open(state)
    event = ReviewStepRecorded(
        procedure=procedure.name,
        step=command.step,
        outcome=command.outcome,
        member=command.member,
        note=command.note,
    )
    return _change(state, event, at)


# --- decisions ----------------------------------------------------------------------


def _may_approve(state: RequestState, procedure: Procedure, at: datetime) -> None:
    if procedure.circulated_at is None or procedure.deadline is None:
        raise errors.ApprovalRequiresCirculation(f"{procedure.name} has not been circulated")
    if at <= procedure.deadline:
        raise errors.ApprovalRequiresDeadlinePassed(
            f"the deadline of {procedure.name} is {procedure.deadline.isoformat()}"
        )
    if state.active_holds:
        raise errors.ApprovalBlockedByHold(f"{procedure.name} is on hold")
    if state.information_pending:
        raise errors.ApprovalBlockedByInformationRequest(
            f"an information request on {procedure.name} is unanswered"
        )


def _not_applicable(command: Decide, procedure: Procedure, *names: str) -> None:
    given = [name for name in names if getattr(command, name) is not None]
    if given:
        raise errors.DecisionFieldNotApplicable(
            f"{', '.join(given)} does not apply to the decision on {procedure.name}"
        )


def _approve_initial(state: RequestState, command: Decide, context: Context, at: datetime) -> Data:
    procedure = state.current_procedure
    _not_applicable(command, procedure, "valid_until", "items")
    months = command.validity_months or state.requested_validity_months
    if months not in (context.validity_months, context.extended_validity_months):
        raise errors.ValidityMonthsNotAllowed(
            f"validity is {context.validity_months} or {context.extended_validity_months} months"
        )
    if months == context.extended_validity_months != context.validity_months and (
        state.justification is None
    ):
        raise errors.ExtendedValidityRequiresJustification(
            f"{months} months need a justification in the request"
        )
    valid_from = command.valid_from or _day(at, context)
    return ExemptionApproved(
        procedure=procedure.name,
        valid_from=valid_from,
        valid_until=validity_end(valid_from, months),
        letter_ref=command.letter_ref or f"{state.request_id}/{procedure.name}",
        shipments_allowed=context.shipments_allowed,
    )


def _grant_extension(state: RequestState, command: Decide) -> Data:
    procedure = state.current_procedure
    _not_applicable(command, procedure, "validity_months", "valid_from", "letter_ref", "items")
    until = command.valid_until or procedure.requested_until
    if until is None or state.valid_until is None or until <= state.valid_until:
        raise errors.ExtensionMustExtendValidity(
            f"the exemption is valid until {state.valid_until}; {until} does not extend it"
        )
    return ExtensionGranted(procedure=procedure.name, valid_until=until)


def _approve_amendment(state: RequestState, command: Decide) -> Data:
    procedure = state.current_procedure
    _not_applicable(
        command, procedure, "validity_months", "valid_from", "valid_until", "letter_ref"
    )
    items: list[Any] = list(command.items) if command.items else list(procedure.items)
    return AmendmentApproved.model_validate({"procedure": procedure.name, "items": items})


_REFUSALS: dict[str, type[ExemptionRefused | ExtensionRefused | AmendmentRefused]] = {
    "initial": ExemptionRefused,
    "extension": ExtensionRefused,
    "amendment": AmendmentRefused,
}


def decide(state: RequestState | None, command: Decide, context: Context) -> list[Change]:
    """The open procedure's approval or refusal: `ExemptionApproved`/`Refused`,
    `ExtensionGranted`/`Refused` or `AmendmentApproved`/`Refused`."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = _open(state)
    event: Data
    if command.outcome == "refused":
        event = _REFUSALS[procedure.kind](procedure=procedure.name, reason=command.reason)
        return _change(state, event, at)
    _may_approve(state, procedure, at)
    if procedure.kind == "initial":
        event = _approve_initial(state, command, context, at)
    elif procedure.kind == "extension":
        event = _grant_extension(state, command)
    else:
        event = _approve_amendment(state, command)
    return _change(state, event, at)


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
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    valid_until = _unexpired_exemption(state, at, context)
    name = _next_procedure(state, "extension")
    if command.requested_until <= valid_until:
        raise errors.ExtensionMustExtendValidity(
            f"the exemption is already valid until {valid_until.isoformat()}"
        )
    event = ExtensionRequested(
        procedure=name, requested_until=command.requested_until, reason=command.reason
    )
    return _change(state, event, at)


def request_amendment(
    state: RequestState | None, command: RequestAmendment, context: Context
) -> list[Change]:
    """`AmendmentRequested`: opens `amendment-<n>` on an approved, unexpired exemption."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    _unexpired_exemption(state, at, context)
    name = _next_procedure(state, "amendment")
    event = AmendmentRequested(procedure=name, items=command.items, reason=command.reason)
    return _change(state, event, at)


def withdraw(state: RequestState | None, command: Withdraw, context: Context) -> list[Change]:
    """`RequestWithdrawn`: the whole request while `initial` is undecided; after
    approval, the open extension or amendment procedure."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    if state.open_procedure is None:
        raise errors.WithdrawalRequiresUndecidedRequest(
            f"request {state.request_id} is finally decided and has no open procedure"
        )
    event = RequestWithdrawn(procedure=state.open_procedure, reason=command.reason)
    return _change(state, event, at)


# --- shipments, annotations, retractions ---------------------------------------------


def record_shipment(
    state: RequestState | None, command: RecordShipment, context: Context
) -> list[Change]:
    """`ShipmentRecorded`: within validity, numbered 1..shipments_allowed, once each."""
    state = _existing(state)
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
    return _change(state, event, at)


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
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    _in_stream(state, command.target_position, target)
    event = EntryAnnotated(target_position=command.target_position, text=command.text)
    return _change(state, event, at)


def retract(
    state: RequestState | None,
    command: Retract,
    context: Context,
    *,
    target: TargetEvent | None,
) -> list[Change]:
    """`EventRetracted` of an event of this request, neither the submission nor a
    retraction, and not retracted already."""
    state = _existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    found = _in_stream(state, command.target_position, target)
    if found.event_type == "RequestSubmitted":
        raise errors.SubmissionCannotBeRetracted("withdraw the request instead")
    if found.event_type == "EventRetracted":
        raise errors.RetractionCannotBeRetracted(f"position {found.position} is a retraction")
    if found.position in state.retracted:
        raise errors.AlreadyRetracted(f"position {found.position} is retracted already")
    event = EventRetracted(target_position=command.target_position, reason=command.reason)
    return _change(state, event, at)
