"""R8: hostile input over real HTTP to a real server: bodies over the limit, deep nesting,
odd Unicode, impossible dates, unknown codes, huge numbers, wrong content types, malformed
JSON and headers. Every answer is a 4xx `application/problem+json` with `type`, `title`,
`status` and `detail`, and nothing is written (the log's head does not move).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import (
    PROBLEM,
    SUBMISSION,
    Deployment,
    head_position,
    open_requests,
    report,
    seat_committee,
)

pytestmark = pytest.mark.postgres

LIMIT = 256 * 1024  # DOCKET_BODY_LIMIT_BYTES default
RID = "REL-00000"


@dataclass
class Case:
    name: str
    path: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    expect: tuple[int, ...] = (400, 413, 415, 422)
    chunked: bool = False


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _submission(**changes: Any) -> bytes:
    return _json({**SUBMISSION, **changes})


def _item(**changes: Any) -> bytes:
    return _submission(items=[{**SUBMISSION["items"][0], **changes}])


def _cases() -> Iterator[Case]:
    big = {**SUBMISSION, "purpose": "x" * (LIMIT + 10)}
    yield Case("body over the limit", "/v1/requests", _json(big), expect=(413,))
    yield Case(
        "body over the limit, chunked", "/v1/requests", _json(big), expect=(413,), chunked=True
    )
    yield Case(
        "body over the limit, to a hold",
        f"/v1/requests/{RID}/holds",
        b"[" * (LIMIT + 1),
        expect=(413,),
    )
    deep = b"[" * 10_000 + b"]" * 10_000
    yield Case("10,000 nested arrays", "/v1/requests", deep)
    yield Case("10,000 nested objects", "/v1/requests", b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    nested_field = b'{"member":' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    yield Case("nesting inside a field", f"/v1/requests/{RID}/holds", nested_field)
    yield Case("deep nesting in a query-less GET body", f"/v1/requests/{RID}/circulate", deep)
    # odd Unicode
    yield Case(
        "lone surrogate, escaped",
        "/v1/requests",
        _submission(title="\\ud800").replace(b"\\\\ud800", b"\\ud800"),
    )
    yield Case(
        "lone low surrogate in a member", f"/v1/requests/{RID}/holds", b'{"member":"F\\udc00A"}'
    )
    yield Case("NUL in a title", "/v1/requests", _submission(title="Tuberculosis\u0000"))
    yield Case("RTL override in a title", "/v1/requests", _submission(title="\u202eeslaf"))
    yield Case(
        "RTL override in a member", f"/v1/requests/{RID}/holds", _json({"member": "\u202eFRA"})
    )
    yield Case(
        "4-byte emoji member",
        f"/v1/requests/{RID}/holds",
        _json({"member": "\U0001f1eb\U0001f1f7"}),
    )
    yield Case("emoji member in the path", f"/v1/requests/{RID}/holds/%F0%9F%87%AB/release", b"{}")
    yield Case("fullwidth member", f"/v1/requests/{RID}/holds", _json({"member": "ＦＲＡ"}))
    yield Case("lowercase member", f"/v1/requests/{RID}/holds", _json({"member": "fra"}))
    yield Case("invalid UTF-8", "/v1/requests", b'{"title":"\xff\xfe\xfd"}')
    # (a UTF-8 byte order mark before JSON may be ignored, RFC 8259 §8.1: not a case here)
    # impossible dates
    for when in (
        "2026-02-30T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "99999-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:61:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01",
        "yesterday",
        "1e10",
        "",
    ):
        yield Case(
            f"occurred_at {when!r}",
            f"/v1/requests/{RID}/holds",
            _json({"member": "FRA", "occurred_at": when}),
        )
    for day in ("2026-02-30", "0000-01-01", "99999-01-01", "2026-1-1"):
        yield Case(
            f"term_start {day!r}",
            "/v1/committee/members",
            _json({"member": "ECU", "term_start": day, "term_end": "2027-12-31"}),
        )
    yield Case(
        "occurred_at as a number",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA", "occurred_at": 1767225600}),
    )
    # unknown codes
    yield Case("unknown member XXX", f"/v1/requests/{RID}/holds", _json({"member": "XXX"}))
    yield Case(
        "unknown member in release",
        f"/v1/requests/{RID}/holds/QQQ/release",
        b"{}",
        expect=(404, 409, 422),
    )
    yield Case(
        "unknown sponsor", "/v1/requests", _submission(channel="member_state", sponsor="ZZZ")
    )
    yield Case(
        "unknown seat",
        "/v1/committee/members",
        _json({"member": "ABC", "term_start": "2026-01-01"}),
    )
    yield Case(
        "unknown applicant kind",
        "/v1/requests",
        _submission(applicant={"name": "x", "kind": "army"}),
    )
    yield Case("bad request id", "/v1/requests", _submission(request_id="../../etc/passwd"))
    yield Case(
        "bad request id in path",
        "/v1/requests/hx%2F..%2F1/holds",
        _json({"member": "FRA"}),
        expect=(404, 422),
    )
    # huge and odd numbers
    yield Case("quantity 10**400", "/v1/requests", _item(quantity=10**400))
    yield Case("value 1e400", "/v1/requests", _submission().replace(b"49950", b"1e400"))
    yield Case("value NaN", "/v1/requests", _submission().replace(b"49950", b"NaN"))
    yield Case("value -1", "/v1/requests", _item(value_usd=-1))
    yield Case("validity 10**30", "/v1/requests", _submission(requested_validity_months=10**30))
    yield Case(
        "target_position 2**64",
        f"/v1/requests/{RID}/annotations",
        _json({"target_position": 2**64, "text": "x"}),
    )
    yield Case(
        "If-Match huge",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        headers={"If-Match": '"' + "9" * 39 + '"'},
        expect=(412, 422),
    )
    yield Case(
        "If-Match garbage",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        headers={"If-Match": '"three"'},
    )
    yield Case(
        "Idempotency-Key too long",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        headers={"Idempotency-Key": "k" * 500},
    )
    # wrong shapes and content types
    yield Case(
        "text/plain",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        content_type="text/plain",
    )
    yield Case(
        "form",
        f"/v1/requests/{RID}/holds",
        b"member=FRA",
        content_type="application/x-www-form-urlencoded",
    )
    yield Case(
        "multipart",
        f"/v1/requests/{RID}/holds",
        b"--x\r\n\r\nFRA\r\n--x--\r\n",
        content_type="multipart/form-data; boundary=x",
    )
    yield Case(
        "xml", f"/v1/requests/{RID}/holds", b"<member>FRA</member>", content_type="application/xml"
    )
    yield Case(
        "no content type", f"/v1/requests/{RID}/holds", _json({"member": "FRA"}), content_type=None
    )
    yield Case("empty body", f"/v1/requests/{RID}/holds", b"")
    yield Case("truncated JSON", f"/v1/requests/{RID}/holds", b'{"member": "FR')
    yield Case("trailing garbage", f"/v1/requests/{RID}/holds", b'{"member": "FRA"} x')
    yield Case("two documents", f"/v1/requests/{RID}/holds", b'{"member": "FRA"}{"member": "GBR"}')
    yield Case("array body", f"/v1/requests/{RID}/holds", b'[{"member": "FRA"}]')
    yield Case("string body", f"/v1/requests/{RID}/holds", b'"FRA"')
    yield Case("null body", f"/v1/requests/{RID}/holds", b"null")
    yield Case(
        "unknown field", f"/v1/requests/{RID}/holds", _json({"member": "FRA", "admin": True})
    )
    yield Case("duplicate keys", f"/v1/requests/{RID}/holds", b'{"member":"FRA","member":"XXX"}')
    yield Case("member as a number", f"/v1/requests/{RID}/holds", b'{"member": 250}')
    yield Case("items empty", "/v1/requests", _submission(items=[]))
    yield Case(
        "10,000 items",
        "/v1/requests",
        _submission(items=[SUBMISSION["items"][0]] * 10_000),
        expect=(413, 422),
    )
    yield Case(
        "title 1 MB of emoji",
        "/v1/requests",
        _submission(title="\U0001f600" * 70_000),
        expect=(413,),
    )
    yield Case("wrong method", f"/v1/requests/{RID}/holds", None, method="PUT", expect=(405,))
    yield Case(
        "no token",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        headers={"Authorization": ""},
        expect=(401,),
    )
    yield Case(
        "auditor writes",
        f"/v1/requests/{RID}/holds",
        _json({"member": "FRA"}),
        headers={"Authorization": "auditor"},
        expect=(403,),
    )


def test_hostile_input_is_refused_and_nothing_written(deployment: Deployment) -> None:
    dep = deployment
    server = dep.serve()

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await seat_committee(client, dep)
            await open_requests(client, dep, 1)
            head = await head_position(client, dep)
            failures: list[str] = []
            statuses: dict[int, int] = {}
            cases = list(_cases())
            for case in cases:
                headers = dep.headers()
                if case.content_type:
                    headers["Content-Type"] = case.content_type
                for key, value in case.headers.items():
                    if key == "Authorization" and value == "auditor":
                        headers[key] = dep.headers("auditor")["Authorization"]
                    elif key == "Authorization" and not value:
                        headers.pop(key)
                    else:
                        headers[key] = value
                content: Any = case.body
                if case.chunked and case.body is not None:
                    body = case.body

                    async def chunks(data: bytes = body) -> Any:
                        for i in range(0, len(data), 16_384):
                            yield data[i : i + 16_384]

                    content = chunks()
                try:
                    r = await client.request(
                        case.method, case.path, content=content, headers=headers
                    )
                except httpx.HTTPError as error:
                    failures.append(f"{case.name}: no answer ({error!r})")
                    continue
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                problem = _problem_fault(r)
                if r.status_code not in case.expect or problem:
                    failures.append(f"{case.name}: {r.status_code} {problem} {r.text[:200]}")
                if await head_position(client, dep) != head:
                    failures.append(f"{case.name}: the log moved")
                    head = await head_position(client, dep)
            health = await client.get("/readyz")
            assert health.status_code == 200, health.text
            assert not failures, "\n".join(failures)
            return {"cases": len(cases), "statuses": statuses}

    try:
        figures = run_async(run)
    except BaseException:
        print(dep.logs())
        raise
    report("R8", figures)


def _problem_fault(r: httpx.Response) -> str:
    if not r.headers.get("content-type", "").startswith(PROBLEM):
        return f"content-type {r.headers.get('content-type')}"
    try:
        doc = r.json()
    except ValueError:
        return "body is not JSON"
    missing = [k for k in ("type", "title", "status", "detail") if k not in doc]
    if missing:
        return f"problem without {missing}"
    if doc["status"] != r.status_code:
        return f"problem status {doc['status']} != {r.status_code}"
    return ""
