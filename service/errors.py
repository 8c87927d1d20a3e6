"""The service's one error tree: every refusal is a `DocketError` that carries its answer.

A `DocketError` knows its HTTP status, its RFC 9457 problem `type` (a URI under
`PROBLEM_BASE`), its `title`, the `rule` it names (if any), its `detail`, extra headers
(`Retry-After`) and extension members (`stream_id`, `current_version`, `errors`). The rule
errors of `service.rules.errors` and the kinds below derive from it; one handler
(`service.api.problems.install_problem_handlers`) renders them all. Pure: nothing here
knows of HTTP frameworks, so the command layer raises these without importing the API.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://docket.example.org/problems/"


class DocketError(Exception):
    """An error the caller can act on. Subclasses fix `status`, `slug` and `title`;
    an instance may override them (a rule, a status met at the edge)."""

    status: int = 500
    #: the last segment of the problem type URI when no rule is named
    slug: str = "internal-error"
    title: str = "Internal error"
    rule: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        rule: str | None = None,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if rule is not None:
            self.rule = rule
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if slug is not None:
            self.slug = slug
        self.headers: dict[str, str] = headers or {}
        self.extra: dict[str, Any] = extra

    @property
    def type(self) -> str:
        """The problem type URI: the rule's when one is named, else the kind's."""
        return PROBLEM_BASE + (self.rule or self.slug)

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document."""
        document: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.rule:
            document["rule"] = self.rule
        document.update(self.extra)
        return document


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
