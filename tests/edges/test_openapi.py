"""The OpenAPI document lists what each operation can answer, checked against the real
answers: an unparseable body (400 or 422) and an oversized one (413) on every command, a
malformed parameter (422) on reads, as problem documents, and the JSON Feed's media type."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def _documented(schema: dict[str, Any], path: str, method: str, status: int) -> list[str]:
    responses = schema["paths"][path][method]["responses"]
    return list((responses.get(str(status)) or {}).get("content") or {})


async def test_every_answer_is_documented(api: Api) -> None:
    schema = (await api.get("/openapi.json", None)).json()
    missing = []
    for path, operations in schema["paths"].items():
        for method in operations:
            for status in (400, 413, 422, 503):
                if PROBLEM not in _documented(schema, path, method, status):
                    missing.append(f"{method} {path} {status}")
    assert not missing, missing
    feed = _documented(schema, "/public/feed.json", "get", 200)
    assert feed == ["application/feed+json"], feed


async def test_bad_and_big_bodies_answer_as_documented(api: Api) -> None:
    schema = (await api.get("/openapi.json", None)).json()
    limit = api.settings.body_limit_bytes
    commands = [
        p.replace("{id}", "HX-2026-0001").replace("{member}", "USA")
        for p, ops in schema["paths"].items()
        if "post" in ops
    ]
    assert len(commands) >= 15
    headers = {"Content-Type": "application/json"}
    for path in commands:
        bad = await api.post(path, None, content=b"{not json", headers=headers)
        big = await api.post(path, None, content=b"[" + b"1," * limit + b"1]", headers=headers)
        # FastAPI answers bad JSON 422, a body it cannot read as the declared type 400
        for answer, statuses in ((bad, (400, 422)), (big, (413,))):
            assert answer.status_code in statuses, (path, answer.status_code, answer.text[:200])
            assert answer.headers["content-type"] == PROBLEM
    bad_read = await api.get("/v1/requests", params={"limit": "many"})
    assert bad_read.status_code == 422 and bad_read.headers["content-type"] == PROBLEM
    assert PROBLEM in _documented(schema, "/v1/requests", "get", 422)
