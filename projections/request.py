"""One request's state, folded from its stream (pure): shared by the rules, time travel
and the `request_state` projection.

`evolve` is O(1) in the length of the stream for every event but a retraction. A
retraction makes the stream fold as if its target had never happened, which only a
re-fold can do: `fold` pre-scans for retractions and skips their targets, and `evolve`
given a retraction re-folds from the `history` it is handed, or raises `RefoldRequired`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, tzinfo
from operator import attrgetter
from typing import Any, Literal, Protocol, TypeVar, get_args

from events.model import utc_text

__all__ = [
    "PENDING_STATUSES",
    "STATUSES",
    "Annotation",
    "EventLike",
    "Hold",
    "InformationRequest",
    "Procedure",
    "RefoldRequired",
    "RequestState",
    "Review",
    "Shipment",
    "Status",
    "derived_status",
    "evolve",
    "fold",
    "status",
    "view",
]

Status = Literal[
    "submitted",
    "under_review",
    "on_hold",
    "awaiting_decision",
    "active",
    "expired",
    "refused",
    "withdrawn",
]

#: Every derived status (SPEC §3), in the order of the procedure.
STATUSES: tuple[Status, ...] = get_args(Status)
#: Derived statuses of a request still waiting for its initial decision.
PENDING_STATUSES: frozenset[Status] = frozenset(
    {"submitted", "under_review", "on_hold", "awaiting_decision"}
)


class EventLike(Protocol):
    """What a fold needs of a recorded event (`events.model.RecordedEvent` has it)."""

    @property
    def position(self) -> int: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


class RefoldRequired(Exception):
    """`evolve` met a retraction without the stream's history: fold the stream again."""

    def __init__(self, target_position: int) -> None:
        super().__init__(f"retraction of position {target_position} needs a re-fold")
        self.target_position = target_position


#: `utc_text` of times already formatted: a view formats the same few times again and
#: again (a rebuild writes a request's document once per batch). `utc_text` depends on
#: the instant only, and equal aware datetimes are the same instant, so equal keys give
#: equal texts. Cleared when full.
_TEXTS: dict[datetime, str] = {}
_TEXTS_MAX = 1 << 17


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = _TEXTS.get(moment)
    if text is None:
        if moment.tzinfo is UTC and moment.year >= 1000:
            # `utc_text` without strftime (half its cost); strftime writes years before
            # 1000 unpadded, so those take `utc_text` itself
            text = moment.isoformat(timespec="microseconds")[:-6] + "Z"
        else:
            text = utc_text(moment)
        if len(_TEXTS) >= _TEXTS_MAX:
            _TEXTS.clear()
        _TEXTS[moment] = text
    return text


_T = TypeVar("_T")
_SPECS: dict[type[Any], tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]]] = {}


def _replace(obj: _T, **changes: Any) -> _T:
    """`dataclasses.replace` for the small frozen records of a state, without its
    per-call field walk: the values are read by one `attrgetter` and passed positionally
    (every field of these records is an `__init__` parameter)."""
    cls = type(obj)
    spec = _SPECS.get(cls)
    if spec is None:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        spec = _SPECS[cls] = (attrgetter(*names), {name: i for i, name in enumerate(names)})
    getter, index = spec
    values = list(getter(obj))
    for name, value in changes.items():
        values[index[name]] = value
    return cls(*values)


