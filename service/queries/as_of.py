"""Reads as of a moment (SPEC §5) on the read side: the bitemporal projection's queries
(`projections.intervals.queries`), each on a `ReadConnection`."""

from __future__ import annotations

from typing import Any

from events.read_engine import ReadConnection
from projections.holds import Hold
from projections.intervals import queries as intervals
from projections.intervals.queries import Moment, RequestPage, StreamsReader
from service.queries.requests import RequestFilter


async def requests_as_of(
    conn: ReadConnection, log: StreamsReader, moment: Moment, where: RequestFilter, limit: int
) -> RequestPage:
    """`GET /v1/requests` as of `moment`: every filter applies as of then."""
    return await intervals.requests_as_of(
        conn.projection_connection(),
        log,
        moment,
        status=where.status,
        held_by=where.held_by,
        applicant=where.applicant,
        submitted_after=where.submitted_after,
        submitted_before=where.submitted_before,
        after=where.after,
        limit=limit,
    )


async def member_holds_as_of(conn: ReadConnection, member: str, moment: Moment) -> list[Hold]:
    """The holds of `member` in force as of `moment`."""
    return await intervals.member_holds_as_of(conn.projection_connection(), member, moment)


async def hold_stats_as_of(conn: ReadConnection, moment: Moment) -> dict[str, Any]:
    """Per member: holds placed, active, days held, as of `moment`."""
    return await intervals.hold_stats_as_of(conn.projection_connection(), moment)


async def processing_stats_as_of(conn: ReadConnection, moment: Moment) -> dict[str, Any]:
    """Per year: requests, decisions, days to decision, as of `moment`."""
    return await intervals.processing_stats_as_of(conn.projection_connection(), moment)


async def public_stats_as_of(conn: ReadConnection, moment: Moment) -> dict[str, Any]:
    """The public statistics as of `moment`."""
    return await intervals.public_stats_as_of(conn.projection_connection(), moment)
