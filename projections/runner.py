"""The projection runner: follows the log by position and keeps the read models.

- **Exactly once.** Events are applied in batches; each batch's rows and the new
  checkpoint of every projection it advanced are written in ONE transaction, and the
  checkpoint is moved by compare-and-set (`WHERE position = <where we started>`): a crash
  leaves the previous checkpoint with the previous rows, and a runner that lost a race
  drops its batch, forgets its caches and starts again from the stored checkpoint.
- **One active worker per database.** On PostgreSQL the worker holds a session advisory
  lock (`PROJECTION_LOCK_KEY`, not the store's append lock) on a connection kept for its
  lifetime; others stand by and retry. On SQLite there is no such lock: writes serialise
  on the database lock (`BEGIN IMMEDIATE`) and the compare-and-set above makes concurrent
  runners (say `docket rebuild` beside a serving process) safe, if wasteful.
- **Fast replays.** Events are read in pages; request states, active holds and new rows
  are kept in memory for the batch and written with executemany. A retraction re-folds
  only its own request's stream, read from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Table, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import bulk, upcasting
from events.model import RecordedEvent
from events.store import EventStore
from projections import history as history_rows
from projections import holds as hold_rows
from projections.history import EventRow
from projections.request import RequestState, fold, view
from projections.request import evolve as evolve_state
from projections.tables import (
    PROJECTIONS,
    TABLES,
    holds,
    insert_records,
    projection_checkpoints,
    request_history,
    request_state,
)
from service.db import WRITER_OPTIONS

log = structlog.get_logger("docket.projections")

#: The PostgreSQL advisory lock of the projection worker ("docket-p" in ASCII); the
#: store's append lock is another key.
PROJECTION_LOCK_KEY = int.from_bytes(b"docket-p", "big")

#: `progress(done, total)`: events applied so far out of those to apply.
Progress = Callable[[int, int], None]

REQUEST_STREAM_PREFIX = "request-"


class ProjectionLockBusy(RuntimeError):
    """Another projection worker holds the lock on this database."""


class _CheckpointMoved(Exception):
    """Another runner advanced a checkpoint while this one was working on a batch."""


def state_row(state: RequestState) -> dict[str, Any]:
    """The `request_state` row of a request state (its document is `view` as of the last
    event; the list and statistics endpoints derive the status now from the columns)."""
    document = view(state, state.last_occurred_at)
    active = state.active_holds
    initial = state.procedures[0]
    applicant = state.applicant
    return {
        "request_id": state.request_id,
        "stream_id": REQUEST_STREAM_PREFIX + state.request_id,
        "stream_version": state.stream_version,
        "position": state.position,
        "submitted_at": state.submitted_at,
        "last_occurred_at": state.last_occurred_at,
        "applicant_name": str(applicant.get("name", "")),
        "applicant_kind": str(applicant.get("kind", "")),
        "channel": state.channel,
        "sponsor": state.sponsor,
        "title": state.title,
        "urgent": bool(state.urgent),
        "disclosure": state.disclosure,
        "status_hint": document["status"],
        "open_procedure": state.open_procedure,
        "circulated_at": initial.circulated_at,
        "deadline": state.deadline,
        "active_holds": len(active),
        "held_by": "," + ",".join(sorted({h.member for h in active})) + "," if active else None,
        "information_pending": state.information_pending,
        "decided_at": initial.decided_at,
        "outcome": initial.outcome,
        "approved_at": state.approved_at,
        "refused_at": state.refused_at,
        "withdrawn_at": state.withdrawn_at,
        "valid_from": state.valid_from,
        "valid_until": state.valid_until,
        "document": document,
    }


def state_record(state: RequestState) -> tuple[Any, ...]:
    """`state_row(state)` as a tuple in `request_state`'s column order, the document as
    JSON text (what a bulk write sends)."""
    document = view(state, state.last_occurred_at)
    active = state.active_holds
    initial = state.procedures[0]
    applicant = state.applicant
    return (
        state.request_id,
        REQUEST_STREAM_PREFIX + state.request_id,
        state.stream_version,
        state.position,
        state.submitted_at,
        state.last_occurred_at,
        str(applicant.get("name", "")),
        str(applicant.get("kind", "")),
        state.channel,
        state.sponsor,
        state.title,
        bool(state.urgent),
        state.disclosure,
        document["status"],
        state.open_procedure,
        initial.circulated_at,
        state.deadline,
        len(active),
        "," + ",".join(sorted({h.member for h in active})) + "," if active else None,
        document["information_pending"],
        initial.decided_at,
        initial.outcome,
        state.approved_at,
        state.refused_at,
        state.withdrawn_at,
        state.valid_from,
        state.valid_until,
        orjson.dumps(document).decode(),
    )


class _RowEvent:
    """An event of a bulk-read row as the projections read it (`history.EventRow`):
    no event id, hashes or schema version parsed. Its data is at the latest version."""

    __slots__ = (
        "data",
        "event_type",
        "metadata",
        "occurred_at",
        "position",
        "recorded_at",
        "stream_id",
        "stream_version",
    )

    def __init__(
        self,
        position: int,
        stream_id: str,
        stream_version: int,
        event_type: str,
        data: dict[str, Any],
        metadata: dict[str, Any],
        occurred_at: datetime,
        recorded_at: datetime,
    ) -> None:
        self.position = position
        self.stream_id = stream_id
        self.stream_version = stream_version
        self.event_type = event_type
        self.data = data
        self.metadata = metadata
        self.occurred_at = occurred_at
        self.recorded_at = recorded_at


@dataclass(slots=True)
class _Batch:
    """What one batch writes, collected in memory before its transaction."""

    start: int
    end: int
    names: frozenset[str]
    history: list[tuple[Any, ...]] = field(default_factory=list)
    new_holds: dict[int, hold_rows.Hold] = field(default_factory=dict)
    ended_holds: dict[int, hold_rows.Hold] = field(default_factory=dict)
    new_states: dict[str, RequestState] = field(default_factory=dict)
    changed_states: dict[str, RequestState] = field(default_factory=dict)
    # requests with a retraction in the batch: re-folded from their stream at its end
    refold: set[str] = field(default_factory=set)
    refolded_states: dict[str, RequestState | None] = field(default_factory=dict)
    refolded_holds: dict[str, hold_rows.Holds] = field(default_factory=dict)
    refolded_retractions: dict[str, dict[int, int]] = field(default_factory=dict)


class ProjectionRunner:
    """Keeps `request_state`, `request_history` and `holds` up to date with the log."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: EventStore,
        *,
        batch_size: int = 10_000,
        state_cache_size: int = 50_000,
        lock_retry_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**WRITER_OPTIONS)
        self._store = store
        self._postgres = engine.dialect.name == "postgresql"
        self.batch_size = batch_size
        self._state_cache_size = state_cache_size
        self._lock_retry_seconds = lock_retry_seconds
        self._lock_conn: AsyncConnection | None = None
        self._wake = asyncio.Event()
        self._mutex = asyncio.Lock()
        # what this runner believes the stored checkpoints are; caches are valid for them
        self._known: dict[str, int] | None = None
        self._states: OrderedDict[str, RequestState] = OrderedDict()
        self._active_holds: dict[str, hold_rows.Holds] | None = None
        self._prefetched: tuple[int, asyncio.Task[list[RecordedEvent]]] | None = None
        # a long read (a rebuild, a large lag) on PostgreSQL: `events.bulk` pages, read
        # ahead on their own connection; (the position its next page starts after, pages)
        self._bulk: tuple[int, AsyncGenerator[list[Any], None]] | None = None
        # the store's upcasters (the bulk reader gives events in stored form), and whether
        # data of (event type, schema version) has any
        self._upcasters: upcasting.UpcasterRegistry = getattr(
            store, "_upcasters", upcasting.registry
        )
        self._upcastable: dict[tuple[str, int], bool] = {}
        self._full_page = False  # whether the last page read was a full one

    # -- the worker lock ---------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """Whether this runner may write: it holds the lock (always true on SQLite)."""
        return not self._postgres or self._lock_conn is not None

    async def acquire(self) -> bool:
        """Try once to become the active worker; True if this runner now is."""
        if self.is_active:
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
        self._lock_conn = conn
        self._invalidate()
        log.info("docket.projections.lock_acquired")
        return True

    async def _still_locked(self) -> bool:
        """Whether the lock connection is alive (a restarted server drops the lock)."""
        if self._lock_conn is None:
            return not self._postgres
        try:
            await self._lock_conn.execute(text("SELECT 1"))
            await self._lock_conn.commit()
            return True
        except (DBAPIError, OSError):
            await self._drop_lock()
            return False

    async def _drop_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        self._invalidate()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            log.warning("docket.projections.lock_lost")

    async def close(self) -> None:
        """Release the lock (if held) and its connection."""
        conn, self._lock_conn = self._lock_conn, None
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

    # -- public operations -------------------------------------------------------------

    def notify(self) -> None:
        """Wake `run_forever` now (the app calls it after each append)."""
        self._wake.set()

    async def checkpoints(self) -> dict[str, int]:
        """The stored checkpoint of every projection (0 for one never run)."""
        async with self._engine.connect() as conn:
            return await _read_checkpoints(conn)

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
    ) -> int:
        """Empty the named projections (all by default), replay the log from position 0
        into them, and return the position reached. Readers see the tables fill up."""
        chosen = list(PROJECTIONS if not names else dict.fromkeys(names))
        unknown = [name for name in chosen if name not in TABLES]
        if unknown:
            raise ValueError(f"unknown projection(s): {', '.join(unknown)}")
        async with self._mutex:
            await self.wait_for_lock(lock_wait_seconds)
            async with self._writer.begin() as conn:
                await _ensure_checkpoints(conn)
                for name in chosen:
                    await conn.execute(delete(TABLES[name]))
                    await conn.execute(
                        update(projection_checkpoints)
                        .where(projection_checkpoints.c.name == name)
                        .values(position=0, updated_at=datetime.now(UTC))
                    )
            self._invalidate()
            head, _ = await self._store.head()
            log.info("docket.projections.rebuild_started", projections=chosen, head=head)
            with _gc_paused():  # for the whole replay: see `_gc_paused`
                reached = await self._run(head, progress)
            log.info("docket.projections.rebuild_finished", projections=chosen, position=reached)
            return reached

    async def run_forever(self, poll_interval: float = 1.0) -> None:
        """Keep the projections caught up: on `notify()`, else every `poll_interval`
        seconds. Stands by while another worker holds the lock; survives database
        outages (it retries). Cancel the task to stop it; the lock is released."""
        try:
            while True:
                try:
                    if self._postgres and not (await self._still_locked() or await self.acquire()):
                        await self._sleep(self._lock_retry_seconds)
                        continue
                    await self.catch_up()
                except (DBAPIError, OSError) as error:
                    log.warning("docket.projections.catch_up_failed", error=repr(error))
                    await self._drop_lock()
                    await self._sleep(self._lock_retry_seconds)
                    continue
                await self._sleep(poll_interval)
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
        self._states.clear()
        self._active_holds = None

    async def _run(self, until: int | None, progress: Progress | None) -> int:
        self._full_page = False
        try:
            return await self._loop(until, progress)
        finally:
            await self._close_bulk()
            prefetched, self._prefetched = self._prefetched, None
            if prefetched is not None:
                prefetched[1].cancel()
                with contextlib.suppress(BaseException):
                    await prefetched[1]

    async def _read_page(self, after: int) -> list[RecordedEvent]:
        return await self._store.read_all(after, self.batch_size, upcast=True)

    async def _close_bulk(self) -> None:
        reading, self._bulk = self._bulk, None
        if reading is not None:
            await reading[1].aclose()

    async def _bulk_page(self, start: int, until: int | None) -> list[EventRow] | None:
        """The page after `start` from the bulk reader, opened when more than two pages are
        to be read on PostgreSQL; None when the bulk reader is not the way to read it."""
        if self._bulk is not None and self._bulk[0] != start:
            await self._close_bulk()
        if self._bulk is None:
            if not self._postgres:
                return None
            if until is None:
                # no bound (a catch-up): long if the last page read was full; no head()
                # query on every catch-up of a serving process
                if not self._full_page:
                    return None
            elif until - start <= 2 * self.batch_size:
                return None
            self._bulk = (start, bulk.iter_raw_pages(self._store, start, self.batch_size))
        pages = self._bulk[1]
        rows = await anext(pages, None)
        if rows is None:
            await self._close_bulk()
            return []
        self._bulk = (rows[-1][0], pages)
        return self._events(rows)

    def _events(self, rows: list[Any]) -> list[EventRow]:
        """Events of raw PostgreSQL rows (`events.bulk.RawRow`), upcast: a `_RowEvent`
        (what the projections read, nothing else parsed) unless the data has upcasters."""
        upcastable = self._upcastable
        loads = orjson.loads
        found: list[EventRow] = []
        for row in rows:
            key = (row[4], row[5])
            needs = upcastable.get(key)
            if needs is None:
                needs = upcastable[key] = self._upcasters.latest_version(*key) != key[1]
            if needs:
                found.append(self._upcasters.upcast(bulk.to_event(row)))
                continue
            occurred, recorded = row[8], row[9]
            if occurred.tzinfo is not UTC:
                occurred = occurred.astimezone(UTC)
            if recorded.tzinfo is not UTC:
                recorded = recorded.astimezone(UTC)
            found.append(
                _RowEvent(
                    row[0], row[2], row[3], row[4], loads(row[6]), loads(row[7]), occurred, recorded
                )
            )
        return found

    async def _loop(self, until: int | None, progress: Progress | None) -> int:
        async with self._writer.begin() as conn:
            await _ensure_checkpoints(conn)
        first: int | None = None
        total = 0
        # A long read (the bulk reader) is pipelined: batch n + 1 is folded while batch n
        # is written. Batch n + 1 starts from the checkpoints batch n writes, and its own
        # write waits for batch n's commit: if that fails, batch n + 1 is dropped with the
        # caches, as after a lost race.
        writing: tuple[_Batch, asyncio.Task[None]] | None = None
        try:
            while True:
                if writing is None or self._bulk is None or self._known is None:
                    if writing is not None:
                        done, writing = writing, None
                        if not await self._written(done, first, total, progress):
                            continue
                    async with self._engine.connect() as conn:
                        stored = await _read_checkpoints(conn)
                        if stored != self._known:
                            self._invalidate()
                            self._known = stored
                        if self._active_holds is None:
                            self._active_holds = await _load_active_holds(conn)
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
                    page = await self._page(start, bound)
                if not page:
                    if writing is not None:
                        done, writing = writing, None
                        if not await self._written(done, first, total, progress):
                            continue
                    return start
                names = frozenset(name for name, position in stored.items() if position == start)
                batch = _Batch(start=start, end=page[-1].position, names=names)
                try:
                    with _gc_paused():
                        await self._apply(batch, page)
                        if writing is not None:
                            done, writing = writing, None
                            if not await self._written(done, first, total, progress):
                                continue
                        if self._bulk is not None and batch.end != bound:
                            writing = (batch, asyncio.create_task(self._flush(batch)))
                            self._known = {**stored, **dict.fromkeys(names, batch.end)}
                            continue
                        long_read = self._postgres and self._full_page  # bulk reader next
                        if batch.end != bound and self._bulk is None and not long_read:
                            read = asyncio.create_task(self._read_page(batch.end))
                            self._prefetched = (batch.end, read)
                        await self._flush(batch)
                except _CheckpointMoved:
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

    async def _written(
        self,
        writing: tuple[_Batch, asyncio.Task[None]],
        first: int | None,
        total: int,
        progress: Progress | None,
    ) -> bool:
        """Wait for a pipelined batch's write; False (caches dropped) if another runner
        moved a checkpoint first."""
        batch, task = writing
        try:
            await task
        except _CheckpointMoved:
            log.info("docket.projections.checkpoint_moved", start=batch.start)
            self._invalidate()
            return False
        except BaseException:
            self._invalidate()
            raise
        if progress is not None and first is not None:
            progress(min(batch.end - first, total), total)
        return True

    async def _page(self, start: int, bound: int | None) -> list[EventRow]:
        """The events after `start` (up to `bound`), one page."""
        # The next page is read while this one is folded and written; the log is
        # immutable, so a page read ahead is good as long as it starts where we are.
        prefetched, self._prefetched = self._prefetched, None
        page: list[EventRow]
        if prefetched is not None and prefetched[0] == start:
            page = list(await prefetched[1])
        else:
            if prefetched is not None:
                prefetched[1].cancel()
            with _gc_paused():
                bulk_page = await self._bulk_page(start, bound)
            page = list(await self._read_page(start)) if bulk_page is None else bulk_page
        self._full_page = len(page) >= self.batch_size
        if bound is not None:
            page = [event for event in page if event.position <= bound]
        return page

    async def _state(self, request_id: str, before: int) -> RequestState | None:
        state = self._states.get(request_id)
        if state is not None:
            self._states.move_to_end(request_id)
            return state
        stream = await self._store.read_stream(
            REQUEST_STREAM_PREFIX + request_id, to_position=before
        )
        return fold(stream) if stream else None

    def _remember(self, state: RequestState) -> None:
        self._states[state.request_id] = state
        self._states.move_to_end(state.request_id)
        while len(self._states) > self._state_cache_size:
            self._states.popitem(last=False)

    async def _apply(self, batch: _Batch, page: Iterable[EventRow]) -> None:
        names = batch.names
        do_history = "request_history" in names
        do_holds = "holds" in names
        do_states = "request_state" in names
        active = self._active_holds
        assert active is not None
        refold = batch.refold
        history = batch.history
        history_record = history_rows.record
        new_states = batch.new_states
        changed_states = batch.changed_states
        for event in page:
            stream_id = event.stream_id
            if not stream_id.startswith(REQUEST_STREAM_PREFIX):
                continue
            request_id = stream_id[len(REQUEST_STREAM_PREFIX) :]
            if do_history:
                history.append(history_record(event, request_id))
            if request_id in refold:
                continue
            if event.event_type == "EventRetracted":
                refold.add(request_id)
                continue
            if do_holds:
                before = active.get(request_id, ())
                after = hold_rows.evolve(before, event)
                if after is not before:
                    known = {id(hold) for hold in before}
                    for hold in after:
                        if id(hold) in known:
                            continue
                        if hold.position > batch.start:
                            batch.new_holds[hold.position] = hold
                        else:
                            batch.ended_holds[hold.position] = hold
                    still = tuple(hold for hold in after if hold.active)
                    if still:
                        active[request_id] = still
                    else:
                        active.pop(request_id, None)
            if do_states:
                if event.event_type == "RequestSubmitted":
                    state = None
                else:
                    state = new_states.get(request_id) or changed_states.get(request_id)
                    if state is None:
                        state = await self._state(request_id, event.position - 1)
                new = evolve_state(state, event)
                if state is None or request_id in new_states:
                    new_states[request_id] = new
                else:
                    changed_states[request_id] = new
        # the cache learns the batch's states at its end (lookups within the batch find
        # them in the batch first)
        for states in (new_states, changed_states):
            for state in states.values():
                self._remember(state)
        for request_id in refold:
            await self._refold(batch, request_id)

    async def _refold(self, batch: _Batch, request_id: str) -> None:
        """A retraction: the request's rows from its whole stream up to the batch's end."""
        stream = await self._store.read_stream(
            REQUEST_STREAM_PREFIX + request_id, to_position=batch.end
        )
        batch.new_states.pop(request_id, None)
        batch.changed_states.pop(request_id, None)
        for rows in (batch.new_holds, batch.ended_holds):
            for position in [p for p, hold in rows.items() if hold.request_id == request_id]:
                del rows[position]
        if "request_state" in batch.names:
            state = fold(stream)
            batch.refolded_states[request_id] = state
            self._states.pop(request_id, None)
            if state is not None:
                self._remember(state)
        if "holds" in batch.names:
            every = hold_rows.fold(stream)
            batch.refolded_holds[request_id] = every
            assert self._active_holds is not None
            still = tuple(hold for hold in every if hold.active)
            if still:
                self._active_holds[request_id] = still
            else:
                self._active_holds.pop(request_id, None)
        if "request_history" in batch.names:
            batch.refolded_retractions[request_id] = history_rows.retractions(stream)

    async def _flush(self, batch: _Batch) -> None:
        now = datetime.now(UTC)
        async with self._writer.begin() as conn:
            for name in sorted(batch.names):
                moved = await conn.execute(
                    update(projection_checkpoints)
                    .where(
                        projection_checkpoints.c.name == name,
                        projection_checkpoints.c.position == batch.start,
                    )
                    .values(position=batch.end, updated_at=now)
                )
                if moved.rowcount != 1:
                    raise _CheckpointMoved
            driver: Any = None
            if self._postgres:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection  # asyncpg's, in this transaction
            if batch.history:
                await insert_records(conn, request_history, batch.history)
            if batch.refolded_retractions:
                await self._write_retractions(conn, batch.refolded_retractions)
            if batch.refolded_holds:
                await conn.execute(
                    delete(holds).where(holds.c.request_id.in_(bindparam("ids", expanding=True))),
                    {"ids": sorted(batch.refolded_holds)},
                )
                for every in batch.refolded_holds.values():
                    batch.new_holds.update((hold.position, hold) for hold in every)
            if batch.new_holds:
                await insert_records(conn, holds, [h.record() for h in batch.new_holds.values()])
            if batch.ended_holds:
                ended = list(batch.ended_holds.values())
                if driver is not None:
                    await driver.execute(
                        _PG_END_HOLDS,
                        [h.position for h in ended],
                        [h.ended_at for h in ended],
                        [h.end for h in ended],
                    )
                else:
                    await conn.execute(_UPDATE_HOLD, [_hold_end(h) for h in ended])
            if batch.refolded_states:
                await conn.execute(
                    delete(request_state).where(
                        request_state.c.request_id.in_(bindparam("ids", expanding=True))
                    ),
                    {"ids": sorted(batch.refolded_states)},
                )
                for request_id, state in batch.refolded_states.items():
                    if state is not None:
                        batch.new_states[request_id] = state
            inserted = list(batch.new_states.values())
            if batch.changed_states:
                if driver is not None:
                    # a changed row is replaced whole: delete it and COPY it with the new
                    await driver.execute(_PG_DELETE_STATES, list(batch.changed_states))
                    inserted.extend(batch.changed_states.values())
                else:
                    await conn.execute(
                        _UPDATE_STATE,
                        [_keyed(state_row(s), "request_id") for s in batch.changed_states.values()],
                    )
            if inserted:
                await insert_records(conn, request_state, [state_record(s) for s in inserted])

    @staticmethod
    async def _write_retractions(
        conn: AsyncConnection, retracted: dict[str, dict[int, int]]
    ) -> None:
        await conn.execute(
            update(request_history)
            .where(request_history.c.request_id.in_(bindparam("ids", expanding=True)))
            .values(retracted_by=None),
            {"ids": sorted(retracted)},
        )
        marks = [
            {"k_position": target, "retracted_by": by}
            for targets in retracted.values()
            for target, by in targets.items()
        ]
        if marks:
            await conn.execute(
                update(request_history)
                .where(request_history.c.position == bindparam("k_position"))
                .values(retracted_by=bindparam("retracted_by")),
                marks,
            )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a batch (for a whole rebuild). A batch
    allocates hundreds of thousands of small objects (events, states, rows) that live
    until its end or longer (the state cache): collections triggered by the allocations
    would walk them again and again (~40 % of a rebuild's CPU). They form no cycles, so
    reference counting frees them; the collector runs normally again afterwards. (The
    switch is process-wide: other tasks that run while a batch waits on the database run
    without it for that long.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _keyed(row: dict[str, Any], key: str) -> dict[str, Any]:
    """A row for `_update_by_key`: the key under `k_<key>` (SQLAlchemy reserves the
    column names for the SET clause)."""
    return {f"k_{name}" if name == key else name: value for name, value in row.items()}


def _hold_end(hold: hold_rows.Hold) -> dict[str, Any]:
    return {"k_position": hold.position, "ended_at": hold.ended_at, "end_kind": hold.end}


_PG_END_HOLDS = (
    "UPDATE holds SET ended_at = u.ended_at, end_kind = u.end_kind"
    " FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(position, ended_at, end_kind)"
    " WHERE holds.position = u.position"
)
_PG_DELETE_STATES = "DELETE FROM request_state WHERE request_id = ANY($1::text[])"


def _update_by_key(table: Table, key: str) -> Any:
    return (
        update(table)
        .where(table.c[key] == bindparam(f"k_{key}"))
        .values({c.name: bindparam(c.name) for c in table.c if c.name != key})
    )


_UPDATE_HOLD = (
    update(holds)
    .where(holds.c.position == bindparam("k_position"))
    .values(ended_at=bindparam("ended_at"), end_kind=bindparam("end_kind"))
)
_UPDATE_STATE = _update_by_key(request_state, "request_id")


async def _ensure_checkpoints(conn: AsyncConnection) -> None:
    stored = await _read_checkpoints(conn, fill=False)
    missing = [name for name in PROJECTIONS if name not in stored]
    if missing:
        now = datetime.now(UTC)
        await conn.execute(
            insert(projection_checkpoints),
            [{"name": name, "position": 0, "updated_at": now} for name in missing],
        )


async def _read_checkpoints(conn: AsyncConnection, *, fill: bool = True) -> dict[str, int]:
    result = await conn.execute(
        select(projection_checkpoints.c.name, projection_checkpoints.c.position)
    )
    stored = {str(name): int(position) for name, position in result}
    if fill:
        return {name: stored.get(name, 0) for name in PROJECTIONS}
    return stored


async def _load_active_holds(conn: AsyncConnection) -> dict[str, hold_rows.Holds]:
    result = await conn.execute(
        select(
            holds.c.position,
            holds.c.request_id,
            holds.c.procedure,
            holds.c.member,
            holds.c.placed_at,
        )
        .where(holds.c.ended_at.is_(None))
        .order_by(holds.c.position)
    )
    active: dict[str, hold_rows.Holds] = {}
    for position, request_id, procedure, member, placed_at in result:
        hold = hold_rows.Hold(position, request_id, procedure, member, placed_at)
        active[request_id] = (*active.get(request_id, ()), hold)
    return active
