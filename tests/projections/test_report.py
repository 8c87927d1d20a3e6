"""The auditor's report's figures against a small history computed by hand, and its
renderers' determinism."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from events.model import RecordedEvent
from projections.report import ReportCheckpoint, ReportRefused, report
from service.public.report import RENDERERS, reproduce_command
from tests.projections.histories import recorded, submission

CHECKPOINT = ReportCheckpoint("docket.test/log", 17, "ab" * 32)
AS_OF = datetime(2025, 12, 31, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _approval(day: str) -> dict[str, Any]:
    return {
        "procedure": "initial",
        "valid_from": day,
        "valid_until": "2025-12-01",
        "letter_ref": "L",
        "shipments_allowed": 3,
    }


CIRCULATED = {"procedure": "initial", "deadline": "2025-01-20T00:00:00Z", "expedited": False}

# (request, event type, data, occurred_at): positions in this order, streams interleaved
STEPS: list[tuple[str, str, dict[str, Any], str]] = [
    ("R5", "RequestSubmitted", {}, "2024-12-20T00:00:00"),
    ("R5", "RequestCirculated", CIRCULATED, "2024-12-21T00:00:00"),
    ("R1", "RequestSubmitted", {}, "2025-01-10T12:00:00"),
    ("R5", "ExemptionApproved", _approval("2025-01-04"), "2025-01-04T00:00:00"),  # 15 days
    ("R1", "RequestCirculated", CIRCULATED, "2025-01-11T12:00:00"),
    ("R1", "HoldPlaced", {"procedure": "initial", "member": "USA"}, "2025-01-15T12:00:00"),
    ("R1", "HoldReleased", {"procedure": "initial", "member": "USA"}, "2025-01-25T12:00:00"),
    ("R1", "ExemptionApproved", _approval("2025-02-09"), "2025-02-09T12:00:00"),  # 30 days
    ("R2", "RequestSubmitted", {}, "2025-03-01T00:00:00"),
    ("R2", "RequestCirculated", CIRCULATED, "2025-03-02T00:00:00"),
    ("R2", "HoldPlaced", {"procedure": "initial", "member": "CHN"}, "2025-03-05T00:00:00"),
    ("R3", "RequestSubmitted", {}, "2025-06-01T00:00:00"),
    ("R3", "RequestCirculated", CIRCULATED, "2025-06-02T00:00:00"),
    ("R3", "HoldPlaced", {"procedure": "initial", "member": "FRA"}, "2025-06-05T00:00:00"),
    ("R3", "ExemptionRefused", {"procedure": "initial"}, "2025-06-11T00:00:00"),  # 10 days
    ("R3", "EventRetracted", {"target_position": 14, "reason": "x"}, "2025-06-12T00:00:00"),
    ("R4", "RequestSubmitted", {}, "2025-11-15T00:00:00"),
    ("R4", "RequestWithdrawn", {"procedure": "initial"}, "2026-01-10T00:00:00"),
]


def _log() -> list[RecordedEvent]:
    versions: dict[str, int] = {}
    log = []
    for position, (name, event_type, data, at) in enumerate(STEPS, start=1):
        request_id = f"HX-2025-000{name[1]}"
        versions[name] = versions.get(name, 0) + 1
        body = submission(request_id, "Relief") if event_type == "RequestSubmitted" else data
        log.append(
            recorded(position, f"request-{request_id}", versions[name], event_type, body, _at(at))
        )
    return log


def test_figures_as_of_the_end_of_2025() -> None:
    doc = report(_log(), AS_OF, None, CHECKPOINT).document()
    assert doc["at_position"] == 17  # the checkpoint's size: the withdrawal is past it
    assert doc["requests"] == 5
    assert doc["years"] == [
        {
            "year": 2024,
            "requests": 1,
            "approvals": 0,
            "refusals": 0,
            "withdrawals": 0,
            "median_days_to_decision": None,
            "mean_days_to_decision": None,
        },
        {
            "year": 2025,
            "requests": 4,
            "approvals": 2,
            "refusals": 1,
            "withdrawals": 0,
            "median_days_to_decision": 15.0,
            "mean_days_to_decision": 18.33,  # (15 + 30 + 10) / 3
        },
    ]
    # R2 waiting 305 days, R4 46 days
    assert doc["pending_over_days"] == {"30": 2, "90": 1, "180": 1}
    assert doc["members"] == [
        {
            "member": "CHN",
            "holds_placed": 1,
            "active_holds": 1,
            "total_hold_days": 301.0,
            "median_hold_days": 301.0,
        },
        {
            "member": "USA",
            "holds_placed": 1,
            "active_holds": 0,
            "total_hold_days": 10.0,
            "median_hold_days": 10.0,
        },
    ]
    assert [(h["member"], h["days"], h["active"]) for h in doc["longest_holds"]] == [
        ("CHN", 301.0, True),
        ("USA", 10.0, False),
    ]


def test_before_the_retraction_the_retracted_hold_counts() -> None:
    doc = report(_log(), AS_OF, 15, CHECKPOINT).document()
    fra = [m for m in doc["members"] if m["member"] == "FRA"]
    # placed 5 June, closed with the refusal on 11 June
    assert fra == [
        {
            "member": "FRA",
            "holds_placed": 1,
            "active_holds": 0,
            "total_hold_days": 6.0,
            "median_hold_days": 6.0,
        }
    ]
    assert report(_log(), AS_OF, 16, CHECKPOINT).document()["members"][-1]["member"] == "USA"


def test_a_retraction_takes_its_hold_back_before_it_occurred() -> None:
    """FRA's hold (5 June) is retracted on 12 June: as of 8 June the report at the
    checkpoint does not count it; at the position before the retraction it does."""
    june = _at("2025-06-08T00:00:00")
    members = report(_log(), june, None, CHECKPOINT).document()["members"]
    assert "FRA" not in [m["member"] for m in members]
    before = report(_log(), june, 15, CHECKPOINT).document()["members"]
    assert [m for m in before if m["member"] == "FRA"] == [
        {
            "member": "FRA",
            "holds_placed": 1,
            "active_holds": 1,
            "total_hold_days": 3.0,
            "median_hold_days": 3.0,
        }
    ]


def test_as_of_an_earlier_date() -> None:
    doc = report(_log(), _at("2025-02-01T00:00:00"), None, CHECKPOINT).document()
    assert doc["requests"] == 2  # R5 and R1
    assert doc["years"][1]["approvals"] == 1  # R5; R1 is approved on 9 February
    assert doc["pending_over_days"] == {"30": 0, "90": 0, "180": 0}
    assert doc["members"][0]["total_hold_days"] == 10.0


def test_a_position_past_the_checkpoint_is_refused() -> None:
    with pytest.raises(ReportRefused, match="past the checkpoint's size 17"):
        report(_log(), AS_OF, 18, CHECKPOINT)


def test_renderers() -> None:
    made = report(_log(), AS_OF, None, CHECKPOINT)
    body = RENDERERS["json"](made)
    assert json.loads(body) == json.loads(json.dumps(made.document()))
    assert body == RENDERERS["json"](report(_log(), AS_OF, None, CHECKPOINT))
    assert body.index(b'"as_of"') < body.index(b'"at_position"') < body.index(b'"checkpoint"')
    rows = list(csv.reader(io.StringIO(RENDERERS["csv"](made).decode())))
    assert rows[1][:3] == ["docket committee figures", "2025-12-31T00:00:00.000000Z", "17"]
    assert ["", "CHN", "1", "1", "301.0", "301.0"] in rows
    page = RENDERERS["html"](made).decode()
    assert "ab" * 32 in page and "docket.test/log" in page
    assert reproduce_command(made, "html") in page
    assert page.count("<svg") == 4 and "<table>" in page
