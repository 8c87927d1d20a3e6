"""No confidential value in any public or applicant output (SPEC §7), over random histories.

Every confidential field of random request histories gets a random value (member codes
from ISO 3166's user-assigned ranges, so that no real text contains them; free text as
long random tokens); the histories are folded by `projections.request` as the projection
does, and every public output (JSON, Atom, JSON Feed, CSV, HTML) and every applicant view
is searched for each value.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.disclosure import disclosed_form, new_salt
from events.receipt.build import ProvedEvent, build_receipt
from projections.public import applicant_request, public_request, receipt_events
from projections.record_sources import RECORD_SOURCES, sealed_sources
from tests.public.scenario import Event, make_app

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
START = datetime(2024, 1, 1, 9, tzinfo=UTC)

#: ISO 3166-1 user-assigned alpha-3 ranges: shaped like member codes, never real text.
MEMBER_CODES = [f"Q{a}{b}" for a in "MNOPQRSTUVWXYZ" for b in string.ascii_uppercase] + [
    f"X{a}{b}" for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in string.ascii_uppercase
]

members = st.sampled_from(MEMBER_CODES)
#: Confidential free text: uppercase and digits, all of one length, so that no value is a
#: part of another; public text is lowercase only.
secrets = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16)
#: Public text: lowercase only, and long enough that no template wording contains it.
#: ("zq" occurs in no English word of the templates).
public_words = st.text(alphabet=string.ascii_lowercase, min_size=10, max_size=20).map("zq".__add__)


@dataclass
class Built:
    """One request's stream and the values no public or applicant output may show."""

    events: list[Event] = field(default_factory=list)
    never: set[str] = field(default_factory=set)  # neither public nor applicant
    not_public: set[str] = field(default_factory=set)  # the applicant may see these
    member_codes: set[str] = field(default_factory=set)


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@st.composite
def history(draw: st.DrawFn, index: int, position: list[int], used: set[str]) -> Built:
    built = Built()
    at = START + timedelta(days=draw(st.integers(0, 500)), hours=draw(st.integers(0, 23)))
    rid = f"HX-{at.year}-{index + 1:04d}"

    def add(event_type: str, **data: Any) -> None:
        nonlocal at
        at += timedelta(days=draw(st.integers(0, 40)), minutes=draw(st.integers(1, 600)))
        position[0] += 1
        built.events.append(Event(position[0], len(built.events) + 1, event_type, data, at))

    def secret(bucket: set[str]) -> str:
        # Each confidential value is distinct, so that one allowed to the applicant
        # (a question) is never also a value forbidden to it (a note).
        value = draw(secrets.filter(lambda v: v not in used))
        used.add(value)
        bucket.add(value)
        return value

    def member() -> str:
        code = draw(members)
        built.member_codes.add(code)
        return code

    disclosure = draw(st.sampled_from(["public", "confidential"]))
    title, org, item = draw(public_words), draw(public_words), draw(public_words)
    add(
        "RequestSubmitted",
        request_id=rid,
        applicant={"name": org, "kind": "ngo"},
        channel="direct",
        title=title,
        purpose=secret(built.not_public),
        beneficiaries=secret(built.not_public),
        items=[{"description": item, "quantity": 10, "unit": "kit", "value_usd": 1000}],
        urgent=False,
        requested_validity_months=9,
        justification=secret(built.never),
        disclosure=disclosure,
    )

    def review_round(procedure: str) -> None:
        add(
            "RequestCirculated",
            procedure=procedure,
            deadline=_time(at + timedelta(days=7)),
            expedited=procedure != "initial",
        )
        active: list[str] = []
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["hold", "release", "lapse", "info", "review", "note"]))
            if kind == "hold":
                code = member()
                if code not in active:
                    active.append(code)
                    add(
                        "HoldPlaced",
                        procedure=procedure,
                        member=code,
                        reason=secret(built.never),
                        note=secret(built.never),
                    )
            elif kind in ("release", "lapse") and active:
                code = active.pop(draw(st.integers(0, len(active) - 1)))
                if kind == "release":
                    add("HoldReleased", procedure=procedure, member=code, note=secret(built.never))
                else:
                    add("HoldLapsed", procedure=procedure, member=code, cause="member_departed")
            elif kind == "info":
                requester = draw(st.one_of(st.just("committee"), members))
                if requester != "committee":
                    built.member_codes.add(requester)
                add(
                    "InformationRequested",
                    procedure=procedure,
                    requested_by=requester,
                    questions=secret(built.not_public),
                )
                if draw(st.booleans()):
                    add(
                        "InformationProvided",
                        procedure=procedure,
                        response=secret(built.not_public),
                    )
            elif kind == "review":
                add(
                    "ReviewStepRecorded",
                    procedure=procedure,
                    step=secret(built.never),
                    outcome=secret(built.never),
                    member=member(),
                    note=secret(built.never),
                )
            elif kind == "note":
                add(
                    "EntryAnnotated",
                    target_position=built.events[-1].position,
                    text=secret(built.never),
                )
        for code in list(active):
            if draw(st.booleans()):
                add("HoldReleased", procedure=procedure, member=code, note=secret(built.never))

    if draw(st.booleans()):
        review_round("initial")
        ending = draw(st.sampled_from(["open", "approved", "refused", "withdrawn"]))
        if ending == "approved":
            # Not yet approved requests are hidden when confidential: their public text is
            # then secret too (checked below), so only approvals publish them.
            frm = at.date() + timedelta(days=3)
            add(
                "ExemptionApproved",
                procedure="initial",
                valid_from=frm.isoformat(),
                valid_until=(frm + timedelta(days=180)).isoformat(),
                letter_ref=f"s/ac.49/{frm.year}/oc.{index + 1}",
                shipments_allowed=3,
            )
            for n in range(draw(st.integers(0, 3))):
                add(
                    "ShipmentRecorded",
                    shipment_no=n + 1,
                    shipped_on=(frm + timedelta(days=10 * (n + 1))).isoformat(),
                    note=secret(built.never),
                )
            if draw(st.booleans()):
                add(
                    "ExtensionRequested",
                    procedure="extension-1",
                    requested_until=(frm + timedelta(days=270)).isoformat(),
                    reason=secret(built.never),
                )
                review_round("extension-1")
                if draw(st.booleans()):
                    add(
                        "ExtensionGranted",
                        procedure="extension-1",
                        valid_until=(frm + timedelta(days=270)).isoformat(),
                    )
                else:
                    add("ExtensionRefused", procedure="extension-1", reason=secret(built.never))
        elif ending == "refused":
            add("ExemptionRefused", procedure="initial", reason=secret(built.never))
        elif ending == "withdrawn":
            add("RequestWithdrawn", procedure="initial", reason=secret(built.never))
        if ending != "approved" and disclosure == "confidential":
            built.not_public |= {title, org, item}
    elif disclosure == "confidential":
        built.not_public |= {title, org, item}
    return built


