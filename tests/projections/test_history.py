"""The audit trail's entries: summaries, confidentiality, actors, retractions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.model import RecordedEvent
from projections.history import (
    CONFIDENTIAL_BY_TYPE,
    entries,
    entry,
    is_confidential,
    retractions,
    summarize,
)

T0 = datetime(2019, 3, 1, 14, 0, tzinfo=UTC)
ACTOR = {"id": "tok-1", "name": "secretariat desk", "role": "secretariat"}


def recorded(
    position: int, event_type: str, data: dict[str, Any], stream: str = "request-HX-2019-0001"
) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        event_id=uuid.uuid4(),
        stream_id=stream,
        stream_version=position,
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata={"actor": ACTOR, "correlation_id": "c"},
        occurred_at=T0 + timedelta(days=position),
        recorded_at=T0 + timedelta(days=position, seconds=1),
        prev_hash="00" * 32,
        hash="11" * 32,
    )


SUBMISSION = {
    "request_id": "HX-2019-0001",
    "applicant": {"name": "Relief Org", "kind": "ngo"},
    "channel": "direct",
    "title": "Water pumps",
    "purpose": "secret purpose",
    "beneficiaries": "villages",
    "items": [{"description": "pump", "quantity": 4, "unit": "pcs", "value_usd": 1250.5}],
    "urgent": False,
    "requested_validity_months": 6,
    "justification": "a confidential justification",
}


@pytest.mark.parametrize(
    ("event_type", "data", "summary", "confidential"),
    [
        (
            "RequestSubmitted",
            {**SUBMISSION, "disclosure": "public"},
            "Submitted by Relief Org (NGO): Water pumps; 1 item worth USD 1,250.50",
            False,
        ),
        (
            "RequestSubmitted",
            SUBMISSION,
            "Submitted by Relief Org (NGO): Water pumps; 1 item worth USD 1,250.50",
            True,
        ),
        (
            "RequestCirculated",
            {"procedure": "initial", "deadline": "2019-03-08T22:00:00.000000Z", "expedited": True},
            "Circulated for the initial procedure (expedited), no-objection deadline 2019-03-08",
            False,
        ),
        (
            "HoldPlaced",
            {"procedure": "initial", "member": "USA", "reason": "why", "note": "n"},
            "Hold placed by USA on the initial procedure",
            True,
        ),
        (
            "HoldReleased",
            {"procedure": "extension-1", "member": "RUS"},
            "Hold released by RUS on the extension-1 procedure",
            True,
        ),
        (
            "HoldLapsed",
            {"procedure": "initial", "member": "DEU", "cause": "member_departed"},
            "Hold by DEU lapsed on the initial procedure (member left the committee)",
            True,
        ),
        (
            "InformationRequested",
            {"procedure": "initial", "requested_by": "committee", "questions": "q?"},
            "Information requested by the committee on the initial procedure",
            True,
        ),
        (
            "InformationProvided",
            {"procedure": "initial", "response": "secret answer"},
            "Information provided on the initial procedure",
            True,
        ),
        (
            "ReviewStepRecorded",
            {"procedure": "initial", "step": "legal", "outcome": "ok", "member": "FRA"},
            "Review step 'legal' by FRA on the initial procedure: ok",
            True,
        ),
        (
            "ExemptionApproved",
            {
                "procedure": "initial",
                "valid_from": "2019-03-21",
                "valid_until": "2019-09-21",
                "letter_ref": "1718/2019/12",
                "shipments_allowed": 3,
            },
            "Approved for 6 months, valid 2019-03-21 to 2019-09-21, letter 1718/2019/12",
            False,
        ),
        ("ExemptionRefused", {"procedure": "initial", "reason": "secret"}, "Refused", False),
        (
            "ExtensionRequested",
            {"procedure": "extension-1", "requested_until": "2019-12-21", "reason": "r"},
            "Extension requested (extension-1) until 2019-12-21",
            False,
        ),
        (
            "ExtensionGranted",
            {"procedure": "extension-1", "valid_until": "2019-12-21"},
            "Extension granted (extension-1), valid until 2019-12-21",
            False,
        ),
        ("RequestWithdrawn", {"reason": "secret"}, "Withdrawn", False),
        (
            "ShipmentRecorded",
            {"shipment_no": 2, "shipped_on": "2019-05-01", "note": "secret"},
            "Shipment 2 recorded, shipped 2019-05-01",
            False,
        ),
        (
            "EntryAnnotated",
            {"target_position": 3, "text": "secret text"},
            "Annotation on entry 3",
            True,
        ),
        (
            "EventRetracted",
            {"target_position": 3, "reason": "secret"},
            "Entry 3 retracted",
            True,
        ),
        ("SomethingNew", {"x": 1}, "SomethingNew", True),
    ],
)
def test_summary_and_confidentiality(
    event_type: str, data: dict[str, Any], summary: str, confidential: bool
) -> None:
    assert summarize(event_type, data) == summary
    assert is_confidential(event_type, data) is confidential


@pytest.mark.parametrize("secret_key", ["reason", "note", "questions", "response", "text"])
def test_summaries_never_quote_free_text(secret_key: str) -> None:
    for event_type in CONFIDENTIAL_BY_TYPE:
        data = {
            **SUBMISSION,
            "procedure": "initial",
            "member": "USA",
            secret_key: "SECRET-VALUE",
            "justification": "SECRET-VALUE",
            "purpose": "SECRET-VALUE",
        }
        assert "SECRET-VALUE" not in summarize(event_type, data)


def test_entry_carries_the_actor_and_the_request() -> None:
    item = entry(recorded(4, "HoldPlaced", {"procedure": "initial", "member": "USA"}))
    assert item is not None
    assert item.request_id == "HX-2019-0001"
    assert item.actor == ACTOR
    assert item.stream_version == 4
    assert item.occurred_at == T0 + timedelta(days=4)
    assert item.retracted_by is None
    assert item.row()["summary"] == "Hold placed by USA on the initial procedure"


def test_committee_events_have_no_request_entry() -> None:
    seated = recorded(1, "MemberSeated", {"member": "USA"}, stream="committee")
    assert entry(seated) is None


def test_retraction_marks_its_target_and_a_retracted_retraction_reinstates_it() -> None:
    stream = [
        recorded(1, "RequestSubmitted", SUBMISSION),
        recorded(2, "HoldPlaced", {"procedure": "initial", "member": "USA"}),
        recorded(3, "EventRetracted", {"target_position": 2, "reason": "typo"}),
    ]
    assert retractions(stream) == {2: 3}
    assert [e.retracted_by for e in entries(stream)] == [None, 3, None]
    stream.append(recorded(4, "EventRetracted", {"target_position": 3, "reason": "oops"}))
    assert retractions(stream) == {3: 4}
    assert [e.retracted_by for e in entries(stream)] == [None, None, 4, None]
