"""The log's head is the overseers' (SPEC §7, §9): `X-Docket-Position` and the wait on
`X-Docket-Min-Position` only after authentication and only for a secretariat or auditor
token; for no token, a bad one or an applicant no position header on any answer, no
wait, no head in a 503; an absurd minimum refused at once; waiters capped per process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

import service.api.read_side as read_side
import service.queries.read_side as read_side_queries
from tests.api.conftest import Api, ago, make_request, seat
from tests.api.conftest import api_with as api_with  # the app with other settings, here too

POSITION = "x-docket-position"
#: a token of the right shape that was never created: looked up, then refused
UNKNOWN = "dkt_" + "A" * 43
OUTSIDERS: dict[str, dict[str, str]] = {
    "no token": {},
    "not a token": {"Authorization": "Bearer nonsense"},
    "unknown token": {"Authorization": f"Bearer {UNKNOWN}"},
}


def _outsiders(api: Api) -> dict[str, dict[str, str]]:
    """Every caller that may not see the head: no token, bad ones, two applicants."""
    return {**OUTSIDERS, "applicant": api.auth("applicant"), "other": api.auth("other")}


async def _world(api: Api) -> tuple[str, str]:
    """WHO's request on hold (with a question for it), another organisation's."""
    await seat(api)
    mine = await make_request(api, "on_hold")
    await api.ok(
        f"/v1/requests/{mine}/information-requests",
        {"requested_by": "committee", "questions": "Which hospitals?"},
    )
    theirs = await make_request(api, "on_hold", org="Médecins du Monde")
    return mine, theirs


def _reads(mine: str, theirs: str) -> list[str]:
    return [
        "/v1/requests",
        f"/v1/requests?as_of={ago(1)}",
        f"/v1/requests/{mine}",
        f"/v1/requests/{mine}?as_of={ago(1)}",
        f"/v1/requests/{mine}/history",
        f"/v1/requests/{theirs}",
        "/v1/requests/HX-2099-9999/history",
        "/v1/committee",
        "/v1/events",
        "/v1/stats/holds",
        f"/v1/stats/holds?as_of={ago(1)}",
        "/v1/no-such-path",
    ]


async def test_no_position_header_to_anyone_but_an_overseer(api: Api) -> None:
    mine, theirs = await _world(api)
    head = await api.head()
    for who, headers in _outsiders(api).items():
        for path in [*_reads(mine, theirs), "/readyz", "/healthz"]:
            for method in ("GET", "HEAD"):
                answer = await api.client.request(method, path, headers=headers)
                assert POSITION not in answer.headers, (who, method, path, answer.status_code)
                assert "log_head" not in answer.text, (who, path)
        for path, body in (
            (f"/v1/requests/{mine}/holds", {"member": "FRA"}),
            (f"/v1/requests/{theirs}/information-responses", {"response": "r"}),
            ("/v1/requests", {}),
        ):
            answer = await api.client.post(path, json=body, headers=headers)
            assert answer.status_code >= 400, (who, path, answer.text)
            assert POSITION not in answer.headers, (who, path, answer.status_code)
    assert await api.head() == head  # nothing written by the refusals
    for role in ("secretariat", "auditor"):
        for path in ("/v1/requests", f"/v1/requests/{mine}", "/v1/requests/HX-2099-9999"):
            answer = await api.get(path, role)
            assert int(answer.headers[POSITION]) >= head, (role, path, answer.status_code)


async def test_no_log_position_in_an_applicants_answers(api: Api) -> None:
    mine, _ = await _world(api)
    state = await api.state(mine, "applicant")
    assert "position" not in state
    as_of = await api.get("/v1/requests", "applicant", params={"as_of": ago(0)})
    assert as_of.status_code == 200, as_of.text
    assert "at_position" not in as_of.json() and POSITION not in as_of.headers
    # a position beyond the head must not tell the head (nor whether it is beyond)
    probe = await api.get("/v1/requests", "applicant", params={"at_position": "999999"})
    low = await api.get("/v1/requests", "applicant", params={"at_position": "1"})
    assert probe.status_code == low.status_code == 403, (probe.text, low.text)
    assert probe.json()["rule"] == low.json()["rule"] == "positions-not-for-applicants"
    history = (await api.get(f"/v1/requests/{mine}/history", "applicant")).json()
    assert history["items"] and all("position" not in row for row in history["items"])
    answered = await api.ok(
        f"/v1/requests/{mine}/information-responses", {"response": "Twelve."}, role="applicant"
    )
    assert answered["position"] is None
    for event in answered["events"]:
        assert not {"position", "prev_hash", "hash"} & event.keys(), event
    # the secretariat's answer to the same command still names its position
    assert (await api.get(f"/v1/requests/{mine}/history")).json()["items"][-1]["position"] > 0


async def test_min_position_is_not_waited_for_before_authentication(api: Api) -> None:
    await seat(api, ("USA",))
    asked = {"X-Docket-Min-Position": "999999"}
    for who, headers in _outsiders(api).items():
        started = time.monotonic()
        answer = await api.client.get("/v1/requests", headers={**headers, **asked})
        assert time.monotonic() - started < 1.0, who  # the bound is 2 s: no wait at all
        assert answer.status_code in (200, 401), (who, answer.text)
        assert POSITION not in answer.headers and "position" not in answer.text, who
    # an applicant's malformed minimum is not looked at either
    ignored = await api.get("/v1/requests", "applicant", headers={"X-Docket-Min-Position": "x"})
    assert ignored.status_code == 200, ignored.text


async def test_fifty_unauthenticated_minimums_cost_what_fifty_401s_cost(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[int] = []
    real = read_side_queries.read_side_position

    async def counted(conn: Any, names: Any) -> int:
        measured.append(1)
        return await real(conn, names)

    monkeypatch.setattr(read_side, "read_side_position", counted)
    asked = {"X-Docket-Min-Position": "999999"}
    started = time.monotonic()
    answers = await asyncio.gather(
        *(api.client.get("/v1/requests", headers=asked) for _ in range(50))
    )
    assert time.monotonic() - started < 1.9  # the old wait alone was 2 s
    assert {a.status_code for a in answers} == {401}
    assert not any(POSITION in a.headers for a in answers)
    assert measured == []  # the read side is not even looked at before authentication


async def test_a_minimum_beyond_the_log_is_refused_at_once(api: Api) -> None:
    await seat(api, ("USA",))
    head = await api.head()
    for role in ("secretariat", "auditor"):
        started = time.monotonic()
        beyond = await api.get(
            "/v1/requests", role, headers={"X-Docket-Min-Position": str(head + 1000)}
        )
        assert time.monotonic() - started < 1.0, role
        assert beyond.status_code == 422, beyond.text
        assert beyond.json()["rule"] == "min-position-beyond-log"
    reached = await api.get("/v1/requests", headers={"X-Docket-Min-Position": str(head)})
    assert reached.status_code == 200 and int(reached.headers[POSITION]) >= head


async def test_waiters_are_capped_and_the_rest_answered_at_once(
    api_with: Callable[..., AsyncIterator[Api]], monkeypatch: pytest.MonkeyPatch
) -> None:
    async for api in api_with(min_position_waiters=2):
        await _six_waiting_reads(api, monkeypatch)


async def _six_waiting_reads(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await seat(api, ("USA",))
    head = await api.head()

    async def behind(conn: Any, names: Any) -> int:
        return head - 1  # the read side one event behind, and staying there

    monkeypatch.setattr(read_side, "read_side_position", behind)
    asked = {"X-Docket-Min-Position": str(head)}

    async def read() -> tuple[float, httpx.Response]:
        started = time.monotonic()
        answer = await api.get("/v1/requests", headers=asked)
        return time.monotonic() - started, answer

    answers = await asyncio.gather(*(read() for _ in range(6)))
    slugs = sorted(answer.json()["type"].rsplit("/", 1)[1] for _, answer in answers)
    assert slugs == ["read-side-behind"] * 2 + ["read-side-busy"] * 4, slugs
    for took, answer in answers:
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
        if answer.json()["type"].endswith("read-side-busy"):
            assert took < 1.0
