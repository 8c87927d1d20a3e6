"""Collection reads as of a moment through the API, on both backends: each answer of
`GET /v1/requests` (with its filters), `/v1/members/{member}/holds`, `/v1/stats/holds`,
`/v1/stats/processing` and `/public/stats` as of a time and/or a position equals a fold
of the log to that moment; a retraction counts before its position and not from it;
every answer names its moment; bad values are 4xx problems."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from events.model import RecordedEvent, parse_utc, utc_text
from projections import holds as hold_rows
from projections.intervals.queries import hold_items
from projections.intervals.steps import summary
from projections.public import public_statistics
from projections.request import RequestState, fold, status, view
from projections.stats import RequestFacts, hold_stats, processing_stats
from service.public.pages import render_stats
from tests.api.conftest import PROBLEM, Api, Clock, ago, make_request, open_api, seat

TZ = ZoneInfo("America/New_York")


async def _history(api: Api) -> dict[str, int]:
    """Requests held, released, decided, some backdated, one hold retracted."""
    await seat(api)
    held = await make_request(api, "on_hold", holder="USA")
    other = await make_request(api, "on_hold", holder="CHN")
    await make_request(api, "approved")
    await make_request(api, "refused")
    await api.ok(f"/v1/requests/{held}/holds", {"member": "FRA", "occurred_at": ago(15)})
    released = await api.ok(f"/v1/requests/{held}/holds/USA/release", {"occurred_at": ago(10)})
    placed = await api.ok(f"/v1/requests/{other}/holds", {"member": "GBR", "occurred_at": ago(2)})
    retraction = await api.ok(
        f"/v1/requests/{other}/retractions",
        {"target_position": placed["position"], "reason": "recorded in error"},
    )
    return {"released": released["position"], "retraction": retraction["position"]}


async def _log(api: Api) -> list[RecordedEvent]:
    store = api.app.state.runtime.store
    events: list[RecordedEvent] = await store.read_all(0, 10_000, upcast=True)
    return events


def _folded(
    log: list[RecordedEvent], at: datetime, position: int | None
) -> list[tuple[RequestState, hold_rows.Holds]]:
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for e in log:
        if e.stream_id.startswith("request-"):
            streams[e.stream_id].append(e)
    out = []
    for events in streams.values():
        # SPEC §5: the events up to the position, less the targets of the retractions
        # among them (at every business time), those that occurred by `at`
        upto = [e for e in events if position is None or e.position <= position]
        taken_back = {e.data["target_position"] for e in upto if e.event_type == "EventRetracted"}
        chosen = [e for e in upto if e.position not in taken_back and e.occurred_at <= at]
        state = fold(chosen)
        if state is not None:
            out.append((state, hold_rows.fold(chosen)))
    return sorted(out, key=lambda pair: pair[0].request_id)


def _facts(state: RequestState, at: datetime) -> RequestFacts:
    outcome = state.procedures[0].outcome
    decided = outcome in ("approved", "refused")
    return RequestFacts(
        request_id=state.request_id,
        submitted_at=state.submitted_at,
        status=status(state, at, TZ),
        decided_at=state.decided_at if decided else None,
        outcome=outcome if decided else None,  # type: ignore[arg-type]
    )


async def _check(api: Api, log: list[RecordedEvent], at: datetime, position: int | None) -> None:
    params: dict[str, Any] = {"as_of": utc_text(at)}
    if position is not None:
        params["at_position"] = position
    folded = _folded(log, at, position)
    head = max(e.position for e in log)
    stamp = {"as_of": utc_text(at), "at_position": head if position is None else position}

    answer = await api.get("/v1/requests", "auditor", params={**params, "limit": 500})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert answer.headers["X-Docket-Position"] == str(stamp["at_position"])
    assert {k: body[k] for k in stamp} == stamp
    expected = [{**summary(s), "status": status(s, at, TZ)} for s, _ in folded]
    assert body["items"] == expected, (at, position)
    on_hold = await api.get("/v1/requests", "auditor", params={**params, "status": "on_hold"})
    assert on_hold.json()["items"] == [i for i in expected if i["status"] == "on_hold"]
    by_usa = await api.get("/v1/requests", "auditor", params={**params, "held_by": "USA"})
    assert by_usa.json()["items"] == [
        {**summary(s), "status": status(s, at, TZ)}
        for s, _ in folded
        if "USA" in {h.member for h in s.active_holds}
    ]

    holds = [h for _, every in folded for h in every]
    usa = await api.get("/v1/members/USA/holds", "auditor", params=params)
    assert usa.json() == {
        "member": "USA",
        "items": hold_items(sorted((h for h in holds if h.member == "USA"), key=_pos), at),
        **stamp,
    }
    stats = await api.get("/v1/stats/holds", "auditor", params=params)
    assert stats.json() == {"members": hold_stats(holds, at), **stamp}
    processing = await api.get("/v1/stats/processing", "auditor", params=params)
    assert processing.json() == {
        "years": processing_stats([_facts(s, at) for s, _ in folded]),
        **stamp,
    }


def _pos(hold: hold_rows.Hold) -> int:
    return hold.position


async def test_collections_as_of_equal_a_fold_of_the_log(api: Api) -> None:
    marks = await _history(api)
    log = await _log(api)
    times = sorted({e.occurred_at for e in log} | {parse_utc(ago(0))})
    probes: list[tuple[datetime, int | None]] = [(t, None) for t in times[::3]]
    probes += [(times[-1], p) for p in range(1, len(log) + 1, 2)]
    probes += [(parse_utc(ago(12)), p) for p in (marks["released"] - 1, marks["released"])]
    probes += [(parse_utc(ago(1)), p) for p in (marks["retraction"] - 1, marks["retraction"])]
    for at, position in probes:
        await _check(api, log, at, position)


async def test_an_item_of_the_list_now_is_its_request_as_read_alone(api: Api) -> None:
    """`request_state` keeps no whole view: a list's items are their streams folded (a
    retraction's target left out), each what `GET /v1/requests/{id}` gives that role."""
    await _history(api)
    for role in ("secretariat", "applicant"):  # the applicant's: all four are its own
        items = (await api.get("/v1/requests", role)).json()["items"]
        assert len(items) == 4
        for item in items:
            assert item == await api.state(item["request_id"], role)
    held = (await api.get("/v1/requests", params={"status": "on_hold"})).json()["items"]
    assert sorted(h["member"] for item in held for h in item["active_holds"]) == ["CHN", "FRA"]