def _day(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass(frozen=True, slots=True)
class Procedure:
    """`initial`, `extension-<n>` or `amendment-<n>`, from opening to decision."""

    name: str
    opened_at: datetime
    circulated_at: datetime | None = None
    deadline: datetime | None = None
    expedited: bool = False
    decided_at: datetime | None = None
    outcome: Literal["approved", "refused", "withdrawn"] | None = None
    requested_until: date | None = None
    granted_until: date | None = None
    items: tuple[dict[str, Any], ...] = ()
    reason: str | None = None

    @property
    def kind(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def is_open(self) -> bool:
        return self.outcome is None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "opened_at": _time(self.opened_at),
            "circulated_at": _time(self.circulated_at),
            "deadline": _time(self.deadline),
            "expedited": self.expedited,
            "decided_at": _time(self.decided_at),
            "outcome": self.outcome,
        }
        if self.kind == "extension":
            body["requested_until"] = _day(self.requested_until)
            body["granted_until"] = _day(self.granted_until)
        if self.kind == "amendment":
            body["items"] = list(self.items)
        if self.kind != "initial":
            body["reason"] = self.reason
        return body


@dataclass(frozen=True, slots=True)
class Hold:
    """A member's hold on one procedure, and how it ended."""

    member: str
    procedure: str
    placed_at: datetime
    position: int
    reason: str | None = None
    note: str | None = None
    ended_at: datetime | None = None
    # released by the member, lapsed on departure, or closed with its procedure
    ended_by: Literal["released", "lapsed", "closed"] | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "procedure": self.procedure,
            "placed_at": _time(self.placed_at),
            "reason": self.reason,
            "note": self.note,
            "ended_at": _time(self.ended_at),
            "ended_by": self.ended_by,
        }


@dataclass(frozen=True, slots=True)
class InformationRequest:
    """Questions put to the applicant, and the answer."""

    procedure: str
    requested_by: str
    questions: str
    requested_at: datetime
    position: int
    answered_at: datetime | None = None
    response: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "requested_by": self.requested_by,
            "questions": self.questions,
            "requested_at": _time(self.requested_at),
            "answered_at": _time(self.answered_at),
            "response": self.response,
        }


@dataclass(frozen=True, slots=True)
class Review:
    """A review step recorded on a procedure."""

    procedure: str
    step: str
    outcome: str
    recorded_at: datetime
    member: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "step": self.step,
            "outcome": self.outcome,
            "member": self.member,
            "note": self.note,
            "recorded_at": _time(self.recorded_at),
        }


@dataclass(frozen=True, slots=True)
class Shipment:
    shipment_no: int
    shipped_on: date
    recorded_at: datetime
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipment_no": self.shipment_no,
            "shipped_on": self.shipped_on.isoformat(),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Annotation:
    position: int
    target_position: int
    text: str
    annotated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "target_position": self.target_position,
            "text": self.text,
            "annotated_at": _time(self.annotated_at),
        }


