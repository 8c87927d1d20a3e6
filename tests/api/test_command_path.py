"""The commands' short path (`service.api.command_path`) answers exactly as the FastAPI
routes do: the same commands sent to an app with it and to one without it, on two fresh
databases of the same backend, get the same statuses, headers and documents (but for what
differs between any two runs: ids, times, hashes, correlation ids). It serves what it
understands (every command of the table only the secretariat sends) and hands on the
rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

import service.app
from service.api.command_path import CommandShortPath
from tests.api.conftest import Api, ago, make_request, open_api, seat, submission

#: what differs between two runs of the same commands (`id`: the token's, in the actor;
#: `occurred_at`: now, where the body gives none)
VOLATILE = {
    "id",
    "occurred_at",
    "event_id",
    "recorded_at",
    "prev_hash",
    "hash",
    "salt",
    "sealed",  # the digest of the sealed values under a random salt
    "correlation_id",
    "causation_id",
}
HEADERS = ("content-type", "etag", "www-authenticate", "retry-after")

#: (path after the request, or from the root, body, role, extra headers, served by the
#: short path)
CASES: list[tuple[str, Any, str | None, dict[str, str], bool]] = [
    ("/holds", {"member": "USA", "occurred_at": ago(0.5)}, "secretariat", {}, True),
    ("/holds", {"member": "USA"}, "secretariat", {}, True),  # already held: 409
    ("/holds", {"member": "FRA"}, "secretariat", {"If-Match": '"1"'}, True),  # stale: 412
    ("/holds", {"member": "FRA"}, "secretariat", {"If-Match": "three"}, False),  # 422
    ("/holds", {"member": 5}, "secretariat", {}, False),  # the model refuses: 422
    ("/holds", None, "secretariat", {}, False),  # no body
    ("/holds", {"member": "FRA"}, "auditor", {}, False),  # 403
    ("/holds", {"member": "FRA"}, None, {}, False),  # 401
    ("/holds", {"member": "FRA"}, "secretariat", {"Authorization": "Bearer nope"}, False),
    ("/holds", {"member": "FRA"}, "secretariat", {"Idempotency-Key": "k-1"}, False),
    ("/holds/USA/release", {"note": "cleared"}, "secretariat", {}, True),
    ("/holds/USA/release", {}, "secretariat", {}, True),  # nothing held: 409
    ("/holds/usa/release", {}, "secretariat", {}, False),  # the path's pattern: 422
    ("/reviews", {"step": "legal", "outcome": "cleared"}, "secretariat", {}, True),
    ("/nonsense", {}, "secretariat", {}, False),  # 404 or 405 from the router
    # an applicant may send it: the route checks whose request it is
    ("/information-responses", {"response": "x"}, "secretariat", {}, False),  # 409
    ("/v1/requests", submission(), "secretariat", {}, True),  # numbered: 201
    ("/v1/requests", {"title": "no items"}, "secretariat", {}, False),  # 422
    ("/v1/committee/members", {"member": "BRA", "term_start": "2020-01-01"}, "auditor", {}, False),
    (
        "/v1/committee/members",
        {"member": "BRA", "term_start": "2020-01-01"},
        "secretariat",
        {},
        True,
    ),
    # the committee's commands take no If-Match: the routes ignore it, and so does the path
    ("/v1/members/USA/release-all", {}, "secretariat", {"If-Match": "three"}, True),
    ("/v1/committee/members/BRA/depart", {"on": "2030-01-01"}, "secretariat", {}, True),
    (
        "/v1/erasures",
        {"positions": [1], "reason": "r", "decided_by": "chair"},
        "secretariat",
        {},
        True,
    ),
]


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _path(request_id: str, suffix: str) -> str:
    return suffix if suffix.startswith("/v1/") else f"/v1/requests/{request_id}{suffix}"


async def _answers(api: Api, request_id: str) -> list[tuple[int, dict[str, str], Any]]:
    out = []
    for suffix, body, role, headers, _ in CASES:
        response = await api.post(_path(request_id, suffix), body, role, headers=headers)
        kept = {h: response.headers[h] for h in HEADERS if h in response.headers}
        document = response.json() if response.content else None
        out.append((response.status_code, kept, _normal(document)))
    return out


async def _walk(
    url: str, tmp_path: Path, handed_on: list[str]
) -> tuple[str, list[tuple[int, dict[str, str], Any]]]:
    walked: tuple[str, list[tuple[int, dict[str, str], Any]]] | None = None
    async for api in open_api(url, tmp_path):  # yields once
        await seat(api)
        request_id = await make_request(api, "circulated")
        handed_on.clear()  # what was handed on of the cases only
        answers = await _answers(api, request_id)
        # an unknown request: the 404 is the command service's own
        missing = await api.post("/v1/requests/HX-2026-9999/holds", {"member": "USA"})
        walked = request_id, [*answers, (missing.status_code, {}, _normal(missing.json()))]
    assert walked is not None
    return walked


async def test_the_short_path_answers_as_the_routes_do(
    database_url: str, second_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_on: list[str] = []

    def counting(app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] == "POST":
                handed_on.append(scope["path"])
            await app(scope, receive, send)

        return CommandShortPath(counted)

    monkeypatch.setattr(service.app, "CommandShortPath", counting)
    (tmp_path / "short").mkdir()
    short_id, short = await _walk(database_url, tmp_path / "short", handed_on)

    def without(app: ASGIApp) -> ASGIApp:
        return app

    monkeypatch.setattr(service.app, "CommandShortPath", without)
    (tmp_path / "routes").mkdir()
    routes_id, routes = await _walk(second_database_url, tmp_path / "routes", [])

    assert short_id == routes_id
    for case, mine, theirs in zip([*CASES, ("unknown",)], short, routes, strict=True):
        assert mine == theirs, case
    statuses = [status for status, _, _ in short]
    expected = [200, 409, 412, 422, 422, 422, 403, 401, 401, 200, 200, 409, 422, 200, 404]
    expected += [409, 201, 422, 403, 201, 200, 200, 200]
    assert statuses == [*expected, 404]
    unserved = [_path(short_id, case[0]) for case in CASES if not case[-1]]
    assert handed_on == unserved
