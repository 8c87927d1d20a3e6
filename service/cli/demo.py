"""A realistic scenario over 2025–2026, so that a new user sees every status.

Loosely modelled on what was reported of the 1718 Committee: routine approvals in early
2025, holds from mid-2025 that froze approvals for months, a bulk release and a batch of
approvals on 5 February 2026, elected members leaving on 31 December 2025.
Each step names the HTTP command it stands for and carries that command's body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from events.types import REQUEST_STREAM_PREFIX
from service.commands.outcome import Meta
from service.commands.service import CommandService
from service.data.roster_2025_2026 import ROSTER_2025_2026
from service.platform.tokens import Caller
from service.rules import commands as cmd

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One command of the scenario: `action` is the command's name, `ref` the request."""

    action: str
    ref: str | None
    body: Body


_ORGS: list[tuple[str, str, str, str | None]] = [
    # (name, kind, channel, sponsor)
    ("World Health Organization", "un_agency", "direct", None),
    ("United Nations Children's Fund", "un_agency", "direct", None),
    ("World Food Programme", "un_agency", "direct", None),
    ("Food and Agriculture Organization", "un_agency", "direct", None),
    (
        "International Federation of Red Cross and Red Crescent Societies",
        "red_cross",
        "direct",
        None,
    ),
    ("Eugene Bell Foundation", "ngo", "member_state", "USA"),
    ("Christian Friends of Korea", "ngo", "member_state", "USA"),
    ("Welthungerhilfe", "ngo", "member_state", "DEU"),
    ("Concern Worldwide", "ngo", "resident_coordinator", None),
    ("First Steps", "ngo", "member_state", "CAN"),
    ("Fida International", "ngo", "member_state", "FIN"),
    ("Triangle Génération Humanitaire", "ngo", "member_state", "FRA"),
    ("United Nations Population Fund", "un_agency", "direct", None),
    ("Agape International Missions", "ngo", "committee_secretary", None),
]

_GOODS: list[tuple[str, str, str, str, int, int]] = [
    # (title, description, hs_code, unit, quantity, value_usd)
    (
        "Tuberculosis diagnostics",
        "GeneXpert MTB/RIF cartridges",
        "3822.19",
        "cartridge",
        12000,
        118000,
    ),
    (
        "Multidrug-resistant TB treatment",
        "Bedaquiline 100 mg tablets",
        "3004.90",
        "pack",
        3000,
        240000,
    ),
    (
        "Solar-powered water pumps",
        "Submersible solar pump sets, 1.5 kW",
        "8413.70",
        "set",
        40,
        96000,
    ),
    (
        "Greenhouse materials",
        "Polyethylene greenhouse film and steel frames",
        "3920.10",
        "roll",
        600,
        54000,
    ),
    (
        "Nutrition supplements for children",
        "Ready-to-use therapeutic food",
        "2106.90",
        "carton",
        8000,
        368000,
    ),
    ("Maternal health kits", "Clean delivery kits", "3006.50", "kit", 20000, 110000),
    ("Hospital X-ray equipment", "Digital radiography unit", "9022.14", "unit", 4, 380000),
    (
        "Vaccine cold chain",
        "Solar direct-drive vaccine refrigerators",
        "8418.50",
        "unit",
        120,
        504000,
    ),
    ("Rice transplanters", "Walk-behind rice transplanters", "8432.30", "unit", 30, 75000),
    ("Water and sanitation supplies", "PVC pipe and fittings", "3917.23", "metre", 25000, 62000),
    ("Anaesthesia machines", "Anaesthesia workstation", "9018.90", "unit", 6, 210000),
    ("Seed potatoes", "Certified virus-free seed potatoes", "0701.10", "tonne", 200, 88000),
]


def _at(day: date, hour: int = 15) -> str:
    return datetime(day.year, day.month, day.day, hour, 0, 0).isoformat() + "Z"