async def test_a_retraction_counts_before_its_position_not_from_it(api: Api) -> None:
    marks = await _history(api)
    at = ago(0)  # after the retraction in business time too (it occurred now)

    async def gbr(position: int) -> int:
        params = {"as_of": at, "at_position": position}
        answer = await api.get("/v1/members/GBR/holds", "auditor", params=params)
        return len(answer.json()["items"])

    assert await gbr(marks["retraction"] - 1) == 1
    assert await gbr(marks["retraction"]) == 0


async def test_a_mistaken_hold_retracted_now_never_counted_at_the_head(api: Api) -> None:
    """A hold recorded by mistake 20 days ago and retracted now: at the head no answer as
    of any time since shows it (the retraction corrects the past); at the position before
    the retraction every answer does."""
    await seat(api)
    rid = await make_request(api, "awaiting_decision")
    placed = await api.ok(f"/v1/requests/{rid}/holds", {"member": "GBR", "occurred_at": ago(20)})
    retraction = (
        await api.ok(
            f"/v1/requests/{rid}/retractions",
            {"target_position": placed["position"], "reason": "recorded in error"},
        )
    )["position"]
    for at in (ago(19), ago(10), ago(0)):
        for position, counted in ((None, False), (retraction, False), (retraction - 1, True)):
            params: dict[str, Any] = {"as_of": at}
            if position is not None:
                params["at_position"] = position
            one = await api.get(f"/v1/requests/{rid}", "auditor", params=params)
            assert one.status_code == 200, one.text
            assert one.json()["status"] == ("on_hold" if counted else "awaiting_decision")
            held = await api.get("/v1/requests", "auditor", params={**params, "status": "on_hold"})
            assert [i["request_id"] for i in held.json()["items"]] == ([rid] if counted else [])
            stats = (await api.get("/v1/stats/holds", "auditor", params=params)).json()
            gbr = [m for m in stats["members"] if m["member"] == "GBR"]
            assert len(gbr) == (1 if counted else 0), (at, position, stats)
            holds = await api.get("/v1/members/GBR/holds", "auditor", params=params)
            assert len(holds.json()["items"]) == (1 if counted else 0)


async def test_a_date_is_the_end_of_that_day(api: Api) -> None:
    await _history(api)
    day = ago(10)[:10]
    by_day = await api.get("/v1/requests", "auditor", params={"as_of": day})
    by_time = await api.get("/v1/requests", "auditor", params={"as_of": f"{day}T23:59:59.999999Z"})
    assert by_day.json() == by_time.json()
    assert by_day.json()["as_of"] == f"{day}T23:59:59.999999Z"


