"""The audit trail of a request: one entry per event, in the committee's words (pure).

Each entry says what happened in one line, who recorded it (the actor of the event's
metadata), whether it is confidential, and — once an effective `EventRetracted` names
it — the position of that retraction. The summary never quotes free text (reasons,
notes, questions, responses, justifications): those stay in the event itself.

Nothing stores the trail: `GET /v1/requests/{id}/history` reads the request's stream
(indexed by stream and version, sealed values and erasure markers as the store gives
them) and computes it here in one pass, the retraction in effect included (its target
is always in the same stream). SPEC §5's `request_history` is that answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Protocol

from events.model import JSON, RecordedEvent
from events.types import REQUEST_STREAM_PREFIX

#: Whether an entry of this type may ever be shown outside the committee. `None` means
#: "depends on the request's disclosure" (only the submission). Unknown types are
#: confidential: a new event type must be added here before it can become public.
#: Public entries still belong to a request whose own visibility the public layer
#: checks (a confidential request shows nothing before its approval).
CONFIDENTIAL_BY_TYPE: dict[str, bool | None] = {
    "RequestSubmitted": None,
    "RequestCirculated": False,
    "HoldPlaced": True,
    "HoldReleased": True,
    "HoldLapsed": True,
    "InformationRequested": True,
    "InformationProvided": True,
    "ReviewStepRecorded": True,
    "ExemptionApproved": False,
    "ExemptionRefused": False,
    "ExtensionRequested": False,
    "ExtensionGranted": False,
    "ExtensionRefused": False,
    "AmendmentRequested": False,
    "AmendmentApproved": False,
    "AmendmentRefused": False,
    "RequestWithdrawn": False,
    "ShipmentRecorded": False,
    "EntryAnnotated": True,
    "EventRetracted": True,
    "MemberSeated": False,
    "MemberDeparted": False,
}


class EventRow(Protocol):
    """What the projections read of an event (`RecordedEvent` has it; so does the
    runner's lighter event of a bulk-read row)."""

    @property
    def position(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> JSON: ...
    @property
    def metadata(self) -> JSON: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def recorded_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of a request's audit trail (SPEC §5's `request_history`, read from the
    request's stream: nothing stores it)."""

    position: int
    request_id: str
    stream_version: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: JSON | None
    summary: str
    confidential: bool
    retracted_by: int | None = None

    def row(self) -> dict[str, Any]:
        """The entry as a plain dict of column values."""
        return {
            "position": self.position,
            "request_id": self.request_id,
            "stream_version": self.stream_version,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "summary": self.summary,
            "confidential": self.confidential,
            "retracted_by": self.retracted_by,
        }


def request_id_of(stream_id: str) -> str | None:
    """The request a stream belongs to, or None for the committee stream."""
    if stream_id.startswith(REQUEST_STREAM_PREFIX):
        return stream_id[len(REQUEST_STREAM_PREFIX) :]
    return None


def is_confidential(event_type: str, data: JSON) -> bool:
    """Whether an entry of `event_type` with `data` must stay inside the committee."""
    rule = CONFIDENTIAL_BY_TYPE.get(event_type, True)
    if rule is None:
        return bool(data.get("disclosure", "confidential") != "public")
    return rule


def actor_of(metadata: JSON) -> JSON | None:
    """The actor `{id, name, role}` recorded with an event, if any; the marker
    `{"erased": true, "by": P}` if the event's metadata was erased (SPEC §4)."""
    if metadata.get("erased") is True:
        return dict(metadata)
    actor = metadata.get("actor")
    return actor if isinstance(actor, dict) else None


def _procedure(data: JSON) -> str:
    name = data.get("procedure") or "initial"
    return f"the {name} procedure"


def _day(value: Any) -> str:
    """A date (or the date part of a time) as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text[:10]


def _months_between(start: str, end: str) -> int | None:
    try:
        first, last = date.fromisoformat(_day(start)), date.fromisoformat(_day(end))
    except ValueError:
        return None
    months = (last.year - first.year) * 12 + (last.month - first.month)
    if last.day < first.day:
        months -= 1
    return months


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _items(data: JSON) -> str:
    items = data.get("items") or []
    total = sum(float(item.get("value_usd") or 0) for item in items)
    return f"{_plural(len(items), 'item')} worth USD {total:,.2f}"


_APPLICANT_KIND = {
    "ngo": "NGO",
    "un_agency": "UN agency",
    "international_org": "international organisation",
    "member_state": "member state",
    "red_cross": "Red Cross",
}


def summarize(event_type: str, data: JSON) -> str:
    """One line saying what the event records, without quoting any free text."""
    match event_type:
        case "RequestSubmitted":
            applicant = data.get("applicant") or {}
            kind = _APPLICANT_KIND.get(applicant.get("kind", ""), applicant.get("kind", ""))
            urgent = ", urgent" if data.get("urgent") else ""
            return (
                f"Submitted by {applicant.get('name', 'an applicant')} ({kind}{urgent}): "
                f"{data.get('title', '')}; {_items(data)}"
            )
        case "RequestCirculated":
            expedited = " (expedited)" if data.get("expedited") else ""
            return (
                f"Circulated for {_procedure(data)}{expedited}, "
                f"no-objection deadline {_day(data.get('deadline'))}"
            )
        case "HoldPlaced":
            return f"Hold placed by {data.get('member')} on {_procedure(data)}"
        case "HoldReleased":
            return f"Hold released by {data.get('member')} on {_procedure(data)}"
        case "HoldLapsed":
            cause = " (member left the committee)" if data.get("cause") else ""
            return f"Hold by {data.get('member')} lapsed on {_procedure(data)}{cause}"
        case "InformationRequested":
            by = data.get("requested_by")
            who = "the committee" if by == "committee" else by
            return f"Information requested by {who} on {_procedure(data)}"
        case "InformationProvided":
            return f"Information provided on {_procedure(data)}"
        case "ReviewStepRecorded":
            member = f" by {data['member']}" if data.get("member") else ""
            return (
                f"Review step {data.get('step')!r}{member} on {_procedure(data)}: "
                f"{data.get('outcome')}"
            )
        case "ExemptionApproved":
            valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
            months = _months_between(str(valid_from), str(valid_until))
            period = f"for {_plural(months, 'month')}, " if months is not None else ""
            letter = f", letter {data['letter_ref']}" if data.get("letter_ref") else ""
            return f"Approved {period}valid {_day(valid_from)} to {_day(valid_until)}{letter}"
        case "ExemptionRefused":
            return "Refused"
        case "ExtensionRequested":
            return (
                f"Extension requested ({data.get('procedure')}) "
                f"until {_day(data.get('requested_until'))}"
            )
        case "ExtensionGranted":
            return (
                f"Extension granted ({data.get('procedure')}), "
                f"valid until {_day(data.get('valid_until'))}"
            )
        case "ExtensionRefused":
            return f"Extension refused ({data.get('procedure')})"
        case "AmendmentRequested":
            return f"Amendment requested ({data.get('procedure')}): {_items(data)}"
        case "AmendmentApproved":
            return f"Amendment approved ({data.get('procedure')}): {_items(data)}"
        case "AmendmentRefused":
            return f"Amendment refused ({data.get('procedure')})"
        case "RequestWithdrawn":
            return "Withdrawn"
        case "ShipmentRecorded":
            shipped = _day(data.get("shipped_on"))
            return f"Shipment {data.get('shipment_no')} recorded, shipped {shipped}"
        case "EntryAnnotated":
            return f"Annotation on entry {data.get('target_position')}"
        case "EventRetracted":
            return f"Entry {data.get('target_position')} retracted"
        case "MemberSeated":
            term_end = data.get("term_end")
            term = f" until {_day(term_end)}" if term_end else " (permanent)"
            return f"{data.get('member')} seated from {_day(data.get('term_start'))}{term}"
        case "MemberDeparted":
            return f"{data.get('member')} left the committee on {_day(data.get('on'))}"
        case _:
            return event_type


def entry(event: RecordedEvent) -> HistoryEntry | None:
    """The history entry of a request event; None for events of other streams."""
    request_id = request_id_of(event.stream_id)
    if request_id is None:
        return None
    return HistoryEntry(
        position=event.position,
        request_id=request_id,
        stream_version=event.stream_version,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=actor_of(event.metadata),
        summary=summarize(event.event_type, event.data),
        confidential=is_confidential(event.event_type, event.data),
    )


def retractions(events: Iterable[RecordedEvent]) -> dict[int, int]:
    """Target position -> position of the retraction in effect over it, for one stream.

    A retraction that is itself retracted is not in effect, so its target stands again.
    Targets always precede their retraction, so one pass from the end settles it.
    """
    retracted: dict[int, int] = {}
    for event in reversed(list(events)):
        if event.event_type == "EventRetracted" and event.position not in retracted:
            target = event.data.get("target_position")
            if isinstance(target, int):
                retracted[target] = event.position
    return retracted


def entries(events: Iterable[RecordedEvent]) -> list[HistoryEntry]:
    """The whole audit trail of one request stream, retractions marked."""
    stream = list(events)
    retracted = retractions(stream)
    trail: list[HistoryEntry] = []
    for event in stream:
        item = entry(event)
        if item is None:
            continue
        by = retracted.get(event.position)
        if by is not None:
            item = replace(item, retracted_by=by)
        trail.append(item)
    return trail
