"""How far the read side has come (SPEC §9, R12): the position its reads reflect."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from events.read_engine import ReadConnection
from events.store import EventStore
from projections.tables import projection_checkpoints


async def read_side_position(conn: ReadConnection, projections: Collection[str]) -> int:
    """On the read database: the smallest of the last applied log position and the
    checkpoints of `projections` (a projection not checkpointed yet counts as 0)."""
    applied = await EventStore.applied_position(conn)
    c = projection_checkpoints.c
    rows = await conn.execute(select(c.name, c.position))
    checkpoints = {row.name: int(row.position) for row in rows}
    return min([applied, *(checkpoints.get(name, 0) for name in projections)])
