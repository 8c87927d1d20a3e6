"""One active projection worker per PostgreSQL database: a session advisory lock.

The worker holds `PROJECTION_LOCK_KEY` (not the store's append lock) on a connection
kept for its lifetime; others stand by and retry. SQLite has no such lock: writes
serialise on the database lock (`BEGIN IMMEDIATE`) and the runner's compare-and-set
checkpoints make concurrent runners safe, if wasteful; there the lock is always held.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: The PostgreSQL advisory lock of the projection worker ("docket-p" in ASCII); the
#: store's append lock is another key.
PROJECTION_LOCK_KEY = int.from_bytes(b"docket-p", "big")


class ProjectionLockBusy(RuntimeError):
    """Another projection worker holds the lock on this database."""


class WorkerLock:
    """The worker lock of one runner (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.exclusive = engine.dialect.name == "postgresql"  # whether there is a lock
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return not self.exclusive or self._conn is not None

    async def try_acquire(self) -> bool:
        """Try once to take the lock (held already: True)."""
        if self.held:
            return True
        conn = await self._engine.connect()
        try:
            locked = bool(
                await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": PROJECTION_LOCK_KEY}
                )
            )
            await conn.commit()  # a session lock outlives the transaction; don't idle in one
        except BaseException:
            await conn.close()
            raise
        if not locked:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def alive(self) -> bool:
        """Whether the lock is still held: its connection answers (a restarted server
        drops the lock). False (and forgotten) if not."""
        if self._conn is None:
            return not self.exclusive
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
            return True
        except (DBAPIError, OSError):
            await self.drop()
            return False

    async def drop(self) -> bool:
        """Forget the lock without a word to the server (its connection is gone or
        broken); True if it was held."""
        conn, self._conn = self._conn, None
        if conn is None:
            return False
        with contextlib.suppress(Exception):
            await conn.invalidate()
        return True

    async def release(self) -> None:
        """Release the lock (if held) and close its connection."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": PROJECTION_LOCK_KEY}
            )
            await conn.commit()
        except (DBAPIError, OSError):
            pass
        finally:
            await conn.close()
