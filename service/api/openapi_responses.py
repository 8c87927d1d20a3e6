"""Every status and media type an operation can answer, in `/openapi.json` (SPEC §6).

FastAPI documents what each route declares; the middleware and the handlers answer more
on every operation: 400 (an unparseable body), 413 (a body over the limit), 503 (the
database unreachable), 422 (a malformed parameter, as a problem document, not FastAPI's
`HTTPValidationError`), 401/403 on every tokened path, 304 on conditional public reads.
Streamed and plain-text answers get their real media types. `complete` adds all that to
the generated schema, so clients and schemathesis' conformance checks see the truth.
"""

from __future__ import annotations

from typing import Any

from service.api.problems import PROBLEM_MEDIA_TYPE

_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
_TITLES = {
    "400": "The body is not parseable (not JSON, or not of the declared content type)",
    "401": "Missing or invalid bearer token",
    "403": "Not allowed for this role",
    "404": "Not found",
    "413": "Body over the configured limit",
    "422": "Malformed payload or parameter",
    "503": "The database is unreachable (retry after Retry-After seconds)",
}
_EVERYWHERE = ("400", "413", "422", "503")
_TOKENED = ("401", "403")
#: 200 answers FastAPI cannot see the media type of (streams, plain text, feeds).
_MEDIA_200 = {
    "/metrics": "text/plain; version=0.0.4",
    "/v1/events/stream": "text/event-stream",
    "/v1/export": "application/jsonl",
    "/public/feed.json": "application/feed+json",
}
_READY_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string"},
        "detail": {"type": "string"},
        "log_head": {"type": "integer"},
        "projection_lag": {"type": "integer"},
    },
}


def _problem(responses: dict[str, Any], status: str) -> None:
    entry = responses.setdefault(status, {"description": _TITLES.get(status, "Error")})
    content = entry.setdefault("content", {})
    content.pop("application/json", None)  # FastAPI's HTTPValidationError: never sent
    content[PROBLEM_MEDIA_TYPE] = _PROBLEM


def _tokened(path: str) -> bool:
    return path.startswith("/v1/") or path == "/metrics"


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every answer of every operation documented (changed in place)."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            statuses = [*_EVERYWHERE, *(_TOKENED if _tokened(path) else ())]
            if "{" in path or _tokened(path):
                statuses.append("404")
            for status in statuses:
                _problem(responses, status)
            for status in list(responses):  # every declared error: a problem document
                if status.startswith(("4", "5")):
                    _problem(responses, status)
            if path in _MEDIA_200:
                ok = responses.setdefault("200", {"description": "OK"})
                ok["content"] = {_MEDIA_200[path]: {"schema": {"type": "string"}}}
                if path == "/public/feed.json":
                    ok["content"] = {_MEDIA_200[path]: {"schema": {"type": "object"}}}
            if path == "/readyz":
                responses["200"]["content"] = {"application/json": {"schema": _READY_SCHEMA}}
                responses["503"]["content"]["application/json"] = {"schema": _READY_SCHEMA}
            if method == "get" and path.startswith("/public/"):
                responses.setdefault("304", {"description": "Not modified (If-None-Match)"})
    return schema
