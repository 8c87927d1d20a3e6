"""One request's state and its parts: immutable records (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, tzinfo
from operator import attrgetter
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import orjson

from events.model import utc_text
from projections.errors import ProjectionError
from projections.request.statuses import Status, StatusInputs, derived_status


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


class RefoldRequired(ProjectionError):
    """`evolve` met a retraction without the stream's history: fold the stream again."""

    def __init__(self, target_position: int) -> None:
        super().__init__(f"retraction of position {target_position} needs a re-fold")
        self.target_position = target_position


_dumps = orjson.dumps
_UTC_Z = orjson.OPT_UTC_Z


def _time(moment: datetime | None) -> str | None:
    """`utc_text(moment)`: a view formats every time of a request, and a rebuild every
    request, so a UTC time is formatted by orjson's C formatter (a quarter of
    `isoformat`'s cost), which leaves out a zero fraction the canonical form keeps."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        return utc_text(moment)
    text = _dumps(moment, option=_UTC_Z)  # b'"2026-02-05T15:04:05.123456Z"'
    return text[1:-1].decode() if len(text) == 29 else text[1:-2].decode() + ".000000Z"


#: How a view writes a time: `_time` (as text), or `native_time`.
TimeForm = Callable[[datetime | None], str | datetime | None]


def native_time(moment: datetime | None) -> str | datetime | None:
    """`moment` itself where orjson (`OPT_UTC_Z`) writes it as `_time` does (a UTC time
    with a fraction), else `_time(moment)`: a view made with it and dumped so
    (`request_state`'s documents) formats its times in one C call, not one per time."""
    if moment is not None and moment.microsecond and moment.tzinfo is UTC:
        return moment
    return _time(moment)


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

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "opened_at": time(self.opened_at),
            "circulated_at": time(self.circulated_at),
            "deadline": time(self.deadline),
            "expedited": self.expedited,
            "decided_at": time(self.decided_at),
            "outcome": self.outcome,
        }
        kind = self.kind
        if kind == "extension":
            body["requested_until"] = _day(self.requested_until)
            body["granted_until"] = _day(self.granted_until)
        if kind == "amendment":
            body["items"] = list(self.items)
        if kind != "initial":
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

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
        return {
            "member": self.member,
            "procedure": self.procedure,
            "placed_at": time(self.placed_at),
            "reason": self.reason,
            "note": self.note,
            "ended_at": time(self.ended_at),
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

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "requested_by": self.requested_by,
            "questions": self.questions,
            "requested_at": time(self.requested_at),
            "answered_at": time(self.answered_at),
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

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "step": self.step,
            "outcome": self.outcome,
            "member": self.member,
            "note": self.note,
            "recorded_at": time(self.recorded_at),
        }


@dataclass(frozen=True, slots=True)
class Shipment:
    shipment_no: int
    shipped_on: date
    recorded_at: datetime
    note: str | None = None

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
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

    def to_dict(self, time: TimeForm = _time) -> dict[str, Any]:
        return {
            "position": self.position,
            "target_position": self.target_position,
            "text": self.text,
            "annotated_at": time(self.annotated_at),
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
        """Whether `unanswered` has any (without making it)."""
        open_procedure = self.open_procedure
        return any(asked.procedure == open_procedure for asked in self.open_questions)

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


def status(state: RequestState, at: datetime, tz: tzinfo = UTC) -> Status:
    """The derived status of a request state as of `at` (`derived_status`), circulation
    and deadline those of the initial procedure."""
    return derived_status(status_inputs(state), at, tz)


def status_inputs(state: RequestState, *, holds: bool = True) -> StatusInputs:
    """What `status` reads of a state, read once (for several times of one state); with
    `holds=False`, as if no hold were active (the status a hold would turn `on_hold`)."""
    initial = state.procedures[0]
    return _Facts(
        state.withdrawn_at,
        state.refused_at,
        state.approved_at,
        state.valid_until,
        initial.circulated_at,
        initial.deadline,
        len(state.active_holds) if holds else 0,
    )


class _Facts(NamedTuple):
    """`StatusInputs` of a state: circulation and deadline of the initial procedure (a
    named tuple: one is made per status asked, and a frozen dataclass is slow to make)."""

    withdrawn_at: datetime | None
    refused_at: datetime | None
    approved_at: datetime | None
    valid_until: date | None
    circulated_at: datetime | None
    deadline: datetime | None
    active_holds: int
