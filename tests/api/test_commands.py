"""The secretariat's commands over HTTP: every path of SPEC §6 once, read-your-writes after
each, rule breaches (409 with `rule`), malformed bodies (422), `If-Match` (412, ETag) and
`Idempotency-Key` (20 copies at once: one event, 20 identical answers)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.platform.settings import Settings
from tests.api.conftest import PROBLEM, Api, ago, make_request, seat, submission

pytestmark = pytest.mark.filterwarnings("ignore")


def day(days_ago: float) -> str:
    """A date `days_ago` before today in the committee's time zone (the default setting)."""
    today = datetime.now(ZoneInfo(Settings().time_zone))
    return (today - timedelta(days=days_ago)).date().isoformat()


async def _reflected(api: Api, answer: dict[str, Any], request_id: str) -> None:
    """Read-your-writes: the state and the list show the command just answered."""
    state = await api.state(request_id)
    assert state["stream_version"] == answer["stream_version"], (state, answer)
    assert state["position"] == answer["position"], (state, answer)
    listed = (await api.get("/v1/requests", params={"limit": 500})).json()["items"]
    mine = [item for item in listed if item["request_id"] == request_id]
    assert len(mine) == 1
    if "stream_version" in mine[0]:
        assert mine[0]["stream_version"] == answer["stream_version"], (mine[0], answer)


