"""Reads of the `request_state` projection: a filtered page of requests, a request's
applicant, and the facts of every request for the processing statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Row, and_, select

from events.read_engine import ReadConnection
from projections.stats import RequestFacts
from projections.tables import held_by_is, request_state, status_at, status_is

_DECIDED = ("approved", "refused")
#: the columns a list or a statistic reads: all but the public feeds' documents
_FACTS = [column for column in request_state.c if column.name != "public_document"]


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """What `GET /v1/requests` filters by, each optional; `after` is the cursor's id."""

    status: str | None = None
    held_by: str | None = None
    applicant: str | None = None
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None
    after: str | None = None


async def request_page(
    conn: ReadConnection, where: RequestFilter, limit: int, now: datetime, tz: tzinfo
) -> Sequence[Row[Any]]:
    """Up to `limit + 1` rows of `request_state` matching `where`, by request id (the
    extra one says there is a next page); statuses derived at `now` in `tz`."""
    c = request_state.c
    clauses = []
    if where.status is not None:
        clauses.append(status_is(where.status, now, tz))
    if where.held_by is not None:
        clauses.append(held_by_is(where.held_by))
    if where.applicant is not None:
        clauses.append(c.applicant_name == where.applicant)
    if where.submitted_after is not None:
        clauses.append(c.submitted_at > where.submitted_after)
    if where.submitted_before is not None:
        clauses.append(c.submitted_at < where.submitted_before)
    if where.after is not None:
        clauses.append(c.request_id > where.after)
    query = select(*_FACTS).where(and_(True, *clauses)).order_by(c.request_id)
    return (await conn.execute(query.limit(limit + 1))).all()


async def applicant_of(conn: ReadConnection, request_id: str) -> str | None:
    """The applicant's name of the request, or None when there is no such request."""
    c = request_state.c
    name = await conn.scalar(select(c.applicant_name).where(c.request_id == request_id))
    return None if name is None else str(name)


async def request_facts(conn: ReadConnection, now: datetime, tz: tzinfo) -> list[RequestFacts]:
    """What the processing statistics count of every request, statuses as of `now`."""
    rows = (await conn.execute(select(*_FACTS))).all()
    return [
        RequestFacts(
            request_id=row.request_id,
            submitted_at=row.submitted_at,
            status=status_at(row, now, tz),
            decided_at=row.decided_at if row.outcome in _DECIDED else None,
            outcome=row.outcome if row.outcome in _DECIDED else None,
        )
        for row in rows
    ]