def _submission(
    n: int, day: date, *, urgent: bool = False, months: int = 6, public: bool = False
) -> Body:
    name, kind, channel, sponsor = _ORGS[n % len(_ORGS)]
    title, description, hs_code, unit, quantity, value = _GOODS[n % len(_GOODS)]
    body: Body = {
        "applicant": {"name": name, "kind": kind},
        "channel": channel,
        "title": title,
        "purpose": f"{title} for provinces with the highest need",
        "beneficiaries": "Patients, children under five and farming households in four provinces",
        "items": [
            {
                "description": description,
                "hs_code": hs_code,
                "quantity": quantity,
                "unit": unit,
                "value_usd": value,
            },
        ],
        "urgent": urgent,
        "requested_validity_months": months,
        "disclosure": "public" if public else "confidential",
        "occurred_at": _at(day, 14),
    }
    if sponsor is not None:
        body["sponsor"] = sponsor
    if months == 9:
        body["justification"] = "Deliveries depend on the spring planting season and port access"
    return body


def scenario() -> list[Step]:
    """The demo's commands in the order they were taken."""
    steps: list[Step] = []

    def add(action: str, ref: str | None, **body: Any) -> None:
        steps.append(Step(action, ref, body))

    def approve_quickly(ref: str, n: int, start: date, months: int = 6) -> date:
        steps.append(Step("submit", ref, _submission(n, start, months=months, public=n % 2 == 0)))
        add("circulate", ref, occurred_at=_at(start + timedelta(days=1), 10))
        decided = start + timedelta(days=12)
        add(
            "decide",
            ref,
            outcome="approved",
            validity_months=months,
            letter_ref=f"S/AC.49/2025/OC.{n + 10}",
            occurred_at=_at(decided, 16),
        )
        return decided

    # Early 2025: routine approvals, a few with shipments, one of 9 months.
    for n in range(8):
        start = date(2025, 1, 13) + timedelta(days=11 * n)
        decided = approve_quickly(f"r{n}", n, start, months=9 if n == 3 else 6)
        if n < 5:
            add(
                "shipment",
                f"r{n}",
                shipment_no=1,
                shipped_on=str(decided + timedelta(days=20)),
                occurred_at=_at(decided + timedelta(days=20)),
            )
        if n == 1:
            add(
                "shipment",
                "r1",
                shipment_no=2,
                shipped_on=str(decided + timedelta(days=60)),
                note="Second consignment via Dandong",
                occurred_at=_at(decided + timedelta(days=60)),
            )

    # An information request, answered, then approval.
    ref = "r8"
    add("submit", ref, **_submission(8, date(2025, 4, 1), public=True))
    add("circulate", ref, occurred_at=_at(date(2025, 4, 2), 10))
    add(
        "info_request",
        ref,
        requested_by="GBR",
        questions="How are beneficiaries selected, and who monitors distribution?",
        occurred_at=_at(date(2025, 4, 4)),
    )
    add(
        "review",
        ref,
        step="technical",
        outcome="items consistent with stated purpose",
        member="FRA",
        occurred_at=_at(date(2025, 4, 7)),
    )
    add(
        "info_response",
        ref,
        response="County health offices select; WHO staff monitor monthly.",
        occurred_at=_at(date(2025, 4, 14)),
    )
    add(
        "decide",
        ref,
        outcome="approved",
        letter_ref="S/AC.49/2025/OC.31",
        occurred_at=_at(date(2025, 4, 16)),
    )

    # A refusal and a withdrawal.
    add("submit", "r9", **_submission(9, date(2025, 5, 5)))
    add("circulate", "r9", occurred_at=_at(date(2025, 5, 6), 10))
    add(
        "decide",
        "r9",
        outcome="refused",
        reason="Items include dual-use engines not justified by the stated purpose",
        occurred_at=_at(date(2025, 5, 30)),
    )
    add("submit", "r10", **_submission(10, date(2025, 5, 12)))
    add("withdraw", "r10", reason="The donor's funding lapsed", occurred_at=_at(date(2025, 5, 20)))

    # An extension and an amendment of earlier approvals.
    add(
        "extension",
        "r2",
        requested_until="2026-01-31",
        reason="Port closure delayed deliveries",
        occurred_at=_at(date(2025, 7, 1)),
    )
    add("circulate", "r2", occurred_at=_at(date(2025, 7, 1), 17))
    add(
        "decide",
        "r2",
        outcome="approved",
        valid_until="2026-01-31",
        occurred_at=_at(date(2025, 7, 8)),
    )
    add(
        "amendment",
        "r4",
        reason="Supplier substituted an equivalent model",
        items=[
            {
                "description": "Solar direct-drive vaccine refrigerators, model B",
                "hs_code": "8418.50",
                "quantity": 118,
                "unit": "unit",
                "value_usd": 499000,
            }
        ],
        occurred_at=_at(date(2025, 7, 15)),
    )
    add("circulate", "r4", occurred_at=_at(date(2025, 7, 15), 17))
    add(
        "decide",
        "r4",
        outcome="approved",
        items=[
            {
                "description": "Solar direct-drive vaccine refrigerators, model B",
                "hs_code": "8418.50",
                "quantity": 118,
                "unit": "unit",
                "value_usd": 499000,
            }
        ],
        occurred_at=_at(date(2025, 7, 22)),
    )

    # Mid-2025: holds freeze every approval for months.
    held = [f"h{n}" for n in range(12)]
    for i, ref in enumerate(held):
        start = date(2025, 6, 2) + timedelta(days=9 * i)
        add("submit", ref, **_submission(11 + i, start, urgent=i == 4, public=i % 3 == 0))
        add("circulate", ref, occurred_at=_at(start + timedelta(days=1), 10))
        add(
            "hold",
            ref,
            member="USA",
            reason="Awaiting end-user assurances",
            note="Capital review of the supplier",
            occurred_at=_at(start + timedelta(days=3)),
        )
        if i % 4 == 1:
            add("hold", ref, member="GBR", occurred_at=_at(start + timedelta(days=4)))
        if i == 2:
            add(
                "hold",
                ref,
                member="SVN",
                note="Pending consultations",
                occurred_at=_at(start + timedelta(days=4)),
            )
        if i == 6:
            # Recorded against the wrong member in the meeting notes; retracted next day.
            add("hold", ref, member="FRA", occurred_at=_at(start + timedelta(days=5)))
            steps.append(
                Step(
                    "retract_last",
                    ref,
                    {
                        "reason": "Recorded in error: FRA did not object",
                        "occurred_at": _at(start + timedelta(days=6)),
                    },
                )
            )
    # The United Kingdom releases its holds in the autumn.
    for i, ref in enumerate(held):
        if i % 4 == 1:
            add(
                "release",
                ref,
                member="GBR",
                note="Assurances received",
                occurred_at=_at(date(2025, 10, 15) + timedelta(days=i)),
            )

    # Elected members leave on 31 December 2025; Slovenia's hold lapses.
    for member in ("DZA", "GUY", "KOR", "SLE", "SVN"):
        add("depart", None, member=member, on="2025-12-31", occurred_at=_at(date(2025, 12, 31), 23))

    # 4 February 2026: the United States releases all its holds; approvals follow.
    add(
        "release_all",
        None,
        member="USA",
        note="Review completed",
        occurred_at=_at(date(2026, 2, 4)),
    )
    for i, ref in enumerate(held[:9]):
        add(
            "decide",
            ref,
            outcome="approved",
            letter_ref=f"S/AC.49/2026/OC.{i + 3}",
            validity_months=6,
            valid_from="2026-02-05",
            occurred_at=_at(date(2026, 2, 5), 16 + 0),
        )
    add(
        "shipment", "h0", shipment_no=1, shipped_on="2026-03-10", occurred_at=_at(date(2026, 3, 10))
    )
    add("shipment", "h1", shipment_no=1, shipped_on="2026-04-02", occurred_at=_at(date(2026, 4, 2)))

    # Autumn 2026: the current pipeline — every open status.
    add("submit", "n0", **_submission(20, date(2026, 9, 1), public=True))
    add("circulate", "n0", occurred_at=_at(date(2026, 9, 2), 10))
    add("hold", "n0", member="RUS", occurred_at=_at(date(2026, 9, 4)))
    add("hold", "n0", member="PAN", reason="Technical questions", occurred_at=_at(date(2026, 9, 5)))
    add("submit", "n1", **_submission(21, date(2026, 10, 20)))
    add("circulate", "n1", occurred_at=_at(date(2026, 10, 21), 10))
    add(
        "info_request",
        "n1",
        requested_by="committee",
        questions="Please provide the specifications of the pumps.",
        occurred_at=_at(date(2026, 10, 23)),
    )
    add("submit", "n2", **_submission(22, date(2026, 11, 2), public=True))
    add("circulate", "n2", occurred_at=_at(date(2026, 11, 3), 10))
    add("submit", "n3", **_submission(23, date(2026, 11, 16), urgent=True))
    add("submit", "n4", **_submission(24, date(2026, 11, 19), public=True))
    add("circulate", "n4", occurred_at=_at(date(2026, 11, 20), 10))
    add("annotate_last", "n4", text="Circulated after the Thanksgiving schedule was agreed")
    # Two recent approvals still valid today, one for nine months.
    add("submit", "n5", **_submission(25, date(2026, 8, 17), months=9, public=True))
    add("circulate", "n5", occurred_at=_at(date(2026, 8, 18), 10))
    add(
        "decide",
        "n5",
        outcome="approved",
        validity_months=9,
        letter_ref="S/AC.49/2026/OC.21",
        occurred_at=_at(date(2026, 8, 31), 16),
    )
    add("submit", "n6", **_submission(26, date(2026, 9, 21)))
    add("circulate", "n6", occurred_at=_at(date(2026, 9, 22), 10))
    add("review", "n6", step="legal", outcome="no objection", occurred_at=_at(date(2026, 9, 25)))
    add(
        "decide",
        "n6",
        outcome="approved",
        letter_ref="S/AC.49/2026/OC.24",
        occurred_at=_at(date(2026, 10, 5), 16),
    )
    add(
        "shipment", "n6", shipment_no=1, shipped_on="2026-11-02", occurred_at=_at(date(2026, 11, 2))
    )
    return steps


