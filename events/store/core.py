"""Reads of the log written once, in SQLAlchemy Core on a backend's engine pool: the cold
queries both backends answer alike. On PostgreSQL they stay off the raw read pool, whose
connections serve the hot reads (streams, pages): a scan for request ids or unprojected
holds must not queue them."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.read_engine import ReadConnection
from events.schema import events

#: Built once: building a statement costs more than running this one (every overseer's
#: read asks it, `service.queries.read_side`).
_APPLIED = select(func.coalesce(func.max(events.c.position), 0))


async def applied_position(conn: ReadConnection) -> int:
    """The last position of the log as the database of `conn` holds it (0 when empty): on
    a replica, how far it has applied the primary's log."""
    return int(await conn.scalar(_APPLIED) or 0)


async def streams_with_prefix(engine: AsyncEngine, prefix: str) -> list[str]:
    """Every stream whose id starts with `prefix` (SQL `LIKE`), once each."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.stream_id).where(
                events.c.stream_id.startswith(prefix, autoescape=True),
                events.c.stream_version == 1,
            )
        )
        return [row[0] for row in rows]


async def streams_with_event_type(engine: AsyncEngine, event_type: str, after: int) -> list[str]:
    """Every stream with an event of `event_type` after position `after`, once each."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.stream_id)
            .where(events.c.position > after, events.c.event_type == event_type)
            .distinct()
        )
        return [row[0] for row in rows]


async def envelopes(engine: AsyncEngine, positions: list[int]) -> list[tuple[int, str, str]]:
    """`(position, stream_id, event_type)` of each of `positions` in the log, in order."""
    found: list[tuple[int, str, str]] = []
    async with engine.connect() as conn:
        for start in range(0, len(positions), 500):
            rows = await conn.execute(
                select(events.c.position, events.c.stream_id, events.c.event_type)
                .where(events.c.position.in_(bindparam("positions", expanding=True)))
                .order_by(events.c.position),
                {"positions": positions[start : start + 500]},
            )
            found += [(int(row[0]), str(row[1]), str(row[2])) for row in rows]
    return sorted(found)
