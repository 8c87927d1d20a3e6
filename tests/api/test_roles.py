"""Every path of SPEC §6 against every role: who may, who is refused, and how.

401 without a token or with a bad one, 403 for the wrong role, 404 for another
organisation's request (no existence leak); refusals are problems and write nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PROBLEM, Api, ago, make_request, seat, submission

pytestmark = pytest.mark.filterwarnings("ignore")


def _commands(rid: str) -> list[tuple[str, dict[str, Any]]]:
    base = f"/v1/requests/{rid}"
    return [
        ("/v1/requests", submission()),
        (f"{base}/circulate", {}),
        (f"{base}/holds", {"member": "FRA"}),
        (f"{base}/holds/USA/release", {}),
        (f"{base}/information-requests", {"requested_by": "committee", "questions": "Why?"}),
        (f"{base}/reviews", {"step": "legal", "outcome": "cleared"}),
        (f"{base}/decision", {"outcome": "refused"}),
        (f"{base}/extensions", {"requested_until": "2099-01-01", "reason": "late"}),
        (f"{base}/amendments", {"items": submission()["items"], "reason": "more"}),
        (f"{base}/withdraw", {}),
        (f"{base}/shipments", {"shipment_no": 1, "shipped_on": "2026-01-01"}),
        (f"{base}/annotations", {"target_position": 1, "text": "note"}),
        (f"{base}/retractions", {"target_position": 1, "reason": "wrong"}),
        ("/v1/members/USA/release-all", {}),
        ("/v1/committee/members", {"member": "KOR", "term_start": "2024-01-01"}),
        ("/v1/committee/members/DNK/depart", {"on": "2026-01-01"}),
    ]


def _overseer_reads(rid: str) -> list[str]:
    return [
        "/v1/members/USA/holds",
        "/v1/stats/holds",
        "/v1/stats/processing",
        "/v1/events",
        "/v1/events/stream?follow=false",
        "/v1/log/proofs/inclusion?position=1&tree_size=2",
        "/v1/log/proofs/consistency?from=1&to=2",
        "/v1/export",
    ]


def _any_reads(rid: str) -> list[str]:
    return [
        "/v1/requests",
        f"/v1/requests/{rid}",
        f"/v1/requests/{rid}/history",
        "/v1/committee",
    ]


def _assert_problem(response: Any, status: int, what: str) -> None:
    assert response.status_code == status, (what, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), what
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), (what, body)
    assert body["status"] == status, (what, body)


async def _world(api: Api) -> tuple[str, str]:
    """A WHO request on hold by USA (with a pending question), another org's request."""
    await seat(api)
    rid = await make_request(api, "on_hold")
    await api.ok(
        f"/v1/requests/{rid}/information-requests",
        {"requested_by": "committee", "questions": "Which hospitals?"},
    )
    other = await make_request(api, "information_pending", org="Médecins du Monde")
    return rid, other


async def test_without_or_with_a_bad_token_everything_is_401(api: Api) -> None:
    rid, _ = await _world(api)
    head = await api.head()
    bad = {"Authorization": "Bearer dkt_not-a-token"}
    odd = {"Authorization": "Basic dXNlcjpwYXNz"}
    for path, body in _commands(rid):
        for headers in ({}, bad, odd):
            response = await api.client.post(path, json=body, headers=headers)
            _assert_problem(response, 401, f"POST {path} {headers}")
            assert response.headers.get("www-authenticate") == "Bearer"
    for path in [*_overseer_reads(rid), *_any_reads(rid)]:
        for headers in ({}, bad):
            _assert_problem(await api.client.get(path, headers=headers), 401, f"GET {path}")
    assert await api.head() == head


async def test_auditors_and_applicants_may_not_record(api: Api) -> None:
    rid, _ = await _world(api)
    head = await api.head()
    for path, body in _commands(rid):
        _assert_problem(await api.post(path, body, "auditor"), 403, f"auditor POST {path}")
        if path.endswith("/information-responses"):
            continue
        _assert_problem(await api.post(path, body, "applicant"), 403, f"applicant POST {path}")
    response = await api.post(
        f"/v1/requests/{rid}/information-responses", {"response": "x"}, "auditor"
    )
    _assert_problem(response, 403, "auditor answers")
    assert await api.head() == head