_COMMANDS: dict[str, type[cmd.Command]] = {
    "circulate": cmd.Circulate,
    "hold": cmd.PlaceHold,
    "release": cmd.ReleaseHold,
    "info_request": cmd.RequestInformation,
    "info_response": cmd.ProvideInformation,
    "review": cmd.RecordReview,
    "decide": cmd.Decide,
    "extension": cmd.RequestExtension,
    "amendment": cmd.RequestAmendment,
    "withdraw": cmd.Withdraw,
    "shipment": cmd.RecordShipment,
}

DEMO_CALLER = Caller(token_id="demo", name="docket demo", role="secretariat")


async def load_roster(commands: CommandService) -> int:
    """Seat the Security Council's members of 2025 and 2026 who are not seated yet."""
    _, roster = await commands.roster()
    seated = {(seat.member, seat.term_start.isoformat()) for seat in roster.seats}
    since = "2025-01-01T00:00:00Z"
    if roster.last_occurred_at is not None:
        since = max(since, roster.last_occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    added = 0
    for seat in ROSTER_2025_2026:
        if (seat["member"], seat["term_start"]) in seated:
            continue
        command = cmd.SeatMember.model_validate({**seat, "occurred_at": since})
        await commands.run(command, Meta(DEMO_CALLER, "roster-load"))
        added += 1
    return added


async def load_demo(
    commands: CommandService, progress: Callable[[int, int], None] | None = None
) -> dict[str, str]:
    """Run the scenario through the command service; return demo ref -> request id."""
    await load_roster(commands)
    ids: dict[str, str] = {}
    last_position: dict[str, int] = {}
    steps = scenario()
    meta = Meta(DEMO_CALLER, "demo")
    for done, step in enumerate(steps, start=1):
        body = dict(step.body)
        if step.action == "submit":
            outcome = await commands.run(cmd.SubmitRequest.model_validate(body), meta)
            assert step.ref is not None
            ids[step.ref] = outcome.body["request_id"]
        elif step.action == "release_all":
            member = body.pop("member")
            outcome = await commands.run(cmd.ReleaseAll.model_validate(body), meta, member=member)
        elif step.action == "depart":
            member = body.pop("member")
            outcome = await commands.run(cmd.DepartMember.model_validate(body), meta, member=member)
        else:
            assert step.ref is not None
            request_id = ids[step.ref]
            member = None
            if step.action in ("retract_last", "annotate_last"):
                body["target_position"] = last_position[request_id]
                model: type[cmd.Command] = (
                    cmd.Retract if step.action == "retract_last" else cmd.Annotate
                )
            else:
                model = _COMMANDS[step.action]
                if step.action == "release":
                    member = body.pop("member")
            outcome = await commands.run(
                model.model_validate(body), meta, request_id=request_id, member=member
            )
        for event in outcome.body["events"]:
            request_id = event["stream_id"].removeprefix(REQUEST_STREAM_PREFIX)
            last_position[request_id] = event["position"]
        if progress is not None:
            progress(done, len(steps))
    return ids