@dataclass(frozen=True)
class RequestState:
    """A request as its stream says it is. Immutable; `evolve` returns a new one.

    Not slotted on purpose: a copy is one `__dict__` update, the cheapest copy CPython
    has, which keeps a rebuild well above 100,000 events a second. Holds and questions
    are kept as a small "open" tuple and an append-only "closed" tuple, so that an
    event never walks the whole history.
    """

    request_id: str
    stream_version: int
    position: int
    last_occurred_at: datetime
    submitted_at: datetime
    applicant: dict[str, Any]
    channel: str
    sponsor: str | None
    title: str
    purpose: str
    beneficiaries: str
    items: tuple[dict[str, Any], ...]
    urgent: bool
    requested_validity_months: int
    justification: str | None
    disclosure: str
    procedures: tuple[Procedure, ...]
    open_procedure: str | None = None
    active_holds: tuple[Hold, ...] = ()
    ended_holds: tuple[Hold, ...] = ()
    open_questions: tuple[InformationRequest, ...] = ()
    answered_questions: tuple[InformationRequest, ...] = ()
    reviews: tuple[Review, ...] = ()
    approved_at: datetime | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    shipments_allowed: int | None = None
    letter_ref: str | None = None
    shipments: tuple[Shipment, ...] = ()
    withdrawn_at: datetime | None = None
    refused_at: datetime | None = None
    annotations: tuple[Annotation, ...] = ()
    retracted: tuple[int, ...] = ()

    @property
    def current_procedure(self) -> Procedure:
        """The open procedure, or the last one when none is open."""
        return self.procedures[-1]

    @property
    def deadline(self) -> datetime | None:
        """The deadline of the open procedure, or of the last one."""
        return self.procedures[-1].deadline

    @property
    def holds(self) -> tuple[Hold, ...]:
        """Every hold ever placed, in the order placed."""
        return tuple(sorted((*self.ended_holds, *self.active_holds), key=_placed))

    def active_hold_by(self, member: str) -> Hold | None:
        for hold in self.active_holds:
            if hold.member == member:
                return hold
        return None

    @property
    def information_requests(self) -> tuple[InformationRequest, ...]:
        """Every information request, in the order asked."""
        return tuple(sorted((*self.answered_questions, *self.open_questions), key=_asked))

    @property
    def unanswered(self) -> tuple[InformationRequest, ...]:
        """Unanswered information requests of the open procedure."""
        return tuple(
            asked for asked in self.open_questions if asked.procedure == self.open_procedure
        )

    @property
    def information_pending(self) -> bool:
        return bool(self.unanswered)

    @property
    def extensions(self) -> tuple[Procedure, ...]:
        return tuple(p for p in self.procedures if p.kind == "extension")

    @property
    def amendments(self) -> tuple[Procedure, ...]:
        return tuple(p for p in self.procedures if p.kind == "amendment")

    @property
    def decided_at(self) -> datetime | None:
        """When the initial procedure was decided (approved, refused or withdrawn)."""
        return self.procedures[0].decided_at

    @property
    def finally_decided(self) -> bool:
        """Approved, refused or withdrawn: the initial procedure is closed."""
        return self.procedures[0].outcome is not None

    def status(self, at: datetime, tz: tzinfo = UTC) -> Status:
        return status(self, at, tz)


def _placed(hold: Hold) -> int:
    return hold.position


def _asked(asked: InformationRequest) -> int:
    return asked.position


def derived_status(
    *,
    withdrawn_at: datetime | None,
    refused_at: datetime | None,
    approved_at: datetime | None,
    valid_until: date | None,
    circulated_at: datetime | None,
    deadline: datetime | None,
    holds: int,
    at: datetime,
    tz: tzinfo = UTC,
) -> Status:
    """The derived status of SPEC §3 as of `at`, from the facts it depends on: the one
    rule, for a folded state (`status`) and a `request_state` row
    (`projections.tables.status_at`; `status_is` is its SQL form, tested against it).
    `holds` is the number of active holds. Validity dates are read in `tz` (the
    committee's zone): an exemption is active through the whole of `valid_until`, and
    one approved with a later `valid_from` is `active` (approved, not expired)."""
    if withdrawn_at is not None:
        return "withdrawn"
    if refused_at is not None:
        return "refused"
    if approved_at is not None and valid_until is not None:
        return "expired" if at.astimezone(tz).date() > valid_until else "active"
    if circulated_at is None or deadline is None:
        return "submitted"
    if holds:
        return "on_hold"
    if at > deadline:
        return "awaiting_decision"
    return "under_review"


def status(state: RequestState, at: datetime, tz: tzinfo = UTC) -> Status:
    """The derived status of a request state as of `at` (`derived_status`), circulation
    and deadline those of the initial procedure."""
    initial = state.procedures[0]
    return derived_status(
        withdrawn_at=state.withdrawn_at,
        refused_at=state.refused_at,
        approved_at=state.approved_at,
        valid_until=state.valid_until,
        circulated_at=initial.circulated_at,
        deadline=initial.deadline,
        holds=len(state.active_holds),
        at=at,
        tz=tz,
    )


