"""`evolve` and `fold`: a request's state from its stream (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import MISSING
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from projections.request.state import (
    Annotation,
    EventLike,
    Hold,
    InformationRequest,
    Procedure,
    RefoldRequired,
    RequestState,
    Review,
    Shipment,
    _replace,
)

#: Every field of a state in order, those with a default set to it (the others to None
#: until `_submitted` sets them): the `__dict__` a new state starts from.
_NEW_STATE: dict[str, Any] = {
    f.name: None if f.default is MISSING else f.default for f in dataclass_fields(RequestState)
}
# a `default_factory` would be skipped by that `__dict__` (the field left None): refuse it
if any(f.default_factory is not MISSING for f in dataclass_fields(RequestState)):
    raise TypeError("RequestState's fields take plain defaults (see _NEW_STATE)")


def _submitted(event: EventLike) -> RequestState:
    data = event.data
    at = event.occurred_at
    # `RequestState(...)` without the frozen `__init__`'s one `object.__setattr__` per
    # field (a third of the cost): its `__dict__` set whole, as `_apply` does
    fields = _NEW_STATE.copy()
    fields.update(
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
    new = object.__new__(RequestState)
    object.__setattr__(new, "__dict__", fields)
    return new


def _with_procedure(state: RequestState, name: str, **changes: Any) -> tuple[Procedure, ...]:
    """The procedures with `name` (normally the last) changed."""
    procedures = state.procedures
    if len(procedures) == 1:  # the initial procedure alone, as most requests have
        only = procedures[0]
        return (_replace(only, **changes),) if only.name == name else procedures
    return tuple(_replace(p, **changes) if p.name == name else p for p in procedures)


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
    state: RequestState, event: EventLike, how: Literal["released", "lapsed"]
) -> _Changes:
    """The member's active holds on the event's procedure end (as `holds.evolve` ends
    them: a member holds once at a time, `one-active-hold-per-member`, but a log from
    elsewhere may hold twice, or name another procedure, and both folds agree then)."""
    member, procedure = event.data["member"], _procedure(state, event.data)
    active = state.active_holds
    kept = tuple(h for h in active if h.member != member or h.procedure != procedure)
    if len(kept) == len(active):
        return {}
    at = event.occurred_at
    ending = (h for h in active if h.member == member and h.procedure == procedure)
    ended = (_replace(h, ended_at=at, ended_by=how) for h in ending)
    return {"active_holds": kept, "ended_holds": (*state.ended_holds, *ended)}


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
    return _end_hold(state, event, "released")


def _hold_lapsed(state: RequestState, event: EventLike) -> _Changes:
    return _end_hold(state, event, "lapsed")


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
    # Only reached for a stream rid of the target already (`known`).
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


_E = TypeVar("_E", bound=EventLike)


def known(events: Iterable[_E], at_position: int | None = None) -> list[_E]:
    """The events of one stream that the log holds as true at `at_position` (None: the
    head), in order: those with `position <= at_position`, less the targets of the
    retractions among them (SPEC §3, §5). A retraction takes its target back at every
    business time, also before its own `occurred_at`; at a position before the
    retraction the target is known."""
    chosen = [e for e in events if at_position is None or e.position <= at_position]
    retracted: set[int] = set()
    # a retraction itself taken back (which the rules refuse) takes nothing back;
    # targets precede their retraction, so one pass from the end settles it
    for event in reversed(chosen):
        if event.event_type == "EventRetracted" and event.position not in retracted:
            retracted.add(event.data["target_position"])
    if not retracted:
        return chosen
    return [e for e in chosen if e.position not in retracted]


def evolve_known(state: RequestState | None, event: EventLike) -> RequestState:
    """`evolve` for a stream already rid of what its retractions took back (`known`): a
    retraction then only records its target."""
    return _apply(state, event)


def fold(
    events: Iterable[EventLike],
    *,
    as_of: datetime | None = None,
    at_position: int | None = None,
) -> RequestState | None:
    """The state from a request's stream in version order, bitemporally (SPEC §5): the
    events known at `at_position` (`known`: none past it, none a retraction up to it
    took back), of them those with `occurred_at <= as_of`. None if no event qualifies."""
    state: RequestState | None = None
    for event in known(events, at_position):
        if as_of is None or event.occurred_at <= as_of:
            state = _apply(state, event)
    return state
