"""Every event type of the exemption procedure (SPEC §3): data models, versions, registry.

The models validate what goes into the log; projections read the stored `data` dicts
directly (they are trusted once written), so folding never pays for validation.
Dates are `YYYY-MM-DD` strings in the data, times RFC 3339 UTC with six fractional digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from events.iso3166 import ALPHA_3
from events.model import JSON, utc_text

COMMITTEE_STREAM = "committee"
REQUEST_STREAM_PREFIX = "request-"
#: The stream of `ErasureRecorded` events (SPEC §3, §4 "Erasure").
ERASURE_STREAM = "erasures"
ERASURE_EVENT = "ErasureRecorded"
#: How many events one erasure may name (a request's stream, a retention sweep's page).
MAX_ERASED_POSITIONS = 10_000

REQUEST_ID_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}$"
PROCEDURE_PATTERN = r"^(initial|extension-[1-9][0-9]{0,3}|amendment-[1-9][0-9]{0,3})$"


def request_stream(request_id: str) -> str:
    """The stream of one request: `request-<request_id>`."""
    return REQUEST_STREAM_PREFIX + request_id


# --- field types -------------------------------------------------------------------

# C0 controls other than tab/newline/return, and lone surrogates, have no business in a
# letter or a note and break some JSON consumers downstream. Bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069) make text display other than it
# reads ("Trojan Source", CVE-2021-42574): not in an audit log shown to the public. The
# marks U+200E/U+200F, which right-to-left text may need, stay allowed.
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _clean_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if _BAD_CHARS.search(value):
        raise ValueError("must not contain control characters, bidi overrides or lone surrogates")
    return value


def _member_code(value: str) -> str:
    if value not in ALPHA_3:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 code")
    return value


def _iso_date(value: Any) -> Any:
    # Lax pydantic would take integers and datetimes as dates; the wire takes ISO text.
    if isinstance(value, datetime):
        raise ValueError("expected a date YYYY-MM-DD, not a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("expected a date YYYY-MM-DD")


def _aware_time(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as error:
            raise ValueError("expected an RFC 3339 time") from error
    else:
        raise ValueError("expected an RFC 3339 time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time must carry a zone (Z or an offset)")
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:  # near year 1 or 9999 with an offset: no UTC value
        raise ValueError("time out of range once converted to UTC") from error


def _date_text(value: date) -> str:
    return value.isoformat()


_checked = AfterValidator(_clean_text)
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000), _checked]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500), _checked]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300), _checked]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=50), _checked]
Member = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_member_code)]
Procedure = Annotated[str, StringConstraints(pattern=PROCEDURE_PATTERN)]
RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
IsoDate = Annotated[date, BeforeValidator(_iso_date), PlainSerializer(_date_text, return_type=str)]
UtcTime = Annotated[
    datetime, BeforeValidator(_aware_time), PlainSerializer(utc_text, return_type=str)
]
Position = Annotated[int, Field(ge=1, le=2**53 - 1)]
Money = Annotated[float | int, Field(ge=0, le=1e15, allow_inf_nan=False)]
Quantity = Annotated[float | int, Field(gt=0, le=1e15, allow_inf_nan=False)]
ValidityMonths = Literal[6, 9]

ApplicantKind = Literal["ngo", "un_agency", "international_org", "member_state", "red_cross"]
Channel = Literal["member_state", "resident_coordinator", "committee_secretary", "direct"]
Disclosure = Literal["confidential", "public"]

MAX_ITEMS = 500


class Data(BaseModel):
    """Base of event data and command bodies: closed, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_data(self) -> JSON:
        """The JSON the log stores; absent optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Applicant(Data):
    name: Name
    kind: ApplicantKind


class Item(Data):
    description: Text
    hs_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}(\.?[0-9]{2}){0,3}$")] | None = (
        None
    )
    quantity: Quantity
    unit: Unit
    value_usd: Money


Items = Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]


# --- committee ---------------------------------------------------------------------


class MemberSeated(Data):
    member: Member
    term_start: IsoDate
    term_end: IsoDate | None = None

    @model_validator(mode="after")
    def _term_in_order(self) -> Self:
        if self.term_end is not None and self.term_end < self.term_start:
            raise ValueError("term_end is before term_start")
        return self

    def to_data(self) -> JSON:
        # A permanent member's term_end is an explicit null, as the SPEC writes it.
        return self.model_dump(mode="json")


class MemberDeparted(Data):
    member: Member
    on: IsoDate


# --- a request -----------------------------------------------------------------------


class Submission(Data):
    """What an applicant submits (SPEC §3 `RequestSubmitted` without the id)."""

    applicant: Applicant
    channel: Channel
    sponsor: Member | None = None
    title: ShortText
    purpose: Text
    beneficiaries: Text
    items: Items
    urgent: bool = False
    requested_validity_months: ValidityMonths = 6
    justification: Text | None = None
    disclosure: Disclosure = "confidential"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.requested_validity_months == 9 and self.justification is None:
            raise ValueError("a justification is required for 9 months of validity")
        if (self.channel == "member_state") != (self.sponsor is not None):
            raise ValueError("sponsor is required when, and only when, channel is member_state")
        return self


class RequestSubmitted(Submission):
    request_id: RequestId


class RequestCirculated(Data):
    procedure: Procedure
    deadline: UtcTime
    expedited: bool


class HoldPlaced(Data):
    procedure: Procedure
    member: Member
    reason: Text | None = None
    note: Text | None = None


class HoldReleased(Data):
    procedure: Procedure
    member: Member
    note: Text | None = None


class HoldLapsed(Data):
    procedure: Procedure
    member: Member
    cause: Literal["member_departed"]


Requester = Member | Literal["committee"]


class InformationRequested(Data):
    procedure: Procedure
    requested_by: Requester
    questions: Text


class InformationProvided(Data):
    procedure: Procedure
    response: Text


class ReviewStepRecorded(Data):
    procedure: Procedure
    step: ShortText
    outcome: ShortText
    member: Member | None = None
    note: Text | None = None


class ExemptionApproved(Data):
    procedure: Procedure
    valid_from: IsoDate
    valid_until: IsoDate
    letter_ref: ShortText
    shipments_allowed: Annotated[int, Field(ge=1, le=20)]


class ExemptionRefused(Data):
    procedure: Procedure
    reason: Text | None = None


class ExtensionRequested(Data):
    procedure: Procedure
    requested_until: IsoDate
    reason: Text


class ExtensionGranted(Data):
    procedure: Procedure
    valid_until: IsoDate


class ExtensionRefused(Data):
    procedure: Procedure
    reason: Text | None = None


class AmendmentRequested(Data):
    procedure: Procedure
    items: Items
    reason: Text


class AmendmentApproved(Data):
    procedure: Procedure
    items: Items


class AmendmentRefused(Data):
    procedure: Procedure
    reason: Text | None = None


class RequestWithdrawn(Data):
    procedure: Procedure | None = None
    reason: Text | None = None


class ShipmentRecorded(Data):
    shipment_no: Annotated[int, Field(ge=1, le=20)]
    shipped_on: IsoDate
    note: Text | None = None


class EntryAnnotated(Data):
    target_position: Position
    text: Text


class EventRetracted(Data):
    target_position: Position
    reason: Text


class ErasureRecorded(Data):
    """The sealed values of `positions` erased (SPEC §4): clear but for `reason`."""

    positions: Annotated[list[Position], Field(min_length=1, max_length=MAX_ERASED_POSITIONS)]
    reason: Text
    decided_by: ShortText

    @model_validator(mode="after")
    def _distinct(self) -> ErasureRecorded:
        if len(set(self.positions)) != len(self.positions):
            raise ValueError("a position is named twice")
        return self


#: event type -> (data model, current schema version)
EVENT_TYPES: dict[str, tuple[type[Data], int]] = {
    model.__name__: (model, 1)
    for model in (
        MemberSeated,
        MemberDeparted,
        RequestSubmitted,
        RequestCirculated,
        HoldPlaced,
        HoldReleased,
        HoldLapsed,
        InformationRequested,
        InformationProvided,
        ReviewStepRecorded,
        ExemptionApproved,
        ExemptionRefused,
        ExtensionRequested,
        ExtensionGranted,
        ExtensionRefused,
        AmendmentRequested,
        AmendmentApproved,
        AmendmentRefused,
        RequestWithdrawn,
        ShipmentRecorded,
        EntryAnnotated,
        EventRetracted,
        ErasureRecorded,
    )
}

COMMITTEE_EVENT_TYPES = frozenset({"MemberSeated", "MemberDeparted"})


def validate_data(event_type: str, data: JSON) -> JSON:
    """Check `data` against its event type's model; the normalised JSON back."""
    model, _version = EVENT_TYPES[event_type]
    return model.model_validate(data).to_data()


@dataclass(frozen=True, slots=True)
class Change:
    """An event a decide function wants appended; the shell adds ids and metadata."""

    stream_id: str
    event_type: str
    data: JSON
    occurred_at: datetime

    @property
    def schema_version(self) -> int:
        return EVENT_TYPES[self.event_type][1]