def view(state: RequestState, at: datetime, tz: tzinfo = UTC) -> dict[str, Any]:
    """The JSON of `GET /v1/requests/{id}` (SPEC §6), status as of `at`. Unredacted."""
    return {
        "request_id": state.request_id,
        "status": status(state, at, tz),
        "applicant": dict(state.applicant),
        "channel": state.channel,
        "sponsor": state.sponsor,
        "title": state.title,
        "purpose": state.purpose,
        "beneficiaries": state.beneficiaries,
        "items": list(state.items),
        "urgent": state.urgent,
        "requested_validity_months": state.requested_validity_months,
        "justification": state.justification,
        "disclosure": state.disclosure,
        "submitted_at": _time(state.submitted_at),
        "open_procedure": state.open_procedure,
        "information_pending": state.information_pending,
        "deadline": _time(state.deadline),
        "active_holds": [
            {"member": hold.member, "placed_at": _time(hold.placed_at)}
            for hold in state.active_holds
        ],
        "holds": [hold.to_dict() for hold in state.holds],
        "information_requests": [asked.to_dict() for asked in state.information_requests],
        "reviews": [review.to_dict() for review in state.reviews],
        "procedures": [procedure.to_dict() for procedure in state.procedures],
        "approved_at": _time(state.approved_at),
        "valid_from": _day(state.valid_from),
        "valid_until": _day(state.valid_until),
        "letter_ref": state.letter_ref,
        "shipments_allowed": state.shipments_allowed,
        "shipments": [shipment.to_dict() for shipment in state.shipments],
        "extensions": [p.to_dict() for p in state.extensions],
        "amendments": [p.to_dict() for p in state.amendments],
        "decided_at": _time(state.decided_at),
        "refused_at": _time(state.refused_at),
        "withdrawn_at": _time(state.withdrawn_at),
        "annotations": [note.to_dict() for note in state.annotations],
        "retracted_positions": list(state.retracted),
        "stream_version": state.stream_version,
        "position": state.position,
    }


# --- evolve ---------------------------------------------------------------------------


def _submitted(event: EventLike) -> RequestState:
    data = event.data
    at = event.occurred_at
    return RequestState(
        request_id=data["request_id"],
        stream_version=event.stream_version,
        position=event.position,
        last_occurred_at=at,
        submitted_at=at,
        applicant=data["applicant"],
        channel=data["channel"],
        sponsor=data.get("sponsor"),
        title=data["title"],
        purpose=data["purpose"],
        beneficiaries=data["beneficiaries"],
        items=tuple(data["items"]),
        urgent=data.get("urgent", False),
        requested_validity_months=data.get("requested_validity_months", 6),
        justification=data.get("justification"),
        disclosure=data.get("disclosure", "confidential"),
        procedures=(Procedure(name="initial", opened_at=at),),
        open_procedure="initial",
    )


def _with_procedure(state: RequestState, name: str, **changes: Any) -> tuple[Procedure, ...]:
    """The procedures with `name` (normally the last) changed."""
    return tuple(_replace(p, **changes) if p.name == name else p for p in state.procedures)


def _procedure(state: RequestState, data: dict[str, Any]) -> str:
    name: str | None = data.get("procedure")
    return name or state.open_procedure or state.procedures[-1].name


_Changes = dict[str, Any]


def _close(
    state: RequestState, name: str, outcome: str, at: datetime, **procedure_changes: Any
) -> _Changes:
    """Changes that close procedure `name`: its remaining holds close with it."""
    changes: _Changes = {
        "procedures": _with_procedure(
            state, name, decided_at=at, outcome=outcome, **procedure_changes
        ),
        "open_procedure": None if state.open_procedure == name else state.open_procedure,
    }
    if state.active_holds:
        closing = [h for h in state.active_holds if h.procedure == name]
        if closing:
            changes["active_holds"] = tuple(h for h in state.active_holds if h.procedure != name)
            changes["ended_holds"] = (
                *state.ended_holds,
                *(_replace(h, ended_at=at, ended_by="closed") for h in closing),
            )
    return changes


def _end_hold(
    state: RequestState, member: str, at: datetime, how: Literal["released", "lapsed"]
) -> _Changes:
    hold = state.active_hold_by(member)
    if hold is None:
        return {}
    return {
        "active_holds": tuple(h for h in state.active_holds if h is not hold),
        "ended_holds": (*state.ended_holds, _replace(hold, ended_at=at, ended_by=how)),
    }