async def test_bad_moments_are_problems(api: Api) -> None:
    await _history(api)
    head = await api.head()
    for path in (
        "/v1/requests",
        "/v1/members/USA/holds",
        "/v1/stats/holds",
        "/v1/stats/processing",
    ):
        for params in (
            {"as_of": "yesterday"},
            {"as_of": "2026-01-01T00:00:00"},
            {"as_of": "2026-02-30"},
            {"at_position": -1},
            {"at_position": "x"},
            {"at_position": head + 1},
        ):
            answer = await api.get(path, "auditor", params=params)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.headers["content-type"] == PROBLEM


async def test_moments_out_of_bounds_are_problems(api: Api) -> None:
    """`as_of` after now or before 2000 (SPEC §5): a 422 naming `as-of-within-bounds`
    on every read that takes one; now is the runtime's clock."""
    await seat(api)
    rid = await make_request(api, "submitted")
    now = api.app.state.runtime.clock()
    later = now + timedelta(seconds=5)
    for path in (
        "/v1/requests",
        f"/v1/requests/{rid}",
        "/v1/committee",
        "/v1/members/USA/holds",
        "/v1/stats/holds",
        "/v1/stats/processing",
    ):
        for as_of in (
            utc_text(later),
            "5000-01-01T00:00:00Z",
            "9998-12-31T23:59:59Z",
            "1999-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00Z",
        ):
            answer = await api.get(path, "auditor", params={"as_of": as_of})
            assert answer.status_code == 422, (path, as_of, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert answer.json()["rule"] == "as-of-within-bounds", (path, as_of, answer.text)
        if path != "/v1/committee":  # a time only there (RFC 3339)
            for day in ((later + timedelta(days=1)).date().isoformat(), "1999-12-31"):
                answer = await api.get(path, "auditor", params={"as_of": day})
                assert answer.status_code == 422, (path, day, answer.text)
                assert answer.json()["rule"] == "as-of-within-bounds"
        edge = await api.get(path, "auditor", params={"as_of": "2000-01-01T00:00:00Z"})
        # within bounds: answered (the request did not exist yet then)
        assert edge.status_code == (404 if rid in path else 200), (path, edge.text)
    # a date of today names now: the rest of the day has not happened
    today = await api.get("/v1/stats/processing", "auditor", params={"as_of": ago(0)[:10]})
    assert today.status_code == 200, today.text
    assert parse_utc(today.json()["as_of"]) <= api.app.state.runtime.clock()


async def test_public_stats_as_of_a_day_and_a_published_checkpoint(
    database_url: str, tmp_path: Path
) -> None:
    # The history is dated from the day the suite runs (`ago`): the clock starts there,
    # and moves a day on once a checkpoint covers it (public statistics are yesterday's).
    clock = Clock(datetime.now(UTC))
    async for api in open_api(
        database_url, tmp_path, clock=clock, checkpoint_interval_seconds=10**7
    ):
        await _history(api)
        log = await _log(api)
        runtime = api.app.state.runtime
        signed = await runtime.tree.sign_checkpoint(runtime.signer, runtime.settings.log_origin)
        assert signed is not None
        size = signed.tree_size
        clock.advance(days=1)
        day = ago(10)[:10]
        at = parse_utc(f"{day}T23:59:59.999999Z")
        views = [view(s, at, TZ) for s, _ in _folded(log, at, size)]
        expected = {**public_statistics(views, at), "as_of": day, "at_position": size}
        answer = await api.get("/public/stats", None, params={"as_of": day})
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected
        assert "X-Docket-Position" not in answer.headers
        # the /stats page of that day charts the same statistics
        page = await api.get("/stats", None, params={"as_of": day})
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        latest = (clock() - timedelta(days=1)).date().isoformat()
        assert page.text == render_stats(expected, as_of=day, latest=latest)
        assert f"Statistics at the end of {day}" in page.text
        # finer than a day, or a position that is no published checkpoint: refused
        for path, params, code in (
            ("/public/stats", {"as_of": ago(10)}, 422),
            ("/public/stats", {"at_position": 3}, 422),
            ("/stats", {"as_of": ago(10)}, 400),
        ):
            refused = await api.get(path, None, params=params)
            assert refused.status_code == code, (path, params, refused.text)
        answer = await api.get("/public/stats", None, params={"as_of": day, "at_position": size})
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected
