"""Reads of the `holds` projection: every hold, or one member's, active and past."""

from __future__ import annotations

from sqlalchemy import select

from events.read_engine import ReadConnection
from projections.holds import Hold
from projections.tables import holds


async def holds_of(conn: ReadConnection, member: str | None = None) -> list[Hold]:
    """The holds of `member` (of every member when None), in log order."""
    query = select(holds).order_by(holds.c.position)
    if member is not None:
        query = query.where(holds.c.member == member)
    return [Hold.of_row(row, row.position) for row in (await conn.execute(query)).all()]
