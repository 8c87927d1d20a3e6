"""Command bodies of the HTTP API (SPEC §6): closed models, 422 on anything malformed.

Checks that need no state live here (shapes, codes, dates, lengths); checks against
the log are the rules in `request_rules` and `committee_rules` (409).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from events.types import (
    Data,
    IsoDate,
    Items,
    Member,
    Position,
    Requester,
    RequestId,
    ShortText,
    Submission,
    Text,
    UtcTime,
)

__all__ = [
    "Annotate",
    "Circulate",
    "Command",
    "Decide",
    "DepartMember",
    "PlaceHold",
    "ProvideInformation",
    "RecordReview",
    "RecordShipment",
    "ReleaseAll",
    "ReleaseHold",
    "RequestAmendment",
    "RequestExtension",
    "RequestInformation",
    "Retract",
    "SeatMember",
    "SubmitRequest",
    "Withdraw",
]


class Command(Data):
    """Every command may say when the decision was taken (default: now)."""

    occurred_at: UtcTime | None = None


class SubmitRequest(Submission, Command):
    """`POST /v1/requests`: the `RequestSubmitted` data, the id optional."""

    request_id: RequestId | None = None


class Circulate(Command):
    deadline: UtcTime | None = None
    expedited: bool | None = None


class PlaceHold(Command):
    member: Member
    reason: Text | None = None
    note: Text | None = None


class ReleaseHold(Command):
    note: Text | None = None


class RequestInformation(Command):
    requested_by: Requester
    questions: Text


class ProvideInformation(Command):
    response: Text


class RecordReview(Command):
    step: ShortText
    outcome: ShortText
    member: Member | None = None
    note: Text | None = None


class Decide(Command):
    """`POST .../decision`: approve or refuse the open procedure."""

    outcome: Literal["approved", "refused"]
    validity_months: Annotated[int, Field(ge=1, le=36)] | None = None
    valid_from: IsoDate | None = None
    valid_until: IsoDate | None = None
    letter_ref: ShortText | None = None
    items: Items | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _fields_fit_the_outcome(self) -> Self:
        approval_only = ("validity_months", "valid_from", "valid_until", "letter_ref", "items")
        if self.outcome == "refused":
            given = [name for name in approval_only if getattr(self, name) is not None]
            if given:
                raise ValueError(f"a refusal takes no {', '.join(given)}")
        elif self.reason is not None:
            raise ValueError("an approval takes no reason")
        return self


class RequestExtension(Command):
    requested_until: IsoDate
    reason: Text


class RequestAmendment(Command):
    items: Items
    reason: Text


class Withdraw(Command):
    reason: Text | None = None


class RecordShipment(Command):
    shipment_no: Annotated[int, Field(ge=1, le=20)]
    shipped_on: IsoDate
    note: Text | None = None


class Annotate(Command):
    target_position: Position
    text: Text


class Retract(Command):
    target_position: Position
    reason: Text


class ReleaseAll(Command):
    """`POST /v1/members/{member}/release-all`."""

    note: Text | None = None


class SeatMember(Command):
    member: Member
    term_start: IsoDate
    term_end: IsoDate | None = None

    @model_validator(mode="after")
    def _term_in_order(self) -> Self:
        if self.term_end is not None and self.term_end < self.term_start:
            raise ValueError("term_end is before term_start")
        return self


class DepartMember(Command):
    """`POST /v1/committee/members/{member}/depart`: `on` is the first day off the seat."""

    on: IsoDate