@st.composite
def histories(draw: st.DrawFn) -> list[Built]:
    position = [0]
    used: set[str] = set()
    count = draw(st.integers(1, 5))
    return [draw(history(i, position, used)) for i in range(count)]


def _views(built: list[Built]) -> list[dict[str, Any]]:
    from projections.request import fold, view

    out = []
    for b in built:
        state = fold(b.events)
        assert state is not None
        out.append(view(state, NOW))
    return out


async def _public_outputs(views: list[dict[str, Any]]) -> dict[str, str]:
    app = make_app(views, now=NOW)
    paths = [
        "/public/requests?limit=200",
        "/public/stats",
        "/public/feed.atom",
        "/public/feed.json",
        "/public/requests.csv",
        "/",
        "/stats",
    ]
    for v in views:
        paths += [f"/public/requests/{v['request_id']}", f"/requests/{v['request_id']}"]
    for status in ("pending", "active", "submitted"):
        paths.append(f"/?status={status}")
    out = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as c:
        for path in paths:
            response = await c.get(path)
            assert response.status_code in (200, 404), (path, response.status_code)
            out[path] = (
                response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            )
    return out


_SIBLING = hashlib.sha256(b"a sibling in the tree").digest()
#: The actor every generated event is recorded by: metadata, always sealed.
ACTOR = "ACTORSECRET00042"