async def test_the_secretariat_is_let_through_every_command(api: Api) -> None:
    rid, _ = await _world(api)
    for path, body in _commands(rid):
        response = await api.post(path, body)
        assert response.status_code not in (401, 403), (path, response.text)
        assert response.status_code < 500, (path, response.text)
        if response.status_code >= 400:
            _assert_problem(response, response.status_code, path)


async def test_reads_by_role(api: Api) -> None:
    rid, _ = await _world(api)
    for path in _overseer_reads(rid) + _any_reads(rid):
        for role in ("secretariat", "auditor"):
            response = await api.get(path, role)
            assert response.status_code == 200, (role, path, response.text)
    for path in _overseer_reads(rid):
        _assert_problem(await api.get(path, "applicant"), 403, f"applicant GET {path}")
    for path in _any_reads(rid):
        assert (await api.get(path, "applicant")).status_code == 200, path


async def test_an_applicant_never_sees_another_organisations_request(api: Api) -> None:
    rid, other = await _world(api)
    for path in (f"/v1/requests/{other}", f"/v1/requests/{other}/history"):
        _assert_problem(await api.get(path, "applicant"), 404, path)
        # the same answer as for a request that does not exist: no existence leak
        missing = await api.get(path.replace(other, "HX-2099-9999"), "applicant")
        assert missing.status_code == 404
    listed = (await api.get("/v1/requests", "applicant")).json()
    assert [item["request_id"] for item in listed["items"]] == [rid]
    # `applicant=` cannot widen an applicant's list
    widened = await api.get("/v1/requests", "applicant", params={"applicant": "Médecins du Monde"})
    assert widened.status_code == 200 and widened.json()["items"] == []
    refused = await api.get("/v1/requests", "applicant", params={"held_by": "USA"})
    _assert_problem(refused, 403, "applicant held_by")
    other_listed = (await api.get("/v1/requests", "other")).json()
    assert [item["request_id"] for item in other_listed["items"]] == [other]


async def test_an_applicant_answers_its_own_information_request_only(api: Api) -> None:
    rid, other = await _world(api)
    head = await api.head()
    response = await api.post(
        f"/v1/requests/{other}/information-responses", {"response": "ours"}, "applicant"
    )
    _assert_problem(response, 404, "answer another org's")
    assert await api.head() == head
    answer = await api.ok(
        f"/v1/requests/{rid}/information-responses",
        {"response": "Fourteen county hospitals."},
        role="applicant",
    )
    assert answer["events"][0]["event_type"] == "InformationProvided"
    assert answer["events"][0]["metadata"]["actor"]["role"] == "applicant"
    state = await api.state(rid, "applicant")
    assert state["information_pending"] is False
    again = await api.post(
        f"/v1/requests/{rid}/information-responses", {"response": "again"}, "applicant"
    )
    _assert_problem(again, 409, "answer twice")
    assert again.json()["rule"] == "information-response-requires-pending-request"


async def test_applicant_view_hides_the_members(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "on_hold", holder="PAK")
    await api.ok(
        f"/v1/requests/{rid}/information-requests",
        {"requested_by": "DNK", "questions": "Which hospitals?", "occurred_at": ago(24)},
    )
    await api.ok(f"/v1/requests/{rid}/reviews", {"step": "legal", "outcome": "ok", "member": "GBR"})
    full = await api.state(rid)
    assert full["active_holds"][0]["member"] == "PAK"
    for path in (f"/v1/requests/{rid}", f"/v1/requests/{rid}/history", "/v1/requests"):
        response = await api.get(path, "applicant")
        assert response.status_code == 200
        for code in ("PAK", "DNK", "GBR"):
            assert code not in response.text, (path, code)
        assert "more time" not in response.text  # the hold's reason
    view = await api.state(rid, "applicant")
    assert view["on_hold"] is True
    assert view["information_pending"] is True
    assert view["status"] == "on_hold"
    assert [q["questions"] for q in view["information_requests"]] == ["Which hospitals?"]
    assert "actor" not in (await api.get(f"/v1/requests/{rid}/history", "applicant")).text
