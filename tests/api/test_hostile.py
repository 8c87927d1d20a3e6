"""Hostile bodies: over the limit (413), deeply nested, odd Unicode, wrong types. Each is
a 4xx problem, never a 500, and nothing is written (the log's head does not move)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.api.conftest import PROBLEM, Api, make_request, seat, submission

pytestmark = pytest.mark.filterwarnings("ignore")


def _assert_4xx_problem(response: Any, what: str) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM), what
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), (what, body)


async def test_a_body_over_the_limit_is_413(api_with: Callable[..., Any]) -> None:
    async for api in api_with(body_limit_bytes=2048):
        head = await api.head()
        big = submission(purpose="x" * 4000)
        response = await api.post("/v1/requests", big)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["status"] == 413

        async def chunks(data: bytes = json.dumps(big).encode()) -> AsyncIterator[bytes]:
            for start in range(0, len(data), 500):
                yield data[start : start + 500]

        chunked = await api.client.post(
            "/v1/requests",
            content=chunks(),
            headers={**api.auth("secretariat"), "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413, chunked.text
        small = await api.post("/v1/requests", submission())
        assert small.status_code == 201
        assert await api.head() == head + 1


def _hostile(rid: str) -> Iterator[tuple[str, str, bytes]]:
    deep = b"[" * 5000 + b"]" * 5000
    yield "nested arrays", "/v1/requests", deep
    yield "nested objects", "/v1/requests", b'{"a":' * 5000 + b"1" + b"}" * 5000
    yield "nested member", f"/v1/requests/{rid}/holds", b'{"member":' + deep + b"}"
    nested_items = {**submission(), "items": [{"description": [[[[[[["x"]]]]]]]}]}
    yield "nested item", "/v1/requests", json.dumps(nested_items).encode()
    odd = [
        "\ud800",  # lone surrogate
        "\u0000",
        "a\u202eb",  # right-to-left override
        "\u2066x\u2069",
        "\x1b[31m",
        "\x7f",
    ]
    for text in odd:
        escaped = json.dumps({**submission(), "title": text})
        yield f"title {text!r:.20}", "/v1/requests", escaped.encode()
        yield (
            f"hold note {text!r:.20}",
            f"/v1/requests/{rid}/holds",
            json.dumps({"member": "USA", "note": text}).encode(),
        )
        yield (
            f"member {text!r:.20}",
            f"/v1/requests/{rid}/holds",
            json.dumps({"member": text}).encode(),
        )
    yield "raw invalid UTF-8", "/v1/requests", b'{"title": "\xff\xfe"}'
    yield "raw lone surrogate", "/v1/requests", b'{"title": "\xed\xa0\x80"}'
    yield (
        "NaN",
        f"/v1/requests/{rid}/shipments",
        b'{"shipment_no": NaN, "shipped_on": "2026-01-01"}',
    )
    yield (
        "huge int",
        f"/v1/requests/{rid}/annotations",
        b'{"target_position": 1' + b"0" * 400 + b', "text": "x"}',
    )
    yield (
        "huge float",
        "/v1/requests",
        json.dumps(
            {**submission(), "items": [{**submission()["items"][0], "value_usd": 1e308}]}
        ).encode(),
    )
    yield "year 0", f"/v1/requests/{rid}/circulate", b'{"deadline": "0000-01-01T00:00:00Z"}'
    yield "year 10000", f"/v1/requests/{rid}/circulate", b'{"deadline": "10000-01-01T00:00:00Z"}'
    yield (
        "date overflow",
        f"/v1/requests/{rid}/holds",
        b'{"member": "USA", "occurred_at": "9999-12-31T23:59:59-23:59"}',
    )
    yield "duplicate keys", f"/v1/requests/{rid}/holds", b'{"member": "USA", "member": "XXX"}'
    yield "empty body", f"/v1/requests/{rid}/holds", b""
    yield "null body", f"/v1/requests/{rid}/holds", b"null"
    yield "trailing garbage", f"/v1/requests/{rid}/holds", b'{"member": "USA"} x'


async def test_hostile_bodies_are_4xx_problems_and_write_nothing(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    head = await api.head()
    for what, path, body in _hostile(rid):
        response = await api.post(path, content=body, headers={"Content-Type": "application/json"})
        _assert_4xx_problem(response, what)
    assert await api.head() == head


async def test_rare_but_valid_unicode_never_fails(api: Api) -> None:
    await seat(api)
    for text in ("\ufeffBOM", "\U0010ffff", "e\u0301" * 2000, "\u200fRTL mark", "\U0001f600"):
        response = await api.post("/v1/requests", submission(title=text[:500]))
        assert response.status_code in (201, 422), (repr(text[:20]), response.text[:300])
        if response.status_code == 201:
            rid = response.json()["request_id"]
            assert (await api.state(rid))["title"] == text[:500]
            assert text[:500] in (await api.get(f"/v1/requests/{rid}", "applicant")).json()["title"]


async def test_hostile_queries_and_headers(api: Api) -> None:
    await seat(api)
    rid = await make_request(api, "circulated")
    head = await api.head()
    gets = [
        ("/v1/requests?applicant=%ED%A0%80", {}),
        ("/v1/requests?applicant=%FF%FE", {}),
        ("/v1/requests", {"applicant": "\x00"}),
        ("/v1/requests", {"submitted_after": "9999-99-99T00:00:00Z"}),
        ("/v1/requests", {"submitted_after": "0001-01-01T00:00:00-23:59"}),
        ("/v1/requests", {"limit": "1e3"}),
        ("/v1/requests", {"cursor": "\u202e"}),
        ("/v1/requests/%ED%A0%80", {}),
        (f"/v1/requests/{rid}", {"as_of": "2026-01-01T00:00:00+99:00"}),
        (f"/v1/requests/{rid}", {"as_of": "9999-12-31T23:59:59-23:59"}),
        ("/v1/requests", {"submitted_before": "0001-01-01T00:00:00+23:59"}),
        ("/v1/committee", {"as_of": "9999-12-31T23:59:59-23:59"}),
        (f"/v1/requests/{rid}", {"at_position": str(2**70)}),
        ("/v1/events", {"after": "-1"}),
        ("/v1/events", {"cursor": "1" * 40}),
        ("/v1/events", {"limit": "100000"}),
        ("/v1/committee", {"as_of": "0000-00-00"}),
        ("/v1/log/proofs/inclusion", {"position": "0"}),
        ("/v1/log/proofs/consistency", {"from": "5", "to": "2"}),
        ("/v1/members/\u00dcSA/holds", {}),
        ("/v1/requests/%00/history", {}),
    ]
    for path, params in gets:
        response = await api.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text[:300])
        if response.status_code >= 400:
            _assert_4xx_problem(response, f"{path} {params}")
    headers: list[dict[str, Any]] = [
        {"If-Match": '"' + "9" * 39},
        {"If-Match": "\u00e9".encode("latin-1")},
        {"Idempotency-Key": "x" * 500},
        {"Idempotency-Key": ""},
        {"Authorization": "Bearer " + "x" * 5000},
        {"Content-Type": "text/plain"},
        {"X-Correlation-Id": "../../etc/passwd"},
    ]
    for extra in headers:
        response = await api.client.post(
            f"/v1/requests/{rid}/holds",
            content=json.dumps({"member": "NOPE"}).encode(),
            headers={**api.auth("secretariat"), "Content-Type": "application/json", **extra},
        )
        _assert_4xx_problem(response, str(extra)[:60])
    assert await api.head() == head
