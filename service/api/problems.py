"""RFC 9457 problem documents: one handler renders every `DocketError`.

The error classes live in `service.errors` (and the rule errors in `service.rules.errors`);
they are re-exported here for the routers. Errors of other kinds (validation, Starlette's
HTTP errors, a stream conflict, an unreachable database, a bug) are turned into a
`DocketError` and rendered by the same `problem_response`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.model import ConcurrencyConflict
from events.store import database_unavailable
from service.errors import (
    PROBLEM_BASE,
    BadRequest,
    Conflict,
    DocketError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Unauthorized,
    Unavailable,
    Unprocessable,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("docket.api")

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "BadRequest",
    "Conflict",
    "DocketError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "database_unavailable",
    "error_answer",
    "install_problem_handlers",
    "problem_openapi",
    "problem_response",
]


#: What an internal error tells the caller (its detail goes to the log only).
INTERNAL_DETAIL = "an unexpected error; it has been logged with this request's correlation id"


def problem_response(error: DocketError) -> Response:
    """The one rendering of an error: its problem document, status and headers. An error
    still at the root's 500 (a log, projection or peer error that reached the edge) is
    internal: logged whole, answered without its detail."""
    if error.status == 500 and error.detail != INTERNAL_DETAIL:
        log.error("docket.http.internal", error=type(error).__name__, detail=error.detail[:300])
        error = DocketError(INTERNAL_DETAIL)
    return Response(
        orjson.dumps(error.problem()),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def problem_openapi(*problems: type[DocketError]) -> dict[int | str, dict[str, Any]]:
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


async def _on_docket_error(_: Request | None, exc: Exception) -> Response:
    assert isinstance(exc, DocketError)
    return problem_response(exc)


async def _on_validation(_: Request | None, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_detail(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(p for p in first["loc"] if p != "body") or "body"
    return problem_response(Unprocessable(f"{where}: {first['msg']}", errors=errors))


async def _on_http(_: Request | None, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _STATUS_TITLES.get(exc.status_code, ("error", "Error"))
    return problem_response(
        DocketError(str(exc.detail), status=exc.status_code, slug=slug, title=title)
    )


async def _on_conflict(_: Request | None, exc: Exception) -> Response:
    assert isinstance(exc, ConcurrencyConflict)
    return problem_response(
        Conflict(str(exc), rule="stream-version-conflict", stream_id=exc.stream_id)
    )


async def _on_overflow(_: Request | None, exc: Exception) -> Response:
    # Raised by validators on input out of Python's range (a time near year 9999 with a
    # negative offset has no UTC value): the payload's fault, not the server's.
    log.info("docket.http.overflow", error=str(exc)[:200])
    return problem_response(Unprocessable(f"a value is out of range: {exc}"))


async def _on_unexpected(_: Request | None, exc: Exception) -> Response:
    log.exception("docket.http.unexpected", error=type(exc).__name__)
    return problem_response(DocketError(INTERNAL_DETAIL))


async def _on_database(request: Request | None, exc: Exception) -> Response:
    if not database_unavailable(exc):
        return await _on_unexpected(request, exc)
    log.warning("docket.database.unreachable", error=str(exc).splitlines()[0][:200])
    return problem_response(
        Unavailable("the database is unreachable; retry shortly", headers={"Retry-After": "2"})
    )


Handler = Callable[[Request | None, Exception], Awaitable[Response]]

#: Each kind of error and its answer, for the app (`install_problem_handlers`) and for
#: what answers outside the routes (`error_answer`).
_HANDLERS: dict[type[Exception], Handler] = {
    Exception: _on_unexpected,
    DocketError: _on_docket_error,
    RequestValidationError: _on_validation,
    StarletteHTTPException: _on_http,
    ConcurrencyConflict: _on_conflict,
    OverflowError: _on_overflow,
    OperationalError: _on_database,
    DBAPIError: _on_database,
    ConnectionError: _on_database,
    OSError: _on_database,
}


async def error_answer(exc: Exception) -> Response:
    """The answer to `exc` raised outside the routes (`service.api.command_path`): the
    handler of its nearest class, as Starlette picks it for the routes."""
    for kind in type(exc).__mro__:
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return await handler(None, exc)
    raise exc  # not an Exception (never: `Exception` is in the table)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error the app can meet into a problem document."""
    for kind, handler in _HANDLERS.items():
        app.add_exception_handler(kind, handler)
