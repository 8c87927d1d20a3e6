"""Session locks: one holder per database for a long-running worker (the projection
runner's). A backend gives one by key (`Backend.session_lock`); PostgreSQL's is an
advisory lock on a connection kept for the holder's lifetime (`postgres_tables`), SQLite
has none (`NoLock`, always held: writers serialise on the database lock instead)."""

from __future__ import annotations

from typing import Protocol


class SessionLock(Protocol):
    """A lock held across transactions by one process at a time."""

    @property
    def exclusive(self) -> bool:
        """Whether there is a lock at all (False: `held` is always True)."""
        ...

    @property
    def held(self) -> bool: ...

    async def try_acquire(self) -> bool:
        """Try once to take the lock (held already: True)."""
        ...

    async def alive(self) -> bool:
        """Whether the lock is still held (a restarted server drops it); False, and
        forgotten, if not."""
        ...

    async def drop(self) -> bool:
        """Forget the lock without a word to the server (its connection is gone or
        broken); True if it was held."""
        ...

    async def release(self) -> None:
        """Release the lock (if held) and close its connection."""
        ...


class NoLock:
    """The lock of a database without session locks: always held."""

    exclusive = False
    held = True

    async def try_acquire(self) -> bool:
        return True

    async def alive(self) -> bool:
        return True

    async def drop(self) -> bool:
        return False

    async def release(self) -> None:
        return None
