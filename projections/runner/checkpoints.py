"""The rows of `projection_checkpoints`: each projection's position in the log, moved by
compare-and-set in the transaction that writes the projection's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.errors import ProjectionError
from projections.tables import projection_checkpoints

_c = projection_checkpoints.c


class CheckpointMoved(ProjectionError):
    """Another runner advanced a checkpoint while this one was working on a batch."""


async def read(conn: AsyncConnection, names: Sequence[str]) -> dict[str, int]:
    """The stored checkpoint of each of `names` (0 for one never run)."""
    stored = await _stored(conn)
    return {name: stored.get(name, 0) for name in names}


async def ensure(conn: AsyncConnection, names: Sequence[str]) -> None:
    """A row at position 0 for each of `names` that has none."""
    stored = await _stored(conn)
    missing = [name for name in names if name not in stored]
    if missing:
        now = datetime.now(UTC)
        await conn.execute(
            insert(projection_checkpoints),
            [{"name": name, "position": 0, "updated_at": now} for name in missing],
        )


async def move(conn: AsyncConnection, names: Iterable[str], start: int, end: int) -> None:
    """Move the checkpoints of `names` from `start` to `end`, in name order (concurrent
    runners lock the rows in the same order); `CheckpointMoved` if one is not at `start`."""
    now = datetime.now(UTC)
    for name in sorted(names):
        moved = await conn.execute(
            update(projection_checkpoints)
            .where(_c.name == name, _c.position == start)
            .values(position=end, updated_at=now)
        )
        if moved.rowcount != 1:
            raise CheckpointMoved


async def place(conn: AsyncConnection, names: Iterable[str], position: int) -> None:
    """Set the checkpoints of `names` to `position` (a rebuild swapping its tables in)."""
    now = datetime.now(UTC)
    for name in sorted(names):
        await conn.execute(
            update(projection_checkpoints)
            .where(_c.name == name)
            .values(position=position, updated_at=now)
        )


async def _stored(conn: AsyncConnection) -> dict[str, int]:
    result = await conn.execute(select(_c.name, _c.position))
    return {str(name): int(position) for name, position in result}