def _problem(response: Any, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    if rule is not None:
        assert body.get("rule") == rule, body
        assert body["type"].endswith(rule)
    return body


async def test_a_whole_life_through_every_command(api: Api) -> None:
    await seat(api)
    answer = await api.ok("/v1/requests", submission(occurred_at=ago(100)))
    rid = answer["request_id"]
    assert rid.startswith(f"HX-{ago(100)[:4]}-")
    assert answer["stream_version"] == 1 and answer["events"][0]["event_type"] == "RequestSubmitted"
    await _reflected(api, answer, rid)
    base = f"/v1/requests/{rid}"
    steps: list[tuple[str, dict[str, Any], str]] = [
        (f"{base}/circulate", {"occurred_at": ago(99), "deadline": ago(90)}, "RequestCirculated"),
        (f"{base}/holds", {"member": "USA", "note": "n", "occurred_at": ago(98)}, "HoldPlaced"),
        (f"{base}/holds/USA/release", {"occurred_at": ago(97)}, "HoldReleased"),
        (
            f"{base}/information-requests",
            {"requested_by": "FRA", "questions": "Which?", "occurred_at": ago(96)},
            "InformationRequested",
        ),
        (
            f"{base}/information-responses",
            {"response": "These.", "occurred_at": ago(95)},
            "InformationProvided",
        ),
        (
            f"{base}/reviews",
            {"step": "legal", "outcome": "cleared", "member": "GBR", "occurred_at": ago(94)},
            "ReviewStepRecorded",
        ),
        (
            f"{base}/decision",
            {"outcome": "approved", "letter_ref": "S/AC.49/1", "occurred_at": ago(80)},
            "ExemptionApproved",
        ),
        (
            f"{base}/extensions",
            {"requested_until": day(-200), "reason": "late", "occurred_at": ago(70)},
            "ExtensionRequested",
        ),
        (f"{base}/circulate", {"occurred_at": ago(69), "deadline": ago(60)}, "RequestCirculated"),
        (
            f"{base}/decision",
            {"outcome": "approved", "valid_until": day(-200), "occurred_at": ago(50)},
            "ExtensionGranted",
        ),
        (
            f"{base}/amendments",
            {"items": submission()["items"] * 2, "reason": "more", "occurred_at": ago(40)},
            "AmendmentRequested",
        ),
        (f"{base}/circulate", {"occurred_at": ago(39), "deadline": ago(30)}, "RequestCirculated"),
        (
            f"{base}/decision",
            {"outcome": "approved", "occurred_at": ago(20)},
            "AmendmentApproved",
        ),
        (
            f"{base}/shipments",
            {"shipment_no": 1, "shipped_on": day(10), "occurred_at": ago(10)},
            "ShipmentRecorded",
        ),
        (f"{base}/annotations", {"target_position": 0, "text": "see letter"}, "EntryAnnotated"),
        (f"{base}/retractions", {"target_position": 0, "reason": "typo"}, "EventRetracted"),
    ]
    shipment = 0
    for path, body, event_type in steps:
        if "target_position" in body:
            body = {**body, "target_position": shipment}
        response = await api.post(path, body)
        assert response.status_code == 200, (path, response.text)
        answer = response.json()
        assert answer["request_id"] == rid
        assert [e["event_type"] for e in answer["events"]] == [event_type], path
        assert response.headers["etag"] == f'"{answer["stream_version"]}"'
        await _reflected(api, answer, rid)
        if event_type == "ShipmentRecorded":
            shipment = answer["position"]
    state = await api.state(rid)
    assert state["status"] == "active"
    assert state["shipments"] == []  # the shipment was retracted
    assert state["valid_until"] == day(-200)
    withdrawn = await make_request(api, "circulated")
    answer = await api.ok(f"/v1/requests/{withdrawn}/withdraw", {"reason": "done"})
    await _reflected(api, answer, withdrawn)
    assert (await api.state(withdrawn))["status"] == "withdrawn"


async def test_committee_commands_and_release_all(api: Api) -> None:
    await seat(api)
    held = [await make_request(api, "on_hold", holder="DNK") for _ in range(2)]
    also = await make_request(api, "on_hold", holder="PAK")
    answer = await api.ok("/v1/members/DNK/release-all", {"note": "instructions"})
    assert answer["released"] == sorted(held)
    assert {e["event_type"] for e in answer["events"]} == {"HoldReleased"}
    for rid in held:
        assert (await api.state(rid))["active_holds"] == []
    again = await api.ok("/v1/members/DNK/release-all", {})
    assert again["released"] == [] and again["events"] == []
    seated = await api.post(
        "/v1/committee/members", {"member": "KOR", "term_start": "2024-01-01", "term_end": None}
    )
    assert seated.status_code == 201 and seated.json()["events"][0]["event_type"] == "MemberSeated"
    departed = await api.ok("/v1/committee/members/PAK/depart", {"on": day(0)})
    types = [e["event_type"] for e in departed["events"]]
    assert types.count("MemberDeparted") == 1 and types.count("HoldLapsed") == 1
    state = await api.state(also)
    assert state["active_holds"] == [] and state["position"] == departed["position"]
    roster = (await api.get("/v1/committee")).json()["members"]
    assert "PAK" not in {m["member"] for m in roster}
    assert "KOR" in {m["member"] for m in roster}


async def test_rule_breaches_are_409_with_the_rule_and_write_nothing(api: Api) -> None:
    await seat(api)
    on_hold = await make_request(api, "on_hold", holder="USA")
    pending = await make_request(api, "information_pending")
    submitted = await make_request(api, "submitted")
    approved = await make_request(api, "approved")
    head = await api.head()
    cases: list[tuple[str, dict[str, Any], str | None]] = [
        (f"/v1/requests/{on_hold}/decision", {"outcome": "approved"}, "approval-blocked-by-hold"),
        (
            f"/v1/requests/{pending}/decision",
            {"outcome": "approved"},
            "approval-blocked-by-information-request",
        ),
        (
            f"/v1/requests/{on_hold}/holds",
            {"member": "BRA"},  # a real country, not on the committee
            "hold-requires-seated-member",
        ),
        (f"/v1/requests/{on_hold}/holds", {"member": "USA"}, "one-active-hold-per-member"),
        (f"/v1/requests/{on_hold}/holds/FRA/release", {}, "release-only-by-holder"),
        (f"/v1/requests/{submitted}/holds", {"member": "FRA"}, "hold-requires-circulation"),
        (f"/v1/requests/{submitted}/decision", {"outcome": "approved"}, None),
        (f"/v1/requests/{on_hold}/circulate", {}, "already-circulated"),
        (f"/v1/requests/{submitted}/circulate", {"occurred_at": ago(-1)}, "occurred-in-future"),
        (
            f"/v1/requests/{submitted}/circulate",
            {"occurred_at": ago(400)},
            "occurred-before-last-event",
        ),
        (f"/v1/requests/{approved}/withdraw", {}, "withdrawal-requires-undecided-request"),
        (
            f"/v1/requests/{approved}/shipments",
            {"shipment_no": 1, "shipped_on": "2001-01-01"},
            "shipment-outside-validity",
        ),
        (f"/v1/requests/{submitted}/retractions", {"target_position": 1, "reason": "x"}, None),
        ("/v1/requests", submission(request_id=submitted), "request-already-exists"),
        ("/v1/committee/members", {"member": "USA", "term_start": "2020-01-01"}, None),
        ("/v1/committee/members/BRA/depart", {"on": "2026-01-01"}, None),
    ]
    for path, body, rule in cases:
        response = await api.post(path, body)
        problem = _problem(response, 409, rule)
        assert problem.get("rule"), (path, problem)
    _problem(await api.post("/v1/requests/HX-2099-0001/circulate", {}), 404, "request-not-found")
    assert await api.head() == head


async def test_malformed_bodies_are_422_and_write_nothing(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    head = await api.head()
    good = submission()
    item = good["items"][0]
    bodies: list[tuple[str, Any]] = [
        ("/v1/requests", {k: v for k, v in good.items() if k != "title"}),
        ("/v1/requests", {**good, "colour": "red"}),
        ("/v1/requests", {**good, "items": []}),
        ("/v1/requests", {**good, "items": [{**item, "value_usd": "lots"}]}),
        ("/v1/requests", {**good, "items": [{**item, "quantity": -1}]}),
        ("/v1/requests", {**good, "channel": "member_state", "sponsor": "XXX"}),
        ("/v1/requests", {**good, "urgent": "maybe"}),
        ("/v1/requests", {**good, "requested_validity_months": 7}),
        ("/v1/requests", {**good, "requested_validity_months": 9}),  # no justification
        ("/v1/requests", {**good, "occurred_at": "2026-02-30T00:00:00Z"}),
        ("/v1/requests", {**good, "occurred_at": "2026-02-01T10:00:00"}),  # no zone
        ("/v1/requests", {**good, "request_id": "hx lower"}),
        ("/v1/requests", {**good, "applicant": {"name": "x", "kind": "company"}}),
        ("/v1/requests", [good]),
        ("/v1/requests", "text"),
        (f"/v1/requests/{rid}/holds", {}),
        (f"/v1/requests/{rid}/holds", {"member": "usa"}),
        (f"/v1/requests/{rid}/holds", {"member": "ZZZ"}),
        (f"/v1/requests/{rid}/holds", {"member": 840}),
        (f"/v1/requests/{rid}/holds", {"member": "USA", "extra": 1}),
        (f"/v1/requests/{rid}/decision", {"outcome": "maybe"}),
        (f"/v1/requests/{rid}/decision", {"outcome": "refused", "letter_ref": "x"}),
        (f"/v1/requests/{rid}/decision", {"outcome": "approved", "reason": "x"}),
        (f"/v1/requests/{rid}/shipments", {"shipment_no": 1, "shipped_on": "yesterday"}),
        (f"/v1/requests/{rid}/shipments", {"shipment_no": 0, "shipped_on": "2026-01-01"}),
        (f"/v1/requests/{rid}/extensions", {"requested_until": "2026-13-01", "reason": "x"}),
        (f"/v1/requests/{rid}/circulate", {"deadline": "soon"}),
        (f"/v1/requests/{rid}/annotations", {"target_position": "one", "text": "x"}),
        (f"/v1/requests/{rid}/annotations", {"target_position": 0, "text": "x"}),
        (f"/v1/requests/{rid}/information-requests", {"requested_by": "nobody", "questions": "?"}),
        (f"/v1/requests/{rid}/reviews", {"step": "", "outcome": "x"}),
        (
            "/v1/committee/members",
            {"member": "KOR", "term_start": "2026-01-01", "term_end": "2025-01-01"},
        ),
        ("/v1/committee/members/USA/depart", {}),
    ]
    for path, body in bodies:
        response = await api.post(path, body)
        problem = _problem(response, 422)
        assert problem["type"].endswith("invalid-payload"), problem
        assert "rule" not in problem
    # path parameters and headers
    _problem(await api.post("/v1/requests/lower-case/circulate", {}), 422)
    _problem(await api.post("/v1/members/usa/release-all", {}), 422)
    _problem(await api.post(f"/v1/requests/{rid}/holds/U5A/release", {}), 422)
    _problem(await api.post(f"/v1/requests/{rid}/withdraw", {}, headers={"If-Match": "three"}), 422)
    bad_key = {"Idempotency-Key": "has space"}
    _problem(await api.post(f"/v1/requests/{rid}/withdraw", {}, headers=bad_key), 422)
    not_json = await api.post(
        f"/v1/requests/{rid}/withdraw",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code in (400, 422), not_json.text
    assert not_json.headers["content-type"].startswith(PROBLEM)
    assert await api.head() == head


async def test_if_match(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    got = await api.get(f"/v1/requests/{rid}")
    etag = got.headers["etag"]
    assert etag == f'"{got.json()["stream_version"]}"'
    head = await api.head()
    stale = await api.post(
        f"/v1/requests/{rid}/holds", {"member": "FRA"}, headers={"If-Match": '"1"'}
    )
    _problem(stale, 412)
    assert await api.head() == head
    fresh = await api.post(
        f"/v1/requests/{rid}/holds", {"member": "FRA"}, headers={"If-Match": etag}
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["etag"] == f'"{fresh.json()["stream_version"]}"'
    assert int(etag.strip('"')) + 1 == fresh.json()["stream_version"]
    # the old ETag is stale now
    replay = await api.post(f"/v1/requests/{rid}/holds/FRA/release", {}, headers={"If-Match": etag})
    _problem(replay, 412)
    weak = await api.post(
        f"/v1/requests/{rid}/holds/FRA/release",
        {},
        headers={"If-Match": "W/" + fresh.headers["etag"]},
    )
    assert weak.status_code == 200, weak.text


async def test_twenty_identical_posts_at_once_give_one_event(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    head = await api.head()
    headers = {"Idempotency-Key": "hold-usa-1"}
    path = f"/v1/requests/{rid}/holds"
    responses = await asyncio.gather(
        *(api.post(path, {"member": "USA"}, headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert await api.head() == head + 1
    state = await api.state(rid)
    assert [h["member"] for h in state["active_holds"]] == ["USA"]
    # a later retry answers the same; another key is a new command (and breaks a rule)
    later = await api.post(path, {"member": "USA"}, headers=headers)
    assert later.status_code == 200 and later.json() == bodies[0]
    other = await api.post(path, {"member": "USA"}, headers={"Idempotency-Key": "hold-usa-2"})
    _problem(other, 409, "one-active-hold-per-member")


async def test_twenty_identical_submissions_at_once_give_one_request(api: Api) -> None:
    head = await api.head()
    headers = {"Idempotency-Key": "submit-1"}
    responses = await asyncio.gather(
        *(api.post("/v1/requests", submission(), headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert await api.head() == head + 1
    listed = (await api.get("/v1/requests")).json()["items"]
    assert [item["request_id"] for item in listed] == [bodies[0]["request_id"]]


async def test_twenty_identical_release_alls_at_once(api: Api) -> None:
    await seat(api)
    held = [await make_request(api, "on_hold", holder="GBR") for _ in range(3)]
    head = await api.head()
    headers = {"Idempotency-Key": "release-gbr"}
    responses = await asyncio.gather(
        *(api.post("/v1/members/GBR/release-all", {}, headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["released"] == sorted(held)
    assert await api.head() == head + 3
