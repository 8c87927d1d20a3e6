"""The projection runner: follows the log by position and keeps a list of projections.

- **Exactly once.** Events are applied in batches; each batch's rows and the new
  checkpoint of every projection it advanced are written in ONE transaction, and the
  checkpoint is moved by compare-and-set (`WHERE position = <where we started>`): a crash
  leaves the previous checkpoint with the previous rows, and a runner that lost a race
  drops its batch, has its projections forget their caches and starts again from the
  stored checkpoints.
- **One active worker per database** (`projections.runner.lock`).
- **Fast replays.** Events are read in pages, read ahead (`projections.runner.pages`);
  during a long read, batch n + 1 is folded while batch n is written.
- **Rebuilds aside.** A rebuild fills copies of the projections' tables that only its
  own connection sees, with their primary keys but no secondary indexes, in one
  transaction, and swaps them in with their indexes built and the projections'
  checkpoints at the position it reached (`events.store.TableWriter.rebuilding`):
  readers keep the old rows (and indexes) until then, and a rebuild that dies leaves the
  projections as they were, to be caught up as usual.
- **Rebuilds in processes.** On PostgreSQL a log of `PARALLEL_REBUILD_EVENTS` or more is
  folded by worker processes, each the request streams of one hash partition, into
  committed copies swapped in the same way (`projections.runner.partitioned`); SQLite,
  small logs and projections that are not the registered ones rebuild in this process.

What a projection is and does is `projections.projection.Projection`; the runner knows
nothing of events beyond their positions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

import structlog
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.engines import WRITER_OPTIONS
from events.gcpause import gc_paused
from events.store import EventStore
from projections.projection import Batch, EventRow, Projection, Writes
from projections.read_models import default_projections
from projections.runner import checkpoints
from projections.runner.checkpoints import CheckpointMoved
from projections.runner.lock import PROJECTION_LOCK_KEY, ProjectionLockBusy
from projections.runner.pages import PageReader
from projections.runner.partitioned import (
    PARALLEL_REBUILD_EVENTS,
    default_processes,
    partitionable,
    rebuild_in_processes,
)
from projections.runner.rebuild_worker import WorkerReport
from projections.runner.replay import Progress, replay

log = structlog.get_logger("docket.projections")

#: pages of at least this many events are folded with the cyclic collector paused
GC_PAUSE_EVENTS = 1_000


@dataclass(slots=True)
class _Folded:
    """One batch, folded: what its projections write, and where it moves them."""

    start: int
    end: int
    names: frozenset[str]
    writes: list[Writes]


class ProjectionRunner:
    """Keeps `projections` (by default every registered one,
    `projections.read_models.REGISTERED`) up to date with the log of `store`;
    `time_zone` is the committee's, handed to the projections in each `Batch`."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: EventStore,
        *,
        projections: Sequence[Projection] | None = None,
        batch_size: int = 10_000,
        lock_retry_seconds: float = 5.0,
        time_zone: tzinfo = UTC,
        rebuild_processes: int | None = None,
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**WRITER_OPTIONS)
        self._store = store
        self._projections = list(default_projections() if projections is None else projections)
        self._by_name = {projection.name: projection for projection in self._projections}
        if len(self._by_name) != len(self._projections):
            raise ValueError("two projections of the same name")
        self._names = tuple(self._by_name)
        self._lock = store.backend.session_lock(PROJECTION_LOCK_KEY)
        self._pages = PageReader(store, batch_size)
        self._lock_retry_seconds = lock_retry_seconds
        self._time_zone = time_zone
        if rebuild_processes is not None and rebuild_processes < 1:
            raise ValueError("rebuild_processes is at least 1")
        self._processes = rebuild_processes
        #: what the worker processes of the last rebuild reported (none: it ran here)
        self.rebuild_workers: list[WorkerReport] = []
        self._wake = asyncio.Event()
        self._mutex = asyncio.Lock()
        # what this runner believes the stored checkpoints are; the projections' caches
        # are valid for them (None: to be read, and the projections restarted)
        self._known: dict[str, int] | None = None
        # what the projections share across batches (`Batch.shared`), dropped with their
        # caches
        self._shared: dict[type[Any], Any] = {}

    @property
    def batch_size(self) -> int:
        return self._pages.batch_size

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the projections this runner keeps."""
        return self._names

    # -- the worker lock ---------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """Whether this runner may write: it holds the lock (always true on SQLite)."""
        return self._lock.held

    async def acquire(self) -> bool:
        """Try once to become the active worker; True if this runner now is."""
        if self._lock.held:
            return True
        if not await self._lock.try_acquire():
            return False
        self._invalidate()
        log.info("docket.projections.lock_acquired")
        return True

    async def close(self) -> None:
        """Release the lock (if held) and its connection."""
        await self._lock.release()

    async def wait_for_lock(self, within_seconds: float) -> None:
        """Become the active worker within that many seconds or raise `ProjectionLockBusy`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while not await self.acquire():
            if loop.time() >= deadline:
                raise ProjectionLockBusy(
                    "another projection worker holds the lock on this database"
                )
            await asyncio.sleep(min(0.5, max(deadline - loop.time(), 0.0)))

    async def _drop_lock(self) -> None:
        self._invalidate()
        if await self._lock.drop():
            log.warning("docket.projections.lock_lost")

    # -- public operations -------------------------------------------------------------

    def notify(self) -> None:
        """Wake `run_forever` now (the app calls it after each append)."""
        self._wake.set()

    async def checkpoints(self) -> dict[str, int]:
        """The stored checkpoint of every projection (0 for one never run)."""
        async with self._engine.connect() as conn:
            return await checkpoints.read(conn, self._names)

    async def lag(self) -> int:
        """How many events the slowest projection is behind the log's head."""
        head, _ = await self._store.head()
        stored = await self.checkpoints()
        return max(head - min(stored.values()), 0)

    async def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Apply every event after the stored checkpoints (up to `until`); return the
        position every projection has reached. A stand-by runner (another holds the
        PostgreSQL lock) applies nothing and returns the stored position."""
        async with self._mutex:
            if not await self.acquire():
                return min((await self.checkpoints()).values())
            return await self._run(until, progress)

    async def rebuild(
        self,
        names: Sequence[str] | None = None,
        progress: Progress | None = None,
        *,
        lock_wait_seconds: float = 10.0,
        processes: int | None = None,
    ) -> int:
        """Replay the log from position 0 into the named projections (all by default),
        aside, and swap their tables in with their checkpoints at the position reached,
        in one transaction; return that position. Readers see the old rows until then;
        a rebuild that fails leaves the projections as they were. On PostgreSQL a large
        log is folded by worker processes (`projections.runner.partitioned`); `processes`
        (else the runner's `rebuild_processes`) sets how many, 1 for none."""
        chosen = list(self._names if not names else dict.fromkeys(names))
        unknown = [name for name in chosen if name not in self._by_name]
        if unknown:
            raise ValueError(f"unknown projection(s): {', '.join(unknown)}")
        async with self._mutex:
            await self.wait_for_lock(lock_wait_seconds)
            async with self._writer.begin() as conn:
                await checkpoints.ensure(conn, self._names)
            self._invalidate()
            head, _ = await self._store.head()
            log.info("docket.projections.rebuild_started", projections=chosen, head=head)
            rebuilt = [self._by_name[name] for name in chosen]
            tables = [table for projection in rebuilt for table in projection.tables]
            count = self._rebuild_processes(processes, rebuilt, head)
            self.rebuild_workers = []
            try:
                if count > 1:
                    self.rebuild_workers = await rebuild_in_processes(
                        self._store,
                        chosen,
                        tables,
                        head=head,
                        processes=count,
                        batch_size=self.batch_size,
                        time_zone=self._time_zone,
                        finish=lambda conn: checkpoints.place(conn, chosen, head),
                        progress=progress,
                    )
                else:
                    await self._rebuild_here(rebuilt, tables, head, progress)
            finally:
                self._invalidate()
            log.info(
                "docket.projections.rebuild_finished",
                projections=chosen,
                position=head,
                processes=count,
                workers=[
                    {
                        "events": w.events,
                        "s": round(w.seconds, 2),
                        "cpu_s": round(w.cpu_seconds, 2),
                        "rss_mb": round(w.peak_rss_mb),
                    }
                    for w in self.rebuild_workers
                ],
            )
            return head

    def _rebuild_processes(
        self, asked: int | None, projections: Sequence[Projection], head: int
    ) -> int:
        """How many worker processes rebuild `projections` (1: this process does)."""
        count = asked if asked is not None else self._processes
        if count is None:
            count = default_processes() if head >= PARALLEL_REBUILD_EVENTS else 1
        if count > 1 and not partitionable(self._store, projections):
            return 1
        return max(count, 1)

    async def _rebuild_here(
        self,
        projections: Sequence[Projection],
        tables: Sequence[Table],
        head: int,
        progress: Progress | None,
    ) -> None:
        names = [projection.name for projection in projections]
        with gc_paused():  # for the whole replay: see `events.gcpause`
            async with self._store.backend.rebuilding(tables) as aside:
                await replay(
                    aside.conn,
                    projections,
                    self._pages,
                    self._store,
                    self._time_zone,
                    head,
                    progress,
                )
                await aside.swap(lambda conn: checkpoints.place(conn, names, head))

    async def run_forever(self, poll_interval: float = 1.0, min_round_s: float = 0.0) -> None:
        """Keep the projections caught up: on `notify()`, else every `poll_interval`
        seconds, rounds starting at least `min_round_s` apart (the appends of that long
        are applied together). Stands by while another worker holds the lock; survives
        database outages (it retries). Cancel the task to stop it; the lock is released."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                try:
                    if self._lock.exclusive and not (
                        await self._lock.alive() or await self.acquire()
                    ):
                        await self._sleep(self._lock_retry_seconds)
                        continue
                    await self.catch_up()
                except (DBAPIError, OSError) as error:
                    log.warning("docket.projections.catch_up_failed", error=repr(error))
                    await self._drop_lock()
                    await self._sleep(self._lock_retry_seconds)
                    continue
                await self._sleep(poll_interval)
                # under load a wake-up comes with every group commit: a round per commit
                # costs the fixed part of a round (checkpoints read and moved, one
                # transaction, a statement per table) each time
                settle = min_round_s - (loop.time() - started)
                if settle > 0:
                    await asyncio.sleep(settle)
        finally:
            await asyncio.shield(self.close())

    async def _sleep(self, seconds: float) -> None:
        # `asyncio.timeout`, not `wait_for`: on 3.11 `wait_for` can swallow a cancellation
        # that arrives just as the event is set, and shutdown would wait forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    # -- the loop ------------------------------------------------------------------------

    def _invalidate(self) -> None:
        self._known = None
        self._shared.clear()
        for projection in self._projections:
            projection.reset()

    async def _run(self, until: int | None, progress: Progress | None) -> int:
        self._pages.restart()
        try:
            return await self._loop(until, progress)
        finally:
            await self._pages.close()

    async def _loop(self, until: int | None, progress: Progress | None) -> int:
        async with self._writer.begin() as conn:
            await checkpoints.ensure(conn, self._names)
        first: int | None = None
        total = 0
        pages = self._pages
        # A long read (raw pages) is pipelined: batch n + 1 is folded while batch n is
        # written. Batch n + 1 starts from the checkpoints batch n writes, and its own
        # write waits for batch n's commit: if that fails, batch n + 1 is dropped with the
        # caches, as after a lost race.
        writing: tuple[_Folded, asyncio.Task[None]] | None = None
        try:
            while True:
                if writing is None or not pages.reading_raw or self._known is None:
                    if writing is not None:
                        done, writing = writing, None
                        if not await self._written(done, first, total, progress):
                            continue
                    stored = await self._stored()
                else:
                    stored = self._known  # as the batch being written will leave them
                start = min(stored.values())
                if first is None:
                    first = start
                    if progress is not None:
                        head = until if until is not None else (await self._store.head())[0]
                        total = max(head - start, 0)
                        progress(0, total)
                ahead = [position for position in stored.values() if position > start]
                bound = min([*ahead, *([until] if until is not None else [])], default=None)
                page: list[EventRow] = []
                if bound is None or bound > start:
                    page = await pages.page(start, bound)
                if not page:
                    if writing is not None:
                        done, writing = writing, None
                        if not await self._written(done, first, total, progress):
                            continue
                    return start
                names = frozenset(name for name, position in stored.items() if position == start)
                try:
                    # a long page only: the pause is process-wide and lasts across the
                    # flush's awaits, so pausing a short catch-up under load would let the
                    # requests served meanwhile pile up for one long young collection
                    long_page = len(page) >= GC_PAUSE_EVENTS
                    pause = gc_paused() if long_page else contextlib.nullcontext()
                    with pause:
                        batch = await self._fold(start, page, names)
                        if writing is not None:
                            done, writing = writing, None
                            if not await self._written(done, first, total, progress):
                                continue
                        if pages.reading_raw and batch.end != bound:
                            writing = (batch, asyncio.create_task(self._flush(batch)))
                            self._known = {**stored, **dict.fromkeys(names, batch.end)}
                            continue
                        # read the next page ahead, unless raw pages come next
                        if batch.end != bound and not pages.long_read_next:
                            pages.prefetch(batch.end)
                        await self._flush(batch)
                except CheckpointMoved:
                    log.info("docket.projections.checkpoint_moved", start=start)
                    self._invalidate()
                    continue
                except BaseException:
                    self._invalidate()
                    raise
                self._known = {**stored, **dict.fromkeys(names, batch.end)}
                if progress is not None:
                    progress(min(batch.end - first, total), total)
        finally:
            if writing is not None:
                writing[1].cancel()
                with contextlib.suppress(BaseException):
                    await writing[1]

    async def _stored(self) -> dict[str, int]:
        """The stored checkpoints; if they are not what this runner believes, its
        projections forget their caches, and restart from the stored rows."""
        async with self._engine.connect() as conn:
            stored = await checkpoints.read(conn, self._names)
            if stored != self._known:
                self._invalidate()
                for projection in self._projections:
                    await projection.start(conn)
                self._known = stored
        return stored

    async def _fold(self, start: int, page: list[EventRow], names: frozenset[str]) -> _Folded:
        """The page folded by the projections at `start` (`names`)."""
        batch = Batch(start, page[-1].position, self._store, self._time_zone, self._shared)
        writes: list[Writes] = []
        for projection in self._projections:
            if projection.name in names:
                writes.append(await projection.apply(batch, page))
                # folding is CPU without a wait: in a serving process the requests ready
                # meanwhile get the loop between projections, not after the whole page
                await asyncio.sleep(0)
        return _Folded(start, batch.end, names, writes)

    async def _flush(self, batch: _Folded) -> None:
        """The batch's rows and checkpoints, in one transaction."""
        async with self._writer.begin() as conn:
            await checkpoints.move(conn, batch.names, batch.start, batch.end)
            for writes in batch.writes:
                await writes.flush(conn, self._store.backend)

    async def _written(
        self,
        writing: tuple[_Folded, asyncio.Task[None]],
        first: int | None,
        total: int,
        progress: Progress | None,
    ) -> bool:
        """Wait for a pipelined batch's write; False (caches dropped) if another runner
        moved a checkpoint first."""
        batch, task = writing
        try:
            await task
        except CheckpointMoved:
            log.info("docket.projections.checkpoint_moved", start=batch.start)
            self._invalidate()
            return False
        except BaseException:
            self._invalidate()
            raise
        if progress is not None and first is not None:
            progress(min(batch.end - first, total), total)
        return True
