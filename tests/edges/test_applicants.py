"""What an applicant may learn (SPEC §7): one 404 for another organisation's request and
a missing one, on every path and parameter; no `occurred_at` of its choosing; no time of
an event it may not see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import OTHER_ORG, Api, ago, make_request, seat

MISSING = "HX-2099-9999"


def _told(response: httpx.Response, request_id: str) -> tuple[int, str, str]:
    """What the answer says, the request id itself blanked."""
    return (
        response.status_code,
        response.headers.get("content-type", ""),
        response.text.replace(request_id, "<id>"),
    )


async def test_one_404_for_not_yours_and_does_not_exist(api: Api) -> None:
    await seat(api)
    theirs = await make_request(api, "on_hold", org=OTHER_ORG)
    history = (await api.get(f"/v1/requests/{theirs}/history")).json()["items"]
    submitted_at = history[0]["occurred_at"]
    probes: list[tuple[str, dict[str, str]]] = [("", {})]
    probes += [("", {"as_of": ago(days)}) for days in (100, 41, 39, 10, 0)]
    probes += [("", {"at_position": str(p)}) for p in (0, 1, history[0]["position"], 10**6)]
    probes += [("", {"as_of": submitted_at}), ("/history", {})]
    for suffix, params in probes:
        answers = {
            rid: _told(
                await api.get(f"/v1/requests/{rid}{suffix}", "applicant", params=params), rid
            )
            for rid in (theirs, MISSING)
        }
        assert answers[theirs] == answers[MISSING], (suffix, params, answers)
        assert answers[theirs][0] == 404
        assert OTHER_ORG not in answers[theirs][2]
    for rid in (theirs, MISSING):
        answered = await api.post(
            f"/v1/requests/{rid}/information-responses", {"response": "r"}, role="applicant"
        )
        assert answered.status_code == 404
    posted = [
        _told(
            await api.post(
                f"/v1/requests/{rid}/information-responses", {"response": "r"}, role="applicant"
            ),
            rid,
        )
        for rid in (theirs, MISSING)
    ]
    assert posted[0] == posted[1], posted


async def test_applicants_cannot_choose_occurred_at(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "information_pending")
    head = await api.head()
    backdated = await api.post(
        f"/v1/requests/{rid}/information-responses",
        {"response": "Twelve hospitals.", "occurred_at": ago(26)},
        role="applicant",
    )
    assert backdated.status_code == 422, backdated.text
    assert backdated.json()["rule"] == "occurred-at-set-by-server"
    assert await api.head() == head  # nothing written
    answered = await api.post(
        f"/v1/requests/{rid}/information-responses",
        {"response": "Twelve hospitals."},
        role="applicant",
    )
    assert answered.status_code == 200, answered.text


async def test_no_hidden_event_time_in_an_applicant_answer(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "information_pending")
    # a confidential review step, recorded now by the secretariat
    review = await api.ok(f"/v1/requests/{rid}/reviews", {"step": "legal", "outcome": "ok"})
    hidden = review["events"][0]["occurred_at"]
    # this process's clock a little behind the one that recorded the review (skew)
    commands = api.app.state.runtime.commands
    real = commands.clock
    commands.clock = lambda: real() - timedelta(seconds=5)
    try:
        answered = await api.post(
            f"/v1/requests/{rid}/information-responses",
            {"response": "Twelve hospitals."},
            role="applicant",
        )
    finally:
        commands.clock = real
    assert answered.status_code == 409, answered.text
    for shown in (hidden, hidden[:19], hidden[:16]):
        assert shown not in answered.text, answered.text


async def test_ownership_is_checked_before_the_stream_is_read(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seat(api)
    theirs = await make_request(api, "on_hold", org=OTHER_ORG)
    mine = await make_request(api, "information_pending")
    store = api.app.state.runtime.store
    read: list[str] = []
    for name in ("read_stream", "read_streams"):
        real = getattr(store, name)

        def spy(first: Any, *args: Any, _real: Any = real, **kw: Any) -> Any:
            read.extend([first] if isinstance(first, str) else list(first))
            return _real(first, *args, **kw)

        monkeypatch.setattr(store, name, spy)
    api.app.state.runtime.commands.kept.forget(f"request-{theirs}")
    for rid in (theirs, MISSING):
        for suffix in ("", "/history"):
            answer = await api.get(f"/v1/requests/{rid}{suffix}", "applicant")
            assert answer.status_code == 404, (rid, suffix, answer.text)
        answered = await api.post(
            f"/v1/requests/{rid}/information-responses", {"response": "r"}, role="applicant"
        )
        assert answered.status_code == 404, answered.text
    assert not [s for s in read if theirs in s or MISSING in s], read
    # its own request is still read, and answered
    assert (await api.get(f"/v1/requests/{mine}/history", "applicant")).status_code == 200
    assert any(mine in s for s in read)


async def test_no_hold_time_in_an_applicants_view(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "on_hold")
    held = [
        e
        for e in (await api.get(f"/v1/requests/{rid}/history")).json()["items"]
        if e["event_type"] == "HoldPlaced"
    ]
    (hold,) = held
    placed = hold["occurred_at"]
    for path in (f"/v1/requests/{rid}", f"/v1/requests/{rid}/history", "/v1/requests"):
        answer = await api.get(path, "applicant")
        assert answer.status_code == 200, answer.text
        assert "placed_at" not in answer.text, path
        for shown in (placed, placed[:19], placed[:10]):
            assert shown not in answer.text, (path, shown)
    view = await api.state(rid, "applicant")
    assert view["on_hold"] is True and view["active_hold_count"] == 1
    assert "placed_at" in (await api.state(rid)).get("active_holds", [{}])[0]
