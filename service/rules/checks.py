"""The checks every decide function shares (pure): when a command occurred, that its
request exists, which procedure is open, the committee's calendar day, an exemption in
force; and the one change most commands decide."""

from __future__ import annotations

from datetime import date, datetime

from events.types import Change, Data, request_stream
from projections.request import Procedure, RequestState
from service.rules import errors
from service.rules.commands import Command
from service.rules.context import Context

__all__ = [
    "existing",
    "local_day",
    "occurred_at",
    "one_change",
    "open_procedure",
    "unexpired_exemption",
]


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


def existing(state: RequestState | None) -> RequestState:
    """The request's state, or `request-not-found`."""
    if state is None:
        raise errors.RequestNotFound("no such request")
    return state


def one_change(state: RequestState, event: Data, at: datetime) -> list[Change]:
    """`event`, the one change to the request's stream."""
    return [Change(request_stream(state.request_id), type(event).__name__, event.to_data(), at)]


def open_procedure(state: RequestState) -> Procedure:
    """The request's open procedure, or `procedure-must-be-open`."""
    if state.open_procedure is None:
        raise errors.ProcedureMustBeOpen(f"request {state.request_id} has no open procedure")
    return state.current_procedure


def local_day(at: datetime, context: Context) -> date:
    """The calendar day of `at` in the committee's zone."""
    return at.astimezone(context.zone).date()


def unexpired_exemption(state: RequestState, at: datetime, context: Context) -> date:
    """The last day of the request's exemption, approved and in force on `at`."""
    if state.approved_at is None or state.valid_until is None:
        raise errors.ChangeRequiresApprovedExemption(
            f"request {state.request_id} has no approved exemption"
        )
    if local_day(at, context) > state.valid_until:
        raise errors.ChangeRequiresUnexpiredExemption(
            f"the exemption expired after {state.valid_until.isoformat()}"
        )
    return state.valid_until
