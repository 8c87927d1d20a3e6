"""Reads over HTTP: time travel, history, the roster as of a date, holds and statistics,
the raw log in pages, its live stream (resumed with `Last-Event-ID`), the export, and
the operations endpoints."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest

from tests.api.conftest import PROBLEM, Api, ago, make_request, seat, submission

pytestmark = pytest.mark.filterwarnings("ignore")

COLUMNS = {
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
    "salt",  # SPEC §4: auditors get every event whole, to recompute every hash
}
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_time_travel_by_business_time_and_by_position(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "on_hold", holder="FRA")  # submitted 40, held 25 days ago
    released = await api.ok(f"/v1/requests/{rid}/holds/FRA/release", {"occurred_at": ago(10)})
    now = await api.state(rid)
    assert now["status"] == "awaiting_decision" and now["active_holds"] == []

    async def at(**params: Any) -> dict[str, Any]:
        response = await api.get(f"/v1/requests/{rid}", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{response.json()["stream_version"]}"'
        document: dict[str, Any] = response.json()
        return document

    assert (await at(as_of=ago(35)))["status"] == "submitted"
    held = await at(as_of=ago(20))
    assert held["status"] == "on_hold" and [h["member"] for h in held["active_holds"]] == ["FRA"]
    assert (await at(as_of=ago(5)))["status"] == "awaiting_decision"
    before_release = await at(at_position=released["position"] - 1)
    assert before_release["stream_version"] == released["stream_version"] - 1
    assert [h["member"] for h in before_release["active_holds"]] == ["FRA"]
    assert (await at(at_position=released["position"]))["active_holds"] == []
    # before the request existed: 404, not an empty state
    for params in ({"as_of": ago(60)}, {"at_position": 1}):
        response = await api.get(f"/v1/requests/{rid}", params=params)
        assert response.status_code == 404 and response.headers["content-type"].startswith(PROBLEM)
    for params in ({"as_of": "yesterday"}, {"as_of": "2026-01-01T00:00:00"}, {"at_position": -1}):
        response = await api.get(f"/v1/requests/{rid}", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    # the applicant time-travels its own request too, without member codes
    mine = await api.get(f"/v1/requests/{rid}", "applicant", params={"as_of": ago(20)})
    assert mine.status_code == 200 and mine.json()["on_hold"] is True and "FRA" not in mine.text


async def test_history(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "on_hold", holder="GBR")
    history = (await api.get(f"/v1/requests/{rid}/history")).json()
    assert history["request_id"] == rid
    rows = history["items"]
    assert [row["version"] if "version" in row else row["stream_version"] for row in rows] == [
        1,
        2,
        3,
    ]
    assert rows[-1]["position"] == (await api.state(rid))["position"]
    assert "GBR" in str(rows)  # the secretariat sees who held
    for row in rows:
        assert UTC_TEXT.match(row["recorded_at"]), row
    assert (await api.get("/v1/requests/HX-2099-0001/history")).status_code == 404


async def test_committee_as_of(api: Api) -> None:
    seats = [
        ("USA", "1945-10-24", None, "2023-01-01T00:00:00Z"),
        ("KOR", "2024-01-01", "2025-12-31", "2023-06-01T00:00:00Z"),
        ("FRA", "1945-10-24", None, "2023-07-01T00:00:00Z"),
    ]
    for member, start, end, at in seats:
        body = {"member": member, "term_start": start, "term_end": end, "occurred_at": at}
        await api.ok("/v1/committee/members", body)

    async def members(as_of: str | None) -> set[str]:
        params = {"as_of": as_of} if as_of else {}
        response = await api.get("/v1/committee", "applicant", params=params)
        assert response.status_code == 200, response.text
        return {m["member"] for m in response.json()["members"]}

    assert await members(None) == {"USA", "FRA"}  # KOR's term ended
    assert await members("2025-06-01T12:00:00Z") == {"USA", "FRA", "KOR"}
    assert await members("2023-08-01T00:00:00Z") == {"USA", "FRA"}  # KOR's term not begun
    assert await members("2023-03-01T00:00:00Z") == {"USA"}  # FRA not yet recorded
    then = (await api.get("/v1/committee", params={"as_of": "2025-06-01T12:00:00Z"})).json()
    usa = next(m for m in then["members"] if m["member"] == "USA")
    assert usa["permanent"] is True and usa["term_end"] is None
    bad = await api.get("/v1/committee", params={"as_of": "June"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


async def test_member_holds_and_statistics(api: Api) -> None:
    await seat(api)
    first = await make_request(api, "on_hold", holder="RUS")
    await api.ok(f"/v1/requests/{first}/holds/RUS/release", {"occurred_at": ago(5)})
    second = await make_request(api, "on_hold", holder="RUS")
    await make_request(api, "approved")
    await make_request(api, "refused")
    holds = (await api.get("/v1/members/RUS/holds")).json()
    assert holds["member"] == "RUS"
    by_request = {h["request_id"]: h for h in holds["items"]}
    assert set(by_request) == {first, second}
    assert by_request[first]["active"] is False and by_request[first]["end"]
    assert by_request[second]["active"] is True and by_request[second]["ended_at"] is None
    assert by_request[first]["duration_days"] == pytest.approx(20, abs=0.1)
    assert (await api.get("/v1/members/USA/holds")).json()["items"] == []

    stats = (await api.get("/v1/stats/holds", "auditor")).json()
    rus = next(m for m in stats["members"] if m["member"] == "RUS")
    assert rus.keys() >= {
        "member",
        "holds_placed",
        "active_holds",
        "total_hold_days",
        "median_hold_days",
    }
    assert rus["holds_placed"] == 2 and rus["active_holds"] == 1
    processing = (await api.get("/v1/stats/processing", "auditor")).json()
    assert processing["years"], processing
    for year in processing["years"]:
        assert year.keys() >= {
            "year",
            "submitted",
            "approved",
            "refused",
            "median_days_to_decision",
            "mean_days_to_decision",
        }
    assert sum(y["submitted"] for y in processing["years"]) == 4
    assert sum(y["approved"] for y in processing["years"]) == 1
    assert sum(y["refused"] for y in processing["years"]) == 1


async def test_list_filters_and_cursor_pages(api: Api) -> None:
    await seat(api)
    held = await make_request(api, "on_hold", holder="CHN")
    others = [await make_request(api, "submitted") for _ in range(4)]
    mdm = await make_request(api, "submitted", org="Médecins du Monde")
    everything = sorted([held, mdm, *others])

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/v1/requests", params=params)
        assert response.status_code == 200, response.text
        return [item["request_id"] for item in response.json()["items"]]

    assert await ids(status="on_hold") == [held]
    assert await ids(held_by="CHN") == [held]
    assert await ids(held_by="USA") == []
    assert await ids(applicant="Médecins du Monde") == [mdm]
    assert await ids(submitted_after=ago(41)) == everything
    assert await ids(submitted_before=ago(41)) == []
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/requests", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    for params in ({"status": "lost"}, {"limit": 0}, {"held_by": "usa"}, {"cursor": "%%%"}):
        response = await api.get("/v1/requests", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_the_raw_log_in_pages_with_its_hashes(api: Api) -> None:
    await seat(api, ("USA",))
    for _ in range(4):
        await api.ok("/v1/requests", submission())
    head = await api.head()
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await api.get("/v1/events", "auditor", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["position"] for e in items] == list(range(1, head + 1))
    previous = "00" * 32
    for event in items:
        assert set(event) >= COLUMNS, set(event)
        assert event["prev_hash"] == previous
        assert UTC_TEXT.match(event["occurred_at"]) and UTC_TEXT.match(event["recorded_at"])
        assert event["metadata"]["actor"]["role"] == "secretariat"
        previous = event["hash"]
    after = (await api.get("/v1/events", params={"after": head - 1})).json()
    assert [e["position"] for e in after["items"]] == [head] and after["next_cursor"] is None
    # the export gives the same events as JSON Lines
    export = await api.get("/v1/export", "auditor")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/jsonl")
    lines = [orjson.loads(line) for line in export.content.splitlines()]
    assert lines == items
    assert hashlib.sha256(export.content).hexdigest()  # bytes, streamed whole


async def test_server_sent_events_resume_from_last_event_id(api: Api) -> None:
    await seat(api, ("USA", "FRA", "GBR"))
    head = await api.head()
    response = await api.get("/v1/events/stream", "auditor", params={"follow": "false"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    assert [f.splitlines()[0] for f in frames] == [f"id: {p}" for p in range(1, head + 1)]
    assert frames[0].splitlines()[1] == "event: MemberSeated"
    first = orjson.loads(frames[0].splitlines()[2].removeprefix("data: "))
    assert set(first) >= COLUMNS
    resumed = await api.get(
        "/v1/events/stream",
        "auditor",
        params={"follow": "false"},
        headers={"Last-Event-ID": "2"},
    )
    ids = [line for line in resumed.text.splitlines() if line.startswith("id: ")]
    assert ids == [f"id: {p}" for p in range(3, head + 1)]
    bad = await api.get(
        "/v1/events/stream", params={"follow": "false"}, headers={"Last-Event-ID": "x"}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


async def test_proofs(api: Api) -> None:
    await seat(api, ("USA", "FRA", "GBR", "RUS"))
    inclusion = (
        await api.get("/v1/log/proofs/inclusion", "auditor", params={"position": 2, "tree_size": 4})
    ).json()
    assert inclusion.keys() >= {"position", "leaf_index", "tree_size", "leaf_hash", "root", "proof"}
    assert inclusion["leaf_index"] == 1 and len(inclusion["proof"]) == 2
    consistency = (
        await api.get("/v1/log/proofs/consistency", "auditor", params={"from": 2, "to": 4})
    ).json()
    assert consistency.keys() >= {"from", "to", "root_from", "root_to", "proof"}
    assert consistency["root_to"] == inclusion["root"]
    beyond = await api.get("/v1/log/proofs/inclusion", params={"position": 1, "tree_size": 99})
    assert beyond.status_code in (404, 422) and beyond.headers["content-type"].startswith(PROBLEM)


async def test_operations(api: Api) -> None:
    assert (await api.get("/healthz", None)).json() == {"status": "ok"}
    await seat(api, ("USA",))
    ready = await api.get("/readyz", None)
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}
    for role in ("applicant", "secretariat"):
        told = (await api.get("/readyz", role)).json()
        assert ("log_head" in told) == (role == "secretariat"), told
    ready = await api.get("/readyz", "auditor")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert ready.json()["log_head"] == await api.head()
    assert (await api.get("/metrics", None)).status_code == 401
    assert (await api.get("/metrics", "applicant")).status_code == 403
    metrics = await api.get("/metrics", "auditor")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "docket_http_requests_total",
        "docket_http_request_duration_seconds",
        "docket_events_appended_total",
        "docket_projection_lag_events",
    ):
        assert name in metrics.text, name
    openapi = (await api.get("/openapi.json", None)).json()
    assert openapi["openapi"].startswith("3.1")
    unknown = await api.get("/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(PROBLEM)
    wrong_method = await api.client.delete("/v1/requests", headers=api.auth("secretariat"))
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"].startswith(PROBLEM)
