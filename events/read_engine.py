"""The read side's own types: a `ReadEngine` hands out `ReadConnection`s, which run
`SELECT`s and nothing else (polar's `AsyncReadSession`, stricter).

Reads take a `ReadConnection`, never an `AsyncConnection`: the type says the read may be
served by a replica (`DOCKET_READ_DATABASE_URL`), and the type checker refuses an
`insert`, `update`, `delete` or `text(…)` through it (`execute` takes a `Select`); so does
the connection itself at run time. A command that must read what the primary holds wraps
the writer's engine in a `ReadEngine` of its own: still only reads, on the primary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Result, Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["ReadConnection", "ReadEngine"]


def _select(statement: object) -> Select[Any]:
    if not isinstance(statement, Select):
        raise TypeError(f"a read connection runs SELECTs only, not {type(statement).__name__}")
    return statement


class ReadConnection:
    """One connection of the read side, in one transaction (rolled back on close)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def execute(self, statement: Select[Any]) -> Result[Any]:
        """The rows of `statement`."""
        result: Result[Any] = await self._conn.execute(_select(statement))
        return result

    async def scalar(self, statement: Select[Any]) -> Any:
        """The first column of the first row of `statement`, or None."""
        return await self._conn.scalar(_select(statement))

    def projection_connection(self) -> AsyncConnection:
        """The connection under this one, for the read functions of projections written
        against `AsyncConnection` (`projections.intervals.queries`, which also sets the
        planner's options of its transaction). Only `service.queries` calls it
        (tests/test_read_port.py)."""
        return self._conn


class ReadEngine:
    """The engine of reads: a replica's, or the primary's seen through reads only."""

    __slots__ = ("_engine",)

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[ReadConnection]:
        """A read connection, returned to the pool on exit (its transaction rolled back)."""
        async with self._engine.connect() as conn:
            yield ReadConnection(conn)

    def reads(self, engine: AsyncEngine) -> bool:
        """Whether this reads through `engine` (the writer's, when there is no replica)."""
        return self._engine is engine

    async def dispose(self) -> None:
        """Close the pool's connections."""
        await self._engine.dispose()
