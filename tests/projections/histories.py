"""Random committee histories for the bitemporal laws: several request streams whose
positions interleave, business time monotonic within a stream but backdated across
streams, holds, decisions, expiries and retractions (never of a submission or of a
retraction, as the rules allow)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from events.model import NewEvent, RecordedEvent

T0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
MEMBERS = ("CHN", "FRA", "USA")
KINDS = (
    "circulate",
    "hold",
    "hold",
    "release",
    "ask",
    "answer",
    "approve",
    "refuse",
    "withdraw",
    "extend",
    "grant",
    "annotate",
    "retract",
    "retract",
    "review",
    "ship",
)


def submission(request_id: str, applicant: str, disclosure: str = "confidential") -> dict[str, Any]:
    return {
        "request_id": request_id,
        "applicant": {"name": applicant, "kind": "ngo"},
        "channel": "direct",
        "title": f"Pumps for {request_id}",
        "purpose": "clean water",
        "beneficiaries": "villages",
        "items": [{"description": "pump", "quantity": 4, "unit": "pcs", "value_usd": 1200}],
        "urgent": False,
        "requested_validity_months": 6,
        "disclosure": disclosure,
    }


@dataclass
class _Stream:
    request_id: str
    last: datetime
    events: list[RecordedEvent] = field(default_factory=list)
    retracted: set[int] = field(default_factory=set)


#: One drawn step: (stream index, kind index, seconds later, a pick for choices).
Draw = tuple[int, int, int, int]

steps = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, len(KINDS) - 1),
        st.sampled_from([0, 0, 60, 3_600, 86_400, 3 * 86_400, 20 * 86_400, 90 * 86_400]),
        st.integers(0, 1_000),
    ),
    min_size=1,
    max_size=40,
)
#: Days from T0 at which each of the four streams starts (so business times interleave).
starts = st.lists(st.integers(0, 400), min_size=4, max_size=4)

#: What a retraction takes back most: holds, releases, approvals and shipments.
TAKEN_BACK = frozenset({"HoldPlaced", "HoldReleased", "ExemptionApproved", "ShipmentRecorded"})
#: The kinds of `retracting_steps`: what a retraction takes back, and retractions.
RETRACTING = ("circulate", "hold", "hold", "release", "approve", "ship", "grant", "retract")
retracting_steps = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from([KINDS.index(kind) for kind in RETRACTING] + [KINDS.index("retract")] * 3),
        st.sampled_from([0, 60, 86_400, 3 * 86_400, 20 * 86_400, 90 * 86_400, 400 * 86_400]),
        st.integers(0, 1_000),
    ),
    min_size=8,
    max_size=40,
)


def _data(kind: str, stream: _Stream, at: datetime, pick: int) -> tuple[str, dict[str, Any]]:
    member = MEMBERS[pick % len(MEMBERS)]
    day = at.date()
    match kind:
        case "circulate":
            deadline = at + timedelta(days=pick % 9, hours=pick % 5)
            return "RequestCirculated", {
                "procedure": "initial",
                "deadline": deadline.isoformat().replace("+00:00", "Z"),
                "expedited": False,
            }
        case "hold":
            return "HoldPlaced", {"procedure": "initial", "member": member}
        case "release":
            return "HoldReleased", {"procedure": "initial", "member": member}
        case "ask":
            return "InformationRequested", {
                "procedure": "initial",
                "requested_by": member,
                "questions": "which villages?",
            }
        case "answer":
            return "InformationProvided", {"procedure": "initial", "response": "these"}
        case "approve":
            until = day + timedelta(days=pick % 200)
            return "ExemptionApproved", {
                "procedure": "initial",
                "valid_from": day.isoformat(),
                "valid_until": until.isoformat(),
                "letter_ref": f"L-{pick}",
                "shipments_allowed": 3,
            }
        case "refuse":
            return "ExemptionRefused", {"procedure": "initial"}
        case "withdraw":
            return "RequestWithdrawn", {"procedure": "initial"}
        case "extend":
            until = day + timedelta(days=100 + pick % 100)
            return "ExtensionRequested", {
                "procedure": "extension-1",
                "requested_until": until.isoformat(),
                "reason": "late",
            }
        case "grant":
            until = day + timedelta(days=50 + pick % 300)
            return "ExtensionGranted", {
                "procedure": "extension-1",
                "valid_until": until.isoformat(),
            }
        case "review":
            return "ReviewStepRecorded", {"procedure": "initial", "step": "legal", "outcome": "ok"}
        case "ship":
            number = 1 + sum(e.event_type == "ShipmentRecorded" for e in stream.events)
            return "ShipmentRecorded", {"shipment_no": number, "shipped_on": day.isoformat()}
        case "annotate":
            target = stream.events[pick % len(stream.events)].position
            return "EntryAnnotated", {"target_position": target, "text": "note"}
    # retract: a random earlier event that is neither the submission nor a retraction
    targets = [
        e.position
        for e in stream.events[1:]
        if e.event_type != "EventRetracted" and e.position not in stream.retracted
    ]
    # mostly what changes the status or the holds, at any distance back
    open_targets = set(targets)
    taken_back = [
        e.position
        for e in stream.events
        if e.position in open_targets and e.event_type in TAKEN_BACK
    ]
    if taken_back and pick % 4:
        targets = taken_back
    if not targets:
        return "EntryAnnotated", {"target_position": stream.events[0].position, "text": "n"}
    target = targets[pick % len(targets)]
    stream.retracted.add(target)
    return "EventRetracted", {"target_position": target, "reason": "recorded in error"}


def build(
    draws: list[Draw], start_days: list[int], id_prefix: str = "HX-2025", after: int = 0
) -> list[RecordedEvent]:
    """The log of the drawn steps, positions `after` + 1, 2, 3 … across streams (request
    ids `<id_prefix>-0001` …)."""
    streams: dict[int, _Stream] = {}
    log: list[RecordedEvent] = []
    for index, kind_index, seconds, pick in draws:
        stream = streams.get(index)
        if stream is None:
            at = T0 + timedelta(days=start_days[index], seconds=pick)
            stream = streams[index] = _Stream(f"{id_prefix}-{index + 1:04d}", at)
            event_type, data = (
                "RequestSubmitted",
                submission(
                    stream.request_id,
                    f"Relief {index % 2}",
                    "public" if pick % 3 == 0 else "confidential",
                ),
            )
        else:
            at = stream.last + timedelta(seconds=seconds)
            event_type, data = _data(KINDS[kind_index], stream, at, pick)
        event = recorded(
            after + len(log) + 1,
            f"request-{stream.request_id}",
            len(stream.events) + 1,
            event_type,
            data,
            at,
        )
        stream.last = at
        stream.events.append(event)
        log.append(event)
    return log


def recorded(
    position: int, stream_id: str, version: int, event_type: str, data: dict[str, Any], at: datetime
) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        event_id=uuid.UUID(int=position),
        stream_id=stream_id,
        stream_version=version,
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata={},
        occurred_at=at,
        recorded_at=T0 + timedelta(days=800, seconds=position),
        prev_hash="0" * 64,
        hash="0" * 64,
    )


def new_events(log: list[RecordedEvent]) -> list[NewEvent]:
    """The log as events to append (a store gives them the same positions in order)."""
    return [
        NewEvent(
            stream_id=e.stream_id,
            event_type=e.event_type,
            data=e.data,
            occurred_at=e.occurred_at,
            metadata={},
        )
        for e in log
    ]


def moments(log: list[RecordedEvent]) -> list[tuple[datetime, int]]:
    """Probe moments: every event's time and its neighbours, deadlines and expiries, at
    every position (and none), so that every boundary of every interval is crossed."""
    times: set[datetime] = {T0 - timedelta(days=1)}
    for e in log:
        times |= {e.occurred_at, e.occurred_at - timedelta(microseconds=1)}
        for key in ("deadline",):
            if key in e.data:
                moment = datetime.fromisoformat(e.data[key].replace("Z", "+00:00"))
                times |= {moment, moment + timedelta(microseconds=1)}
        for key in ("valid_until",):
            if key in e.data:
                day = datetime.fromisoformat(e.data[key]).replace(tzinfo=UTC)
                times |= {day + timedelta(days=1, hours=h) for h in (3, 4, 5, 6)}
    times.add(max(times) + timedelta(days=400))
    positions = list(range(0, len(log) + 2))
    return [(t, p) for t in sorted(times) for p in positions]
