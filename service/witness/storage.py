"""The witness's own storage: the latest cosigned checkpoint per origin.

One table, `witness_checkpoints`, created by the witness itself on SQLite or PostgreSQL
(it is not a Docket database and has no migrations to run). The check-and-store is one
compare-and-set statement (an UPDATE guarded by the size and root the check saw, or an
INSERT guarded by the primary key), so two submissions from the same old size cannot both
be stored, and a smaller checkpoint can never overwrite a larger one. Each statement
commits by itself (autocommit): the guarded statement is the whole transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.witness.protocol import Latest

__all__ = ["WitnessStore", "async_url", "witness_checkpoints"]

metadata = MetaData()

witness_checkpoints = Table(
    "witness_checkpoints",
    metadata,
    Column("origin", Text, primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    # The note as submitted (with the log's signature): evidence of what was cosigned.
    Column("checkpoint", Text, nullable=False),
    Column("cosigned_at", DateTime(timezone=True), nullable=False),
)


def async_url(url: str) -> str:
    """`url` with an async driver: `postgresql://` gets asyncpg, `sqlite://` aiosqlite."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


class WitnessStore:
    """The latest checkpoint per origin, with an atomic compare-and-set."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self._engine: AsyncEngine | None = None

    async def open(self) -> None:
        """Connect and create the table if it is missing (idempotent)."""
        if self._engine is not None:
            return
        # Each statement is its own transaction: the compare-and-set is one guarded UPDATE
        # (or INSERT), atomic by itself, so it costs one round trip and one commit.
        options: dict[str, object] = {"isolation_level": "AUTOCOMMIT"}
        if self.url.startswith("sqlite"):
            # Concurrent submissions wait for SQLite's single writer instead of failing.
            options["connect_args"] = {"timeout": 30}
        engine = create_async_engine(self.url, **options)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        self._engine = engine

    async def close(self) -> None:
        """Release the connections."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the witness store is not open")
        return self._engine

    async def latest(self, origin: str) -> Latest | None:
        """The latest cosigned size and root for `origin`, if any."""
        query = select(witness_checkpoints.c.tree_size, witness_checkpoints.c.root).where(
            witness_checkpoints.c.origin == origin
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else Latest(int(row.tree_size), bytes(row.root))

    async def latest_note(self, origin: str) -> str | None:
        """The latest cosigned checkpoint note for `origin`, as it was submitted."""
        query = select(witness_checkpoints.c.checkpoint).where(
            witness_checkpoints.c.origin == origin
        )
        async with self.engine.connect() as conn:
            note = await conn.scalar(query)
        return None if note is None else str(note)

    async def compare_and_set(
        self, origin: str, expected: Latest | None, new: Latest, note: str
    ) -> bool:
        """Store `new` for `origin` if the latest is still `expected`; whether it was."""
        now = datetime.now(UTC)
        values = {"tree_size": new.size, "root": new.root, "checkpoint": note, "cosigned_at": now}
        async with self.engine.connect() as conn:
            if expected is None:
                try:
                    await conn.execute(insert(witness_checkpoints).values(origin=origin, **values))
                except IntegrityError:
                    return False
                return True
            table = witness_checkpoints.c
            result = await conn.execute(
                update(witness_checkpoints)
                .where(
                    table.origin == origin,
                    table.tree_size == expected.size,
                    table.root == expected.root,
                )
                .values(**values)
            )
            return result.rowcount == 1
