"""The decision on a request's open procedure (pure): its approval or refusal, and the
validity an approval gives (`ExemptionApproved`/`Refused`, `ExtensionGranted`/`Refused`,
`AmendmentApproved`/`Refused`)."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, datetime, timedelta
from typing import Any

from events.types import (
    AmendmentApproved,
    AmendmentRefused,
    Change,
    Data,
    ExemptionApproved,
    ExemptionRefused,
    ExtensionGranted,
    ExtensionRefused,
)
from projections.request import Procedure, RequestState
from service.rules import errors
from service.rules.checks import existing, local_day, occurred_at, one_change, open_procedure
from service.rules.commands import Decide
from service.rules.context import Context

__all__ = ["add_months", "decide", "validity_end"]


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the end of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def validity_end(valid_from: date, months: int) -> date:
    """The last day of validity: `months` after `valid_from`, less one day (inclusive)."""
    return add_months(valid_from, months) - timedelta(days=1)


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
    valid_from = command.valid_from or local_day(at, context)
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
    state = existing(state)
    at = occurred_at(state.last_occurred_at, command, context)
    procedure = open_procedure(state)
    event: Data
    if command.outcome == "refused":
        event = _REFUSALS[procedure.kind](procedure=procedure.name, reason=command.reason)
        return one_change(state, event, at)
    _may_approve(state, procedure, at)
    if procedure.kind == "initial":
        event = _approve_initial(state, command, context, at)
    elif procedure.kind == "extension":
        event = _grant_extension(state, command)
    else:
        event = _approve_amendment(state, command)
    return one_change(state, event, at)