def _receipts(built: list[Built], views: list[dict[str, Any]]) -> dict[str, str]:
    """Each request's receipt as the service builds it (`receipt_events`, disclosed forms),
    from its events given whole: a salt each, the actor in metadata."""
    out = {}
    for b, v in zip(built, views, strict=True):
        chosen = receipt_events(v, b.events)
        disclosed = [
            disclosed_form(
                {
                    "position": e.position,
                    # letters among the digits: a 16-digit secret must not match by chance
                    "event_id": f"{e.position:08x}-abcd-4abc-8abc-abcdefabcdef",
                    "stream_id": f"request-{v['request_id']}",
                    "stream_version": e.stream_version,
                    "event_type": e.event_type,
                    "schema_version": 1,
                    "occurred_at": _time(e.occurred_at),
                    "recorded_at": _time(e.occurred_at),
                    "data": e.data,
                    "metadata": {"actor": {"id": "tok_1", "name": ACTOR, "role": "secretariat"}},
                    "salt": new_salt(),
                }
            )
            for e in chosen
        ]
        receipt = build_receipt(
            request_id=str(v["request_id"]),
            origin="docket.test/log",
            log_key="docket.test/log+00000000+AQ==",
            witnesses=[],
            quorum=0,
            checkpoint="docket.test/log\n1\nAA==\n\n",
            statement="docket.receipt-statement/v1\n\n",
            proved=[ProvedEvent(d, [_SIBLING]) for d in disclosed[:-1]],
            pending=disclosed[-1:],
        )
        out[f"receipt:{v['request_id']}"] = orjson.dumps(receipt).decode()
    return out


def _contains_code(text: str, code: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){code}(?![A-Za-z0-9])", text) is not None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_no_confidential_value_in_any_public_or_applicant_output(built: list[Built]) -> None:
    views = _views(built)
    public = asyncio.run(_public_outputs(views))
    public |= _receipts(built, views)
    applicant = {
        f"applicant:{v['request_id']}": orjson.dumps(applicant_request(v)).decode() for v in views
    }
    never = set().union(*(b.never for b in built)) | {ACTOR}
    not_public = set().union(*(b.not_public for b in built))
    codes = set().union(*(b.member_codes for b in built))
    # the public text of a hidden request may coincide with a published request's
    shown_elsewhere: set[str] = set()
    for v in views:
        if v["disclosure"] == "public" or v["approved_at"]:
            shown_elsewhere |= {v["title"], v["applicant"]["name"], v["items"][0]["description"]}
    not_public -= shown_elsewhere
    for where, text in public.items():
        for value in never | not_public:
            assert value not in text, f"{value!r} leaked in {where}"
        for code in codes:
            assert not _contains_code(text, code), f"member {code} leaked in {where}"
    for where, text in applicant.items():
        for value in never:
            assert value not in text, f"{value!r} leaked in {where}"
        for code in codes:
            assert not _contains_code(text, code), f"member {code} leaked in {where}"


def test_every_field_of_a_public_record_names_its_clear_sources() -> None:
    """One table, two uses: a public record shows only what `RECORD_SOURCES` says it is
    made of, and none of that is sealed by the table the leaf hash splits on (§7.1)."""
    assert sealed_sources() == []
    approved = _views([_approved_history()])[0]
    record = public_request(approved, NOW)
    assert record is not None and set(record) == set(RECORD_SOURCES)


def _approved_history() -> Built:
    from tests.public.scenario import History

    h = History("HX-2026-0777", START)
    h.add(
        "RequestSubmitted",
        0,
        request_id="HX-2026-0777",
        applicant={"name": "zqorg", "kind": "ngo"},
        channel="direct",
        title="zqtitle",
        purpose="P",
        beneficiaries="B",
        items=[{"description": "zqitem", "quantity": 1, "unit": "u", "value_usd": 1}],
        urgent=False,
        requested_validity_months=6,
        disclosure="confidential",
    )
    h.add("RequestCirculated", 1, procedure="initial", deadline=_time(START), expedited=False)
    h.add(
        "ExemptionApproved",
        9,
        procedure="initial",
        valid_from="2024-01-10",
        valid_until="2024-07-10",
        letter_ref="L",
        shipments_allowed=3,
    )
    return Built(events=h.events)


def test_the_checker_sees_a_leak() -> None:
    """The search above would notice a member code or a note if one got through."""
    text = '{"active_holds":[{"member":"QMA"}],"note":"ABCDEFGHIJKL1"}'
    assert _contains_code(text, "QMA")
    assert "ABCDEFGHIJKL1" in text
