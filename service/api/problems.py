"""RFC 9457 problem documents: every refusal says which rule, with its own status."""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.model import ConcurrencyConflict

PROBLEM_BASE = "https://docket.example.org/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("docket.api")


class Problem(Exception):
    """An error the caller can act on. Subclasses fix the status and the type."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status or self.status
        self.title_text = title or self.title
        self.type_slug = slug or self.slug
        self.rule = rule
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_BASE + (self.rule or self.type_slug),
            "title": self.title_text,
            "status": self.status_code,
            "detail": self.detail,
        }
        if self.rule:
            doc["rule"] = self.rule
        doc.update(self.extra)
        return doc


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Missing or invalid bearer token"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict with the log"


class PreconditionFailed(Problem):
    status, slug, title = 412, "precondition-failed", "Stale If-Match"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Body over the configured limit"


class Unprocessable(Problem):
    status, slug, title = 422, "invalid-payload", "Malformed payload"


class Unavailable(Problem):
    status, slug, title = 503, "database-unavailable", "The database is unreachable"


#: SQLSTATE classes that mean "not now" rather than "wrong": connection exception,
#: insufficient resources, operator intervention (shutdown, cannot connect now).
_UNAVAILABLE_SQLSTATE = ("08", "53", "57")


def database_unavailable(error: BaseException) -> bool:
    """True for errors of reaching the database, false for errors of what was sent to it
    (those are bugs: a 500 with the correlation id, not a 503 that invites retries)."""
    if not isinstance(error, DBAPIError):
        return isinstance(error, OSError)  # ConnectionError is an OSError
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        return True
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if isinstance(state, str) and state[:2] in _UNAVAILABLE_SQLSTATE:
        return True
    # the driver's own error under SQLAlchemy's adapter: a connection left mid-operation
    driver = getattr(error.orig, "__cause__", None)
    return isinstance(driver, asyncpg.InternalClientError | asyncpg.InterfaceError | OSError)


def problem_response(problem: Problem) -> Response:
    return Response(
        orjson.dumps(problem.body()),
        status_code=problem.status_code,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def problem_openapi(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry naming the problems a path can answer."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        p.status: {"description": p.title, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}
        for p in problems
    }


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or invalid bearer token"),
    403: ("forbidden", "Not allowed for this role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Body over the configured limit"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error the app can meet into a problem document."""

    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_detail(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(p for p in first["loc"] if p != "body") or "body"
        return problem_response(Unprocessable(f"{where}: {first['msg']}", errors=errors))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _STATUS_TITLES.get(exc.status_code, ("error", "Error"))
        return problem_response(
            Problem(str(exc.detail), status=exc.status_code, slug=slug, title=title)
        )

    async def on_conflict(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConcurrencyConflict)
        return problem_response(
            Conflict(str(exc), rule="stream-version-conflict", stream_id=exc.stream_id)
        )

    async def on_overflow(_: Request, exc: Exception) -> Response:
        # Raised by validators on input out of Python's range (a time near year 9999 with
        # a negative offset has no UTC value): the payload's fault, not the server's.
        log.info("docket.http.overflow", error=str(exc)[:200])
        return problem_response(Unprocessable(f"a value is out of range: {exc}"))

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        log.exception("docket.http.unexpected", error=type(exc).__name__)
        problem = Problem(
            "an unexpected error; it has been logged with this request's correlation id",
            status=500,
            slug="internal-error",
            title="Internal error",
        )
        return problem_response(problem)

    async def on_database(request: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            return await on_unexpected(request, exc)
        log.warning("docket.database.unreachable", error=str(exc).splitlines()[0][:200])
        return problem_response(
            Unavailable("the database is unreachable; retry shortly", headers={"Retry-After": "2"})
        )

    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ConcurrencyConflict, on_conflict)
    app.add_exception_handler(OverflowError, on_overflow)
    app.add_exception_handler(OperationalError, on_database)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(ConnectionError, on_database)
    app.add_exception_handler(OSError, on_database)
