"""Request histories for the public tests, folded with `projections.request` as the
projection does, so the policy is tested against the real state view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from projections.request import fold, view
from service.api import public as routes
from service.api.problems import install_problem_handlers
from service.api.public_statistics import FixedStatistics
from service.public.base_url import get_public_url
from service.public.source import MemoryPublicSource

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    position: int
    stream_version: int
    event_type: str
    data: dict[str, Any]
    occurred_at: datetime


@dataclass
class History:
    """Builds one request's stream; `at` moves forward with each event."""

    request_id: str
    start: datetime
    events: list[Event] = field(default_factory=list)
    counter: list[int] = field(default_factory=lambda: [0])

    def add(self, event_type: str, days: float, **data: Any) -> History:
        self.counter[0] += 1
        at = self.start + timedelta(days=days)
        self.events.append(Event(self.counter[0], len(self.events) + 1, event_type, data, at))
        return self

    def view(self, now: datetime = NOW) -> dict[str, Any]:
        state = fold(self.events)
        assert state is not None
        return view(state, now)


def submission(
    request_id: str, title: str, org: str, disclosure: str = "confidential", **extra: Any
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "applicant": {"name": org, "kind": "ngo"},
        "channel": "direct",
        "title": title,
        "purpose": "purpose text",
        "beneficiaries": "beneficiaries text",
        "items": [
            {
                "description": f"{title} goods",
                "hs_code": "3004.90",
                "quantity": 100,
                "unit": "pack",
                "value_usd": 25000,
            },
            {"description": "Freight", "quantity": 1, "unit": "lot", "value_usd": 3500.5},
        ],
        "urgent": False,
        "requested_validity_months": 6,
        "disclosure": disclosure,
        **extra,
    }


def circulated(h: History, days: float) -> History:
    deadline = (h.start + timedelta(days=days + 7)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return h.add("RequestCirculated", days, procedure="initial", deadline=deadline, expedited=False)


def scenario() -> list[dict[str, Any]]:
    """Six requests covering every public status; secrets marked SECRET-*, member BRA/ZAF."""
    counter = [0]
    out = []

    def history(rid: str, start: datetime) -> History:
        return History(rid, start, counter=counter)

    # approved (confidential), extended, two shipments
    h = history("HX-2025-0001", datetime(2025, 3, 3, 14, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission(
            "HX-2025-0001",
            "Tuberculosis diagnostics",
            "World Health Organization",
            requested_validity_months=9,
            justification="SECRET-justification-1",
        ),
    )
    circulated(h, 2)
    h.add(
        "HoldPlaced",
        4,
        procedure="initial",
        member="BRA",
        reason="SECRET-reason-1",
        note="SECRET-note-1",
    )
    h.add(
        "InformationRequested",
        5,
        procedure="initial",
        requested_by="BRA",
        questions="SECRET-question-1",
    )
    h.add("InformationProvided", 9, procedure="initial", response="SECRET-response-1")
    h.add(
        "ReviewStepRecorded",
        10,
        procedure="initial",
        step="SECRET-step-1",
        outcome="SECRET-outcome-1",
        member="ZAF",
        note="SECRET-review-note-1",
    )
    h.add("HoldReleased", 20, procedure="initial", member="BRA", note="SECRET-release-note-1")
    h.add(
        "ExemptionApproved",
        24,
        procedure="initial",
        valid_from="2025-04-01",
        valid_until="2025-12-31",
        letter_ref="S/AC.49/2025/OC.12",
        shipments_allowed=3,
    )
    h.add("ShipmentRecorded", 60, shipment_no=1, shipped_on="2025-05-10", note="SECRET-ship-1")
    h.add(
        "ExtensionRequested",
        200,
        procedure="extension-1",
        requested_until="2026-06-30",
        reason="SECRET-ext-reason-1",
    )
    circulated_ext = (h.start + timedelta(days=210)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    h.add(
        "RequestCirculated", 201, procedure="extension-1", deadline=circulated_ext, expedited=True
    )
    h.add("ExtensionGranted", 212, procedure="extension-1", valid_until="2026-06-30")
    h.add("ShipmentRecorded", 230, shipment_no=2, shipped_on="2025-10-20")
    out.append(h.view())

    # public disclosure, pending on hold with an information request
    h = history("HX-2025-0002", datetime(2025, 7, 1, 9, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission("HX-2025-0002", "Solar water pumps", "Welthungerhilfe", disclosure="public"),
    )
    circulated(h, 1)
    h.add("HoldPlaced", 3, procedure="initial", member="ZAF", reason="SECRET-reason-2")
    h.add(
        "InformationRequested",
        5,
        procedure="initial",
        requested_by="ZAF",
        questions="SECRET-question-2",
    )
    out.append(h.view())

    # confidential and pending: never public
    h = history("HX-2025-0003", datetime(2025, 9, 15, 9, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission("HX-2025-0003", "SECRET-confidential-title", "SECRET-confidential-org"),
    )
    circulated(h, 1)
    h.add("HoldPlaced", 2, procedure="initial", member="BRA")
    out.append(h.view())

    # public, refused
    h = history("HX-2025-0004", datetime(2025, 5, 5, 9, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission(
            "HX-2025-0004", "Greenhouse materials", "Fida International", disclosure="public"
        ),
    )
    circulated(h, 1)
    h.add("ExemptionRefused", 40, procedure="initial", reason="SECRET-refusal-reason")
    out.append(h.view())

    # public, just submitted
    h = history("HX-2026-0001", datetime(2026, 2, 20, 9, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission("HX-2026-0001", "Maternal health kits", "First Steps", disclosure="public"),
    )
    out.append(h.view())

    # approved long ago, expired
    h = history("HX-2024-0007", datetime(2024, 2, 1, 9, tzinfo=UTC))
    h.add(
        "RequestSubmitted",
        0,
        **submission("HX-2024-0007", "Vaccine cold chain", "United Nations Children's Fund"),
    )
    circulated(h, 3)
    h.add(
        "ExemptionApproved",
        99,
        procedure="initial",
        valid_from="2024-05-10",
        valid_until="2024-11-10",
        letter_ref="S/AC.49/2024/OC.3",
        shipments_allowed=3,
    )
    out.append(h.view())
    return out


SECRETS = (
    "SECRET-",
    "BRA",
    "ZAF",
)


def make_app(
    states: list[dict[str, Any]],
    *,
    position: int = 42,
    modified: datetime | None = None,
    now: datetime = NOW,
) -> FastAPI:
    """The public router over an in-memory source, its clock fixed at `now`."""
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(routes.router)
    app.state.public_source = MemoryPublicSource(
        states, position=position, modified=modified or datetime(2026, 2, 28, 10, tzinfo=UTC)
    )
    app.state.public_statistics = FixedStatistics(states, position)
    app.dependency_overrides[routes.get_now] = lambda: now
    app.dependency_overrides[get_public_url] = lambda: "http://docket.test"
    return app
