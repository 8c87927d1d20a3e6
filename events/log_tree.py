"""The log's Merkle tree in the database: stored subtree hashes, proofs, signed checkpoints.

`merkle_nodes` holds every complete subtree `(level, idx)` of the tree over the leaf
hashes, level 0 being the leaves. It is a read model of the log like any other: the
checkpoint writer extends it by position, and every proof or root reads only the
O(log n) nodes it needs, in one query.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import merkle
from events.checkpoint_grid import Trigger, next_awaited, next_tick, signing_due
from events.checkpoints import Signer, parse_checkpoint
from events.errors import TreeError
from events.schema import checkpoints, merkle_nodes
from events.store import EventStore
from events.verify_chain import SLICE, leaf_hashes

__all__ = ["CheckpointWriter", "LogTree", "StoredCheckpoint", "TreeError"]

log = structlog.get_logger("docket.checkpoints")


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    tree_size: int
    root: str
    note: str
    created_at: datetime


async def _nodes(conn: AsyncConnection, wanted: list[merkle.Node]) -> dict[merkle.Node, bytes]:
    if not wanted:
        return {}
    rows = await conn.execute(
        select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash).where(
            tuple_(merkle_nodes.c.level, merkle_nodes.c.idx).in_(wanted)
        )
    )
    return {(row.level, row.idx): bytes.fromhex(row.hash) for row in rows}


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _size(conn: AsyncConnection) -> int:
    found = await conn.scalar(select(func.max(merkle_nodes.c.idx)).where(merkle_nodes.c.level == 0))
    return 0 if found is None else int(found) + 1


class LogTree:
    """Roots and proofs over the stored nodes, and the writer that extends them."""

    def __init__(self, store: EventStore, clock: Callable[[], datetime] = _utc_now) -> None:
        self.store = store
        #: when a checkpoint is signed (`created_at`): the runtime's clock, which public
        #: statistics also read to choose the checkpoint of a day (SPEC §7)
        self.clock = clock
        self.engine: AsyncEngine = store.engine
        # How many leaves the stored tree was last seen to cover. Nodes are only ever
        # added, so a proof within this size needs no query to know the tree covers it.
        self._covered = 0

    async def size(self) -> int:
        """How many leaves the stored tree covers."""
        async with self.engine.connect() as conn:
            return self._saw(await _size(conn))

    def _saw(self, size: int) -> int:
        self._covered = max(self._covered, size)
        return size

    async def covers(self, tree_size: int) -> bool:
        """Whether the stored tree has the leaves of a tree of `tree_size`."""
        return tree_size <= self._covered or tree_size <= await self.size()

    async def extend(self, batch: int = 50_000) -> int:
        """Add the leaves of every event not yet in the tree; return the new size."""
        while True:
            async with self.store.tree_transaction() as conn:
                size = await _size(conn)
                leaves = await leaf_hashes(self.store, size, batch)
                if not leaves:
                    return self._saw(size)
                stored = await _nodes(conn, merkle.nodes_needed_for_root(size))
                builder = merkle.MerkleBuilder.resume(size, merkle.node_source(stored))
                new: list[merkle.StoredNode] = []
                for start in range(0, len(leaves), SLICE):
                    new += builder.extend(leaves[start : start + SLICE])
                    await asyncio.sleep(0)  # see SLICE
                await self.store.insert_nodes(conn, [(lv, ix, h.hex()) for lv, ix, h in new])
            if len(leaves) < batch:
                # A short page was the head as of this read: no second transaction to learn
                # that nothing follows (events appended since wait for the next extend).
                return self._saw(size + len(leaves))

    async def _check_size(self, conn: AsyncConnection, tree_size: int) -> None:
        if tree_size <= self._covered:
            return
        covered = self._saw(await _size(conn))
        if tree_size > covered:
            raise TreeError(f"the tree covers {covered} events; {tree_size} is beyond it")

    async def root(self, tree_size: int) -> bytes:
        async with self.engine.connect() as conn:
            await self._check_size(conn, tree_size)
            if tree_size == 0:
                return merkle.EMPTY_ROOT
            nodes = await _nodes(conn, merkle.nodes_needed_for_root(tree_size))
        return merkle.subtree_root(0, tree_size, merkle.node_source(nodes))

    async def inclusion(self, index: int, tree_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(leaf hash, root, audit path) of leaf `index` in the tree of `tree_size`."""
        if not 0 <= index < tree_size:
            raise TreeError(f"leaf index {index} is not in a tree of {tree_size}")
        wanted = [
            (0, index),
            *merkle.nodes_needed_for_inclusion(index, tree_size),
            *merkle.nodes_needed_for_root(tree_size),
        ]
        async with self.engine.connect() as conn:
            await self._check_size(conn, tree_size)
            nodes = await _nodes(conn, list(dict.fromkeys(wanted)))
        get = merkle.node_source(nodes)
        return (
            get(0, index),
            merkle.subtree_root(0, tree_size, get),
            merkle.inclusion_proof(index, tree_size, get),
        )

    async def consistency(self, old: int, new: int) -> tuple[bytes, bytes, list[bytes]]:
        """(old root, new root, proof) that the tree of `old` is a prefix of that of `new`."""
        if not 0 < old <= new:
            raise TreeError(f"consistency needs 0 < from <= to, not {old} and {new}")
        wanted = [
            *merkle.nodes_needed_for_consistency(old, new),
            *merkle.nodes_needed_for_root(old),
            *merkle.nodes_needed_for_root(new),
        ]
        async with self.engine.connect() as conn:
            await self._check_size(conn, new)
            nodes = await _nodes(conn, list(dict.fromkeys(wanted)))
        get = merkle.node_source(nodes)
        return (
            merkle.subtree_root(0, old, get),
            merkle.subtree_root(0, new, get),
            merkle.consistency_proof(old, new, get),
        )

    async def hashes(self, level: int, first: int, end: int) -> list[bytes]:
        """The stored hashes of the nodes `(level, first) .. (level, end - 1)`, in order;
        fewer if some are not stored yet (a hash tile is one such range)."""
        async with self.engine.connect() as conn:
            found = await conn.scalars(
                select(merkle_nodes.c.hash)
                .where(
                    merkle_nodes.c.level == level,
                    merkle_nodes.c.idx >= first,
                    merkle_nodes.c.idx < end,
                )
                .order_by(merkle_nodes.c.idx)
            )
            return [bytes.fromhex(text) for text in found]

    # -- checkpoints ---------------------------------------------------------------------

    async def checkpoints(self) -> list[StoredCheckpoint]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(checkpoints).order_by(checkpoints.c.tree_size))
            return [StoredCheckpoint(r.tree_size, r.root, r.note, r.created_at) for r in rows]

    async def latest_checkpoint(self, by: datetime | None = None) -> StoredCheckpoint | None:
        """The newest checkpoint signed (with `by`: signed by then)."""
        signed_by = [] if by is None else [checkpoints.c.created_at <= by]
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(checkpoints)
                    .where(*signed_by)
                    .order_by(checkpoints.c.tree_size.desc())
                    .limit(1)
                )
            ).first()
        return (
            None
            if row is None
            else StoredCheckpoint(row.tree_size, row.root, row.note, row.created_at)
        )

    async def sign_checkpoint(
        self,
        signer: Signer,
        origin: str,
        *,
        clock: Callable[[], datetime] | None = None,
        expected_latest: int | None = None,
    ) -> StoredCheckpoint | None:
        """Extend the tree to the log's head and sign a checkpoint of it, stored with the
        time `clock` (by default the tree's) gives, unless the latest checkpoint already
        covers it. Refuses to sign a tree inconsistent with the latest.

        With `expected_latest`, signs only if the newest checkpoint is still of that size
        (0: none) when it is stored: a writer that decided on an older latest checkpoint
        than another process has signed since signs nothing (the tree lock orders them),
        rather than a second checkpoint just after the first."""
        size = await self.extend()
        latest = await self.latest_checkpoint()
        if size == 0 or (latest is not None and latest.tree_size >= size):
            return None
        root = await self.root(size)
        if latest is not None:
            old_root, new_root, proof = await self.consistency(latest.tree_size, size)
            if old_root.hex() != latest.root:
                raise TreeError(
                    f"the tree of {latest.tree_size} no longer has the signed root {latest.root}"
                )
            merkle.verify_consistency(latest.tree_size, size, old_root, new_root, proof)
        note = signer.sign_checkpoint(origin, size, root)
        parse_checkpoint(note)
        async with self.store.tree_transaction() as conn:
            newest = await conn.scalar(select(func.max(checkpoints.c.tree_size)))
            if newest is not None and newest >= size:
                return None
            if expected_latest is not None and (newest or 0) != expected_latest:
                return None
            created = StoredCheckpoint(size, root.hex(), note, (clock or self.clock)())
            await conn.execute(
                insert(checkpoints).values(
                    tree_size=size, root=created.root, note=note, created_at=created.created_at
                )
            )
        log.info("docket.checkpoints.signed", tree_size=size, root=created.root)
        return created


