"""The service's kinds of error, under Docket's one root `DocketError` (`events.errors`,
re-exported here): every refusal carries its answer.

A `DocketError` knows its HTTP status, its RFC 9457 problem `type` (a URI under
`PROBLEM_BASE`), its `title`, the `rule` it names (if any), its `detail`, extra headers
(`Retry-After`) and extension members (`stream_id`, `current_version`, `errors`). The rule
errors of `service.rules.errors` and the kinds below derive from it; one handler
(`service.api.problems.install_problem_handlers`) renders them all. Pure: nothing here
knows of HTTP frameworks, so the command layer raises these without importing the API.
"""

from __future__ import annotations

from events.errors import PROBLEM_BASE, DocketError

__all__ = [
    "PROBLEM_BASE",
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
]


class BadRequest(DocketError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(DocketError):
    status, slug, title = 401, "unauthorized", "Missing or invalid bearer token"


class Forbidden(DocketError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(DocketError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DocketError):
    """The log moved under a command (`rule="stream-version-conflict"`)."""

    status, slug, title = 409, "conflict", "Conflict with the log"


class PreconditionFailed(DocketError):
    """`If-Match` named a stream version the stream is no longer at."""

    status, slug, title = 412, "precondition-failed", "Stale If-Match"


class PayloadTooLarge(DocketError):
    status, slug, title = 413, "payload-too-large", "Body over the configured limit"


class Unprocessable(DocketError):
    """A malformed payload (422 is for that only: a broken rule is a 409)."""

    status, slug, title = 422, "invalid-payload", "Malformed payload"


class Unavailable(DocketError):
    status, slug, title = 503, "database-unavailable", "The database is unreachable"
