"""What the `holds` read model says a member holds, for `release_all_holds`: read on the
primary (a command decides on what the primary holds, and must not wait on a replica),
through a `ReadConnection` all the same: the command side reads, it never writes here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from events.read_engine import ReadConnection
from projections.intervals.tables import NAME as INTERVALS_PROJECTION
from projections.tables import holds, projection_checkpoints


@dataclass(frozen=True, slots=True)
class ProjectedHolds:
    """The requests `holds` has an active hold of a member in, and the log position its
    projection (`request_intervals`, whose rows it is a view of) had applied when read
    (what it cannot know is after it)."""

    applied: int
    request_ids: frozenset[str]


async def projected_holds(conn: ReadConnection, member: str) -> ProjectedHolds:
    """The projection's checkpoint first, then its rows: a hold placed after the
    checkpoint read is either in the rows or in the log after the checkpoint."""
    applied = await conn.scalar(
        select(projection_checkpoints.c.position).where(
            projection_checkpoints.c.name == INTERVALS_PROJECTION
        )
    )
    rows = await conn.execute(
        select(holds.c.request_id)
        .where(holds.c.member == member, holds.c.ended_at.is_(None))
        .distinct()
    )
    return ProjectedHolds(int(applied or 0), frozenset(row.request_id for row in rows))