#: Leaves a background round adds to the tree per transaction (`CheckpointWriter`): each
#: page's read, hashing and COPY hold the event loop for a moment, and at 50,000 leaves
#: that moment was ~0.4 s (B13's reads in one `docket serve` building the tree of a
#: 1,000,000-event log had a p99 of 460 ms).
ROUND_LEAVES = 5_000


class CheckpointWriter:
    """Signs a checkpoint on the wall-clock grid of SPEC §4 (`events.checkpoint_grid`):
    at each tick, every `every_seconds` seconds counted from the Unix epoch, if the log
    grew; and as soon as it has grown by `every_events`. It reads the time from `clock`
    (the runtime's) and calls `on_signed` with each checkpoint it signs (the witnesses'
    submitter is woken so)."""

    def __init__(
        self,
        tree: LogTree,
        signer: Signer,
        origin: str,
        every_events: int,
        every_seconds: float,
        on_signed: Callable[[StoredCheckpoint], None] | None = None,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.tree = tree
        self.signer = signer
        self.origin = origin
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.on_signed = on_signed
        self.clock = clock
        self._wake = asyncio.Event()
        # The tick the writer waits for: the first one after its first round, so that a
        # writer that starts (or restarts) signs for time at a tick, never on starting.
        self._awaited: datetime | None = None

    def notify(self) -> None:
        """The log moved: wake `run_forever` (the process's log follower calls this)."""
        self._wake.set()

    async def run_forever(self, poll_interval: float = 1.0, idle_s: float | None = None) -> None:
        """A round every `poll_interval` seconds until cancelled; with `idle_s`, a round
        only once `notify()` says the log moved (for `every_events`), or the next tick
        comes, or `idle_s` passed, at most every `poll_interval`, but never later than
        the tick. A failed round (the database away, a tree that no longer matches a
        signed root) is logged as `docket.checkpoint.failed` and tried again after
        `poll_interval` (a tick it was for is still served, if no other process did)."""
        while True:
            failed = False
            try:
                await self.run_once()
            except Exception as error:
                # A fresh logger proxy: the configuration in force now (a cached module
                # logger would keep the one of its first use).
                logger = structlog.get_logger("docket.checkpoints")
                logger.warning("docket.checkpoint.failed", error=repr(error), exc_info=error)
                failed = True
            await asyncio.sleep(poll_interval if failed else min(poll_interval, self._to_tick()))
            if idle_s is not None and not failed:
                await self._until_woken(min(idle_s, self._to_tick()))

    def _to_tick(self) -> float:
        """Seconds until the awaited tick, by the clock (0 once it has come)."""
        if self._awaited is None:
            return 0.0
        return max((self._awaited - self.clock()).total_seconds(), 0.0)

    async def _until_woken(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def run_once(self) -> Trigger | None:
        """One round: sign if due (`every_events` new events, or some and the awaited
        tick has come with nothing signed in its slot yet), else extend the tree. The
        trigger of a checkpoint that was due, None if none was."""
        now = self.clock()
        interval = self.every_seconds
        awaited = self._awaited if self._awaited is not None else next_tick(now, interval)
        latest = await self.tree.latest_checkpoint()
        head, _ = await self.tree.store.head()
        signed_size = latest.tree_size if latest else 0
        trigger = signing_due(
            now=now,
            awaited=awaited,
            interval=interval,
            head=head,
            signed_size=signed_size,
            signed_at=latest.created_at if latest else None,
            every_events=self.every_events,
        )
        # in transactions of ROUND_LEAVES leaves: a serving process answers requests
        # between them while it builds the tree of a large log
        await self.tree.extend(batch=ROUND_LEAVES)
        if trigger is not None:
            signed = await self.tree.sign_checkpoint(
                self.signer, self.origin, clock=self.clock, expected_latest=signed_size
            )
            if signed is not None and self.on_signed is not None:
                self.on_signed(signed)
        self._awaited = next_awaited(now, awaited, interval)
        return trigger
