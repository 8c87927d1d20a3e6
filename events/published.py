"""The witnesses' cosignatures of the log's checkpoints, as the database keeps them.

`cosignatures` is append-only (migration 0007's triggers, on both backends): a line once
received is never changed or removed, so a published checkpoint stays published. The
queries are SQLAlchemy Core, the same on PostgreSQL and SQLite.

- `CosignatureLog.add(tree_size, cosignatures)` keeps verified cosignatures (each witness
  once per size; a second process adding the same one writes nothing);
- `known_sizes()` is the largest size each witness cosigned, so that a restarted log
  submits to each witness from where it stands without a 409 round trip;
- `candidates(quorum)` are the checkpoints a published one is chosen from
  (`events.witnessing.published`): the newest signed one and the newest ones with a
  quorum of lines kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.cosignature import Cosignature
from events.engines import WRITER_OPTIONS
from events.log_tree import StoredCheckpoint
from events.schema import checkpoints, cosignatures

__all__ = ["Candidate", "CosignatureLog"]

#: How many of the newest cosigned checkpoints `candidates` reads by default.
CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class Candidate:
    """A signed checkpoint and the cosignature lines kept for it."""

    checkpoint: StoredCheckpoint
    lines: tuple[str, ...]


class CosignatureLog:
    """The `cosignatures` table of one database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # A writer's transaction (SQLite: BEGIN IMMEDIATE, so that it queues on the lock
        # instead of failing to upgrade a read lock while the log appends).
        self._writer = engine.execution_options(**WRITER_OPTIONS)

    async def add(
        self,
        tree_size: int,
        received: Sequence[Cosignature],
        received_at: datetime | None = None,
    ) -> int:
        """Keep `received` (verified cosignatures of the checkpoint of `tree_size`); how
        many were new. One already kept (by this or another process) is left as it is."""
        at = received_at or datetime.now(UTC)
        rows = {
            (c.witness, c.key_id.hex()): {
                "tree_size": tree_size,
                "witness": c.witness,
                "key_id": c.key_id.hex(),
                "line": c.line.rstrip("\n"),
                "received_at": at,
            }
            for c in received
        }
        if not rows:
            return 0
        async with self._writer.begin() as conn:
            kept = await conn.execute(
                select(cosignatures.c.witness, cosignatures.c.key_id).where(
                    cosignatures.c.tree_size == tree_size,
                    tuple_(cosignatures.c.witness, cosignatures.c.key_id).in_(list(rows)),
                )
            )
            for row in kept:
                rows.pop((row.witness, row.key_id), None)
            if not rows:
                return 0
            try:
                await conn.execute(insert(cosignatures), list(rows.values()))
            except IntegrityError:
                # Another process kept one of them between the read and the insert: the
                # lines are the same witness's, so keeping its copy loses nothing.
                return 0
        return len(rows)

    async def lines(self, tree_size: int) -> list[str]:
        """The cosignature lines kept for the checkpoint of `tree_size`."""
        async with self.engine.connect() as conn:
            found = await conn.scalars(
                select(cosignatures.c.line)
                .where(cosignatures.c.tree_size == tree_size)
                .order_by(cosignatures.c.received_at, cosignatures.c.witness)
            )
            return list(found)

    async def known_sizes(self) -> dict[str, int]:
        """The largest tree size each witness (by key name) cosigned."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(cosignatures.c.witness, func.max(cosignatures.c.tree_size)).group_by(
                    cosignatures.c.witness
                )
            )
            return {witness: int(size) for witness, size in rows}

    async def candidates(
        self, quorum: int, limit: int = CANDIDATES, *, by: datetime | None = None
    ) -> list[Candidate]:
        """The newest signed checkpoint and the `limit` newest ones with at least `quorum`
        cosignature lines kept, newest first, each with its lines. With `by`, as the
        table stood then: the checkpoints signed and the lines received by `by`."""
        signed_by = [] if by is None else [checkpoints.c.created_at <= by]
        received_by = [] if by is None else [cosignatures.c.received_at <= by]
        async with self.engine.connect() as conn:
            cosigned = (
                select(cosignatures.c.tree_size)
                .where(*received_by)
                .group_by(cosignatures.c.tree_size)
                .having(func.count() >= max(quorum, 1))
                .order_by(cosignatures.c.tree_size.desc())
                .limit(limit)
            )
            sizes = set(await conn.scalars(cosigned))
            newest = await conn.scalar(select(func.max(checkpoints.c.tree_size)).where(*signed_by))
            if newest is not None:
                sizes.add(int(newest))
            if not sizes:
                return []
            signed = await conn.execute(
                select(checkpoints).where(checkpoints.c.tree_size.in_(sorted(sizes)), *signed_by)
            )
            found = {
                row.tree_size: StoredCheckpoint(row.tree_size, row.root, row.note, row.created_at)
                for row in signed
            }
            lines: dict[int, list[str]] = {}
            for size, line in await conn.execute(
                select(cosignatures.c.tree_size, cosignatures.c.line)
                .where(cosignatures.c.tree_size.in_(sorted(found)), *received_by)
                .order_by(cosignatures.c.received_at, cosignatures.c.witness)
            ):
                lines.setdefault(size, []).append(line)
        return [
            Candidate(found[size], tuple(lines.get(size, ())))
            for size in sorted(found, reverse=True)
        ]