def _circulated(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    procedures = _with_procedure(
        state,
        _procedure(state, data),
        circulated_at=event.occurred_at,
        deadline=_parse_time(data["deadline"]),
        expedited=data.get("expedited", False),
    )
    return {"procedures": procedures}


def _hold_placed(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    hold = Hold(
        member=data["member"],
        procedure=_procedure(state, data),
        placed_at=event.occurred_at,
        position=event.position,
        reason=data.get("reason"),
        note=data.get("note"),
    )
    return {"active_holds": (*state.active_holds, hold)}


def _hold_released(state: RequestState, event: EventLike) -> _Changes:
    return _end_hold(state, event.data["member"], event.occurred_at, "released")


def _hold_lapsed(state: RequestState, event: EventLike) -> _Changes:
    return _end_hold(state, event.data["member"], event.occurred_at, "lapsed")


def _information_requested(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    asked = InformationRequest(
        procedure=_procedure(state, data),
        requested_by=data["requested_by"],
        questions=data["questions"],
        requested_at=event.occurred_at,
        position=event.position,
    )
    return {"open_questions": (*state.open_questions, asked)}


def _information_provided(state: RequestState, event: EventLike) -> _Changes:
    # One response answers every question still open on the procedure.
    procedure = _procedure(state, event.data)
    answering = [q for q in state.open_questions if q.procedure == procedure]
    if not answering:
        return {}
    response = event.data["response"]
    return {
        "open_questions": tuple(q for q in state.open_questions if q.procedure != procedure),
        "answered_questions": (
            *state.answered_questions,
            *(_replace(q, answered_at=event.occurred_at, response=response) for q in answering),
        ),
    }


def _review(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    review = Review(
        procedure=_procedure(state, data),
        step=data["step"],
        outcome=data["outcome"],
        recorded_at=event.occurred_at,
        member=data.get("member"),
        note=data.get("note"),
    )
    return {"reviews": (*state.reviews, review)}


def _approved(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    return {
        **_close(state, _procedure(state, data), "approved", event.occurred_at),
        "approved_at": event.occurred_at,
        "valid_from": date.fromisoformat(data["valid_from"]),
        "valid_until": date.fromisoformat(data["valid_until"]),
        "letter_ref": data["letter_ref"],
        "shipments_allowed": data["shipments_allowed"],
    }


def _refused(state: RequestState, event: EventLike) -> _Changes:
    at = event.occurred_at
    return {**_close(state, _procedure(state, event.data), "refused", at), "refused_at": at}


def _change_requested(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    name = _procedure(state, data)
    requested = data.get("requested_until")
    opened = Procedure(
        name=name,
        opened_at=event.occurred_at,
        requested_until=None if requested is None else date.fromisoformat(requested),
        items=tuple(data.get("items", ())),
        reason=data.get("reason"),
    )
    return {"procedures": (*state.procedures, opened), "open_procedure": name}


def _extension_granted(state: RequestState, event: EventLike) -> _Changes:
    until = date.fromisoformat(event.data["valid_until"])
    name = _procedure(state, event.data)
    closed = _close(state, name, "approved", event.occurred_at, granted_until=until)
    return {**closed, "valid_until": until}


def _amendment_approved(state: RequestState, event: EventLike) -> _Changes:
    closed = _close(state, _procedure(state, event.data), "approved", event.occurred_at)
    return {**closed, "items": tuple(event.data["items"])}


def _change_refused(state: RequestState, event: EventLike) -> _Changes:
    return _close(state, _procedure(state, event.data), "refused", event.occurred_at)


def _withdrawn(state: RequestState, event: EventLike) -> _Changes:
    name = _procedure(state, event.data)
    closed = _close(state, name, "withdrawn", event.occurred_at)
    if name == "initial":
        closed["withdrawn_at"] = event.occurred_at
    return closed


def _shipment(state: RequestState, event: EventLike) -> _Changes:
    data = event.data
    shipment = Shipment(
        shipment_no=data["shipment_no"],
        shipped_on=date.fromisoformat(data["shipped_on"]),
        recorded_at=event.occurred_at,
        note=data.get("note"),
    )
    return {"shipments": (*state.shipments, shipment)}


def _annotated(state: RequestState, event: EventLike) -> _Changes:
    note = Annotation(
        position=event.position,
        target_position=event.data["target_position"],
        text=event.data["text"],
        annotated_at=event.occurred_at,
    )
    return {"annotations": (*state.annotations, note)}


def _retracted(state: RequestState, event: EventLike) -> _Changes:
    # Only reached from `fold`, which has already skipped the target.
    return {"retracted": (*state.retracted, event.data["target_position"])}


_HANDLERS: dict[str, Any] = {
    "RequestCirculated": _circulated,
    "HoldPlaced": _hold_placed,
    "HoldReleased": _hold_released,
    "HoldLapsed": _hold_lapsed,
    "InformationRequested": _information_requested,
    "InformationProvided": _information_provided,
    "ReviewStepRecorded": _review,
    "ExemptionApproved": _approved,
    "ExemptionRefused": _refused,
    "ExtensionRequested": _change_requested,
    "AmendmentRequested": _change_requested,
    "ExtensionGranted": _extension_granted,
    "AmendmentApproved": _amendment_approved,
    "ExtensionRefused": _change_refused,
    "AmendmentRefused": _change_refused,
    "RequestWithdrawn": _withdrawn,
    "ShipmentRecorded": _shipment,
    "EntryAnnotated": _annotated,
    "EventRetracted": _retracted,
}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _apply(state: RequestState | None, event: EventLike) -> RequestState:
    if event.event_type == "RequestSubmitted":
        if state is not None:
            raise ValueError(f"a second RequestSubmitted at position {event.position}")
        return _submitted(event)
    if state is None:
        raise ValueError(f"{event.event_type} at position {event.position} before submission")
    handler = _HANDLERS.get(event.event_type)
    # The cheapest copy of a frozen dataclass: a new object sharing nothing but values,
    # its `__dict__` a copy of the old one's (half the cost of updating a fresh one).
    fields = state.__dict__.copy()
    if handler is not None:  # an event type this version does not know changes nothing
        fields.update(handler(state, event))
    fields["stream_version"] = event.stream_version
    fields["position"] = event.position
    fields["last_occurred_at"] = event.occurred_at
    new = object.__new__(RequestState)
    object.__setattr__(new, "__dict__", fields)
    return new


def evolve(
    state: RequestState | None,
    event: EventLike,
    history: Sequence[EventLike] | None = None,
) -> RequestState:
    """The state after `event`. A retraction re-folds `history` (the stream's events
    before `event`); without it, `RefoldRequired` is raised."""
    if event.event_type == "EventRetracted":
        if history is None:
            raise RefoldRequired(event.data["target_position"])
        folded = fold([*history, event])
        assert folded is not None  # the history holds at least the submission
        return folded
    return _apply(state, event)


def fold(
    events: Iterable[EventLike],
    *,
    as_of: datetime | None = None,
    at_position: int | None = None,
) -> RequestState | None:
    """The state from a request's stream in version order: what was true at `as_of`
    (events with `occurred_at <= as_of`), as the log held it at `at_position`.
    None if no event qualifies."""
    chosen = [
        event
        for event in events
        if (at_position is None or event.position <= at_position)
        and (as_of is None or event.occurred_at <= as_of)
    ]
    retracted = {
        event.data["target_position"] for event in chosen if event.event_type == "EventRetracted"
    }
    state: RequestState | None = None
    for event in chosen:
        if retracted and event.position in retracted:
            continue
        state = _apply(state, event)
    return state
