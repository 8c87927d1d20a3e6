"""The append-only event store on PostgreSQL and SQLite (SPEC §4, docs/ARCHITECTURE.md).

Writes go through one writer task per store ("group commit"): concurrent `append` calls
queue up, and the writer commits everything queued in one transaction, validating each call
in order against the versions left by the calls before it. Inside that transaction the
writer holds the database's single-writer lock (an advisory lock on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite), so positions are assigned in commit order across processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import asyncpg
import orjson
import structlog
from sqlalchemy import ARRAY, Select, Text, bindparam, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.hashing import event_hashes
from events.model import (
    ZERO_HASH,
    ConcurrencyConflict,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    StoreError,
    StreamAppend,
    parse_utc,
)
from events.schema import events
from events.upcasting import UpcasterRegistry
from events.upcasting import registry as default_upcasters
from service.db import WRITER_OPTIONS, create_engine

log = structlog.get_logger("docket.store")

#: The key of the PostgreSQL advisory lock that serialises appends ("docket" in ASCII).
APPEND_LOCK_KEY = 0x646F636B6574

_EXPECTED_WORDS = ("any", "no_stream", "exists")

#: Connections of a PostgreSQL store's engine pool (projections, tokens, lists: the log
#: itself is read through the raw pool below and written on the writer's own connection).
#: Several server processes share the server's max_connections (100 by default).
POOL_SIZE = 10
POOL_OVERFLOW = 10

#: Connections of the raw asyncpg pool that a PostgreSQL store reads the log with.
READ_POOL_SIZE = 10

# -- PostgreSQL statements (raw asyncpg: prepared once per connection, no row processing) --

_PG_COLUMNS = (
    "position, event_id, stream_id, stream_version, event_type, schema_version,"
    " data::text, metadata::text, occurred_at, recorded_at, prev_hash, hash"
)
_PG_LOCK = f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"
# What the writer needs under the lock, in one round trip: the head, the current version
# of each stream of the batch (one index probe each), and which event ids already exist.
_PG_BATCH_STATE = (
    "SELECT (SELECT position FROM events ORDER BY position DESC LIMIT 1),"
    " (SELECT hash FROM events ORDER BY position DESC LIMIT 1),"
    " ARRAY(SELECT coalesce((SELECT max(e.stream_version) FROM events e"
    " WHERE e.stream_id = s.id), 0) FROM unnest($1::text[]) WITH ORDINALITY AS s(id, n)"
    " ORDER BY s.n),"
    " ARRAY(SELECT position FROM events WHERE event_id = ANY($2::text[]))"
)
_PG_INSERT = (
    "INSERT INTO events (position, event_id, stream_id, stream_version, event_type,"
    " schema_version, data, metadata, occurred_at, recorded_at, prev_hash, hash)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],"
    " $6::int[], $7::json[], $8::json[], $9::timestamptz[], $10::timestamptz[], $11::text[],"
    " $12::text[])"
)
_PG_HEAD = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
_PG_STREAM_VERSION = "SELECT max(stream_version) FROM events WHERE stream_id = $1"
_PG_BY_IDS = f"SELECT {_PG_COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY position"
_PG_PAGE = f"SELECT {_PG_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
_PG_STREAMS = (
    f"SELECT {_PG_COLUMNS} FROM events e"
    " JOIN unnest($1::text[], $2::bigint[]) AS s(id, v)"
    " ON e.stream_id = s.id AND e.stream_version >= s.v"
    " ORDER BY e.stream_id, e.stream_version"
)


# The one-round-trip append: the writer predicts the head (what it last wrote) and each
# stream's version (what the batch's calls expect), validates and hashes the batch on that
# prediction, and sends it to this function of its session. Under the advisory lock (each
# statement of a PL/pgSQL function sees what was committed before it), the function
# inserts only if the prediction holds, and otherwise answers the real state without
# writing; the statement's implicit transaction commits at its end.
_PG_APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.docket_append(
    head_position bigint, head_hash text, stream_ids text[], stream_versions bigint[],
    event_ids text[], p bigint[], eid text[], sid text[], sv bigint[], et text[],
    schv int[], d json[], m json[], oc timestamptz[], rc timestamptz[], ph text[], h text[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    last_position bigint;
    last_hash text;
    versions bigint[];
    present boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
    SELECT position, hash INTO last_position, last_hash
        FROM events ORDER BY position DESC LIMIT 1;
    last_position := coalesce(last_position, 0);
    last_hash := coalesce(last_hash, '{ZERO_HASH}');
    versions := ARRAY(
        SELECT coalesce((SELECT max(e.stream_version) FROM events e WHERE e.stream_id = s.id), 0)
        FROM unnest(stream_ids) WITH ORDINALITY AS s(id, n) ORDER BY s.n);
    present := EXISTS (SELECT 1 FROM events WHERE event_id = ANY(event_ids));
    IF last_position <> head_position OR last_hash <> head_hash
            OR versions IS DISTINCT FROM stream_versions OR present THEN
        RETURN json_build_object('position', last_position, 'hash', last_hash,
                                 'versions', versions, 'present', present)::text;
    END IF;
    INSERT INTO events (position, event_id, stream_id, stream_version, event_type,
                        schema_version, data, metadata, occurred_at, recorded_at,
                        prev_hash, hash)
        SELECT * FROM unnest(p, eid, sid, sv, et, schv, d, m, oc, rc, ph, h);
    RETURN NULL;
END
$fn$
"""
_PG_APPEND_CALL = (
    "SELECT pg_temp.docket_append($1::bigint, $2::text, $3::text[], $4::bigint[],"
    " $5::text[], $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::int[],"
    " $12::json[], $13::json[], $14::timestamptz[], $15::timestamptz[], $16::text[],"
    " $17::text[])"
)


def _predicted_versions(batch: list[_Pending]) -> dict[str, int] | None:
    """Each stream's version as the batch's calls expect it; None if one does not say."""
    predicted: dict[str, int] = {}
    for pending in batch:
        for stream_append in pending.appends:
            expected = stream_append.expected
            if expected == "no_stream":
                predicted.setdefault(stream_append.stream_id, 0)
            elif isinstance(expected, int):
                predicted.setdefault(stream_append.stream_id, expected)
            else:
                return None
    return predicted


def _insert_columns(rows: list[tuple[RecordedEvent, str, str]]) -> list[list[Any]]:
    written = [row[0] for row in rows]
    return [
        [e.position for e in written],
        [str(e.event_id) for e in written],
        [e.stream_id for e in written],
        [e.stream_version for e in written],
        [e.event_type for e in written],
        [e.schema_version for e in written],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [e.occurred_at for e in written],
        [e.recorded_at for e in written],
        [e.prev_hash for e in written],
        [e.hash for e in written],
    ]


def _pg_read_stream(to_position: bool, occurred_until: bool) -> str:
    query = f"SELECT {_PG_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2"
    n = 2
    if to_position:
        n += 1
        query += f" AND position <= ${n}"
    if occurred_until:
        n += 1
        query += f" AND occurred_at <= ${n}"
    return query + " ORDER BY stream_version"


_PG_READ_STREAM = {(p, o): _pg_read_stream(p, o) for p in (False, True) for o in (False, True)}


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite's raw rows hold times as text
        return parse_utc(value)
    moment: datetime = value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def row_event(row: Sequence[Any]) -> RecordedEvent:
    """The `RecordedEvent` of a raw row in `EVENT_COLUMNS` order (data and metadata as
    JSON text), as stored: no upcasting."""
    return RecordedEvent(
        position=row[0],
        event_id=uuid.UUID(row[1]),
        stream_id=row[2],
        stream_version=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=orjson.loads(row[6]),
        metadata=orjson.loads(row[7]),
        occurred_at=_utc(row[8]),
        recorded_at=_utc(row[9]),
        prev_hash=row[10],
        hash=row[11],
    )


#: SQLAlchemy's error class for each SQLSTATE class, as its asyncpg dialect would raise it.
_ERROR_CLASSES: dict[str, type[sa_exc.DBAPIError]] = {
    "08": sa_exc.OperationalError,
    "53": sa_exc.OperationalError,
    "57": sa_exc.OperationalError,
    "22": sa_exc.DataError,
    "23": sa_exc.IntegrityError,
    "42": sa_exc.ProgrammingError,
}


#: Errors of the connection rather than of the statement. asyncpg raises
#: InternalClientError ("another operation is in progress") on a connection left mid-way by
#: an interrupted one — seen while PostgreSQL shuts down under load.
_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError)
_DATABASE_ERRORS = (asyncpg.PostgresError, *_BROKEN_CONNECTION)


def _as_dbapi_error(error: Exception, statement: str) -> Exception:
    """A raw asyncpg error as the `sqlalchemy.exc.DBAPIError` the SQLAlchemy path raises,
    so that callers handle both paths alike (503 on unavailability, the runner's retry)."""
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", "") or "")
        kind = _ERROR_CLASSES.get(sqlstate[:2], sa_exc.DBAPIError)
        return kind(statement, None, error)
    if isinstance(error, _BROKEN_CONNECTION):
        return sa_exc.InterfaceError(statement, None, error, connection_invalidated=True)
    return error


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Pool connections are only used for single statements outside transactions."""


class DuplicateEvents(StoreError):
    """Some, but not all, of an append's events are already in the log."""

    def __init__(self, present: Sequence[uuid.UUID]) -> None:
        shown = ", ".join(str(event_id) for event_id in present[:3])
        super().__init__(f"{len(present)} of the events are already recorded ({shown} …)")
        self.present = list(present)


class StoreClosed(StoreError):
    """The store was closed before the append could be written."""


@dataclass(slots=True)
class StoreStats:
    """Counters of the writer: transactions, calls and events."""

    batches: int = 0
    calls: int = 0
    events: int = 0
    conflicts: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


@dataclass(slots=True)
class _Pending:
    appends: tuple[StreamAppend, ...]
    event_ids: list[uuid.UUID]
    future: asyncio.Future[list[RecordedEvent]]


@dataclass(slots=True)
class _BatchState:
    position: int
    chain: bytes
    versions: dict[str, int]
    existing: dict[uuid.UUID, RecordedEvent]
    written: dict[uuid.UUID, RecordedEvent] = field(default_factory=dict)
    #: What the batch writes, in position order: each event with its data and metadata as
    #: the JSON text stored.
    rows: list[tuple[RecordedEvent, str, str]] = field(default_factory=list)


_COLUMNS = (
    events.c.position,
    events.c.event_id,
    events.c.stream_id,
    events.c.stream_version,
    events.c.event_type,
    events.c.schema_version,
    events.c.data,
    events.c.metadata,
    events.c.occurred_at,
    events.c.recorded_at,
    events.c.prev_hash,
    events.c.hash,
)


def _select_events() -> Select[Any]:
    return select(*_COLUMNS)


def _to_event(row: Sequence[Any]) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        event_id=uuid.UUID(row[1]),
        stream_id=row[2],
        stream_version=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=row[6],
        metadata=row[7],
        occurred_at=row[8],
        recorded_at=row[9],
        prev_hash=row[10],
        hash=row[11],
    )


def _matches(expected: ExpectedVersion, current: int) -> bool:
    if expected == "any":
        return True
    if expected == "no_stream":
        return current == 0
    if expected == "exists":
        return current >= 1
    return current == expected


def _check_append(stream_append: StreamAppend) -> None:
    expected = stream_append.expected
    if isinstance(expected, str):
        if expected not in _EXPECTED_WORDS:
            raise ValueError(f"unknown expected version {expected!r}")
    elif isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise ValueError(f"expected version must be a word or an integer ≥ 0: {expected!r}")
    for new in stream_append.events:
        if new.stream_id != stream_append.stream_id:
            raise ValueError(
                f"event {new.event_id} is for stream {new.stream_id!r}, "
                f"appended to {stream_append.stream_id!r}"
            )
        if new.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


class EventStore:
    """The log: append with expected versions (group commit), read by stream or position."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        upcasters: UpcasterRegistry = default_upcasters,
        max_batch_events: int = 5000,
        owns_engine: bool = True,
    ) -> None:
        self._engine = engine
        self._writer_engine = engine.execution_options(**WRITER_OPTIONS)
        self._postgres = engine.dialect.name == "postgresql"
        # Reads are single statements: on PostgreSQL, without BEGIN and ROLLBACK around
        # them, each is one round trip instead of three.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._postgres else engine
        )
        self._upcasters = upcasters
        self._max_batch_events = max_batch_events
        self._owns_engine = owns_engine
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = StoreStats()
        # PostgreSQL: the writer's own connection and a pool for reads, raw asyncpg.
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None
        self._pool_opening: asyncio.Lock | None = None
        self._writer_conn: asyncpg.Connection | None = None
        # What the writer last wrote or read under the lock: its prediction of the head.
        self._head: tuple[int, bytes] | None = None
        self._one_trip = True  # whether the writer's session has docket_append

    @classmethod
    async def open(cls, url: str, **options: Any) -> Self:
        """A store on the database at `url` (`sqlite+aiosqlite:///…`, `postgresql+asyncpg://…`)."""
        engine_options: dict[str, Any] = {}
        if make_url(url).get_backend_name() == "postgresql":
            # Overflow connections are opened and closed on every checkout: keep a pool.
            engine_options = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        return cls(create_engine(url, **engine_options), **options)

    @property
    def engine(self) -> AsyncEngine:
        """The engine the store reads with (shared with callers that need raw access)."""
        return self._engine

    @property
    def upcasters(self) -> UpcasterRegistry:
        """The upcasters this store's reads apply (bulk raw pages are in stored form)."""
        return self._upcasters

    def raw_pages(self, after: int = 0, batch: int = 10_000) -> AsyncGenerator[list[Any], None]:
        """Pages of raw rows (`events.bulk.RawRow`) after `after`, in position order."""
        from events import bulk  # here: `events.bulk` imports this module

        return bulk.iter_raw_pages(self, after, batch)

    async def close(self) -> None:
        """Write what is queued, stop the writer, and dispose of the engine if it is ours."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None and not self._writer.done():
            self._queue.put_nowait(None)
            await self._writer
        if self._writer_conn is not None:
            conn, self._writer_conn = self._writer_conn, None
            await _close_quietly(conn)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._owns_engine:
            await self._engine.dispose()

    async def _read_pool(self) -> asyncpg.Pool:
        """The raw asyncpg pool reads use on PostgreSQL (opened on first use)."""
        if self._pool is not None:
            return self._pool
        if self._pool_opening is None:
            self._pool_opening = asyncio.Lock()
        async with self._pool_opening:
            if self._pool is None:
                if self._closed:
                    raise StoreClosed("the event store is closed")
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=READ_POOL_SIZE, reset=_no_reset
                )
        return self._pool

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        try:
            pool = await self._read_pool()
            async with pool.acquire() as conn:
                try:
                    rows: list[Any] = await conn.fetch(query, *args)
                except asyncpg.PostgresError:
                    raise
                except BaseException:
                    conn.terminate()  # interrupted mid-operation: never hand it out again
                    raise
        except _DATABASE_ERRORS as error:
            raise _as_dbapi_error(error, query) from error
        return rows

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------------

    async def append(self, *appends: StreamAppend) -> list[RecordedEvent]:
        """Append atomically across `appends`; return the recorded events in position order.

        Raises `ConcurrencyConflict` if any stream is not at its expected version (nothing is
        written). If every event already exists by `event_id`, returns the recorded events
        without writing; if only some do, raises `DuplicateEvents`.
        """
        if self._closed:
            raise StoreClosed("the event store is closed")
        event_ids: list[uuid.UUID] = []
        for stream_append in appends:
            _check_append(stream_append)
            event_ids.extend(new.event_id for new in stream_append.events)
        if len(set(event_ids)) != len(event_ids):
            raise ValueError("an append names the same event_id twice")
        future: asyncio.Future[list[RecordedEvent]] = asyncio.get_running_loop().create_future()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="docket-event-writer")
        self._queue.put_nowait(_Pending(tuple(appends), event_ids, future))
        return await future

    async def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.event_ids)
            while size < self._max_batch_events and not self._queue.empty():
                pending = self._queue.get_nowait()
                if pending is None:
                    stopping = True
                    break
                batch.append(pending)
                size += len(pending.event_ids)
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            if self._postgres:
                outcomes = await self._commit_postgres(batch)
            else:
                async with self._writer_engine.begin() as conn:
                    outcomes = await self._write_batch(conn, batch)
        except asyncio.CancelledError:
            for pending in batch:
                _fail(pending.future, StoreClosed("the writer was cancelled"))
            raise
        except Exception as error:
            self.stats.failed_batches += 1
            log.warning("docket.append.batch_failed", calls=len(batch), error=repr(error))
            for pending in batch:
                _fail(pending.future, error)
            return
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                if isinstance(outcome, ConcurrencyConflict):
                    self.stats.conflicts += 1
                _fail(pending.future, outcome)
            else:
                self.stats.calls += 1
                if not pending.future.done():
                    pending.future.set_result(outcome)

    async def _commit_postgres(
        self, batch: list[_Pending]
    ) -> list[list[RecordedEvent] | Exception]:
        """The batch in one round trip when the writer's prediction of the head and of the
        streams' versions holds (`docket_append`); else one transaction in four round
        trips: BEGIN and the advisory lock; head, stream versions and existing ids; one
        INSERT; COMMIT."""
        try:
            conn = await self._writer_connection()
            outcomes = await self._one_trip_postgres(conn, batch)
            if outcomes is None:
                outcomes = await self._transaction_postgres(conn, batch)
        except BaseException as error:
            self._head = None
            if isinstance(error, _DATABASE_ERRORS):
                if isinstance(error, _BROKEN_CONNECTION) and self._writer_conn is not None:
                    self._writer_conn.terminate()
                    self._writer_conn = None
                raise _as_dbapi_error(error, "append") from error
            raise
        return outcomes

    async def _writer_connection(self) -> asyncpg.Connection:
        conn = self._writer_conn
        if conn is not None and not conn.is_closed():
            return conn
        conn = await asyncpg.connect(self._dsn)
        self._head = None
        if self._one_trip:
            try:
                await conn.execute(_PG_APPEND_FUNCTION)
            except asyncpg.PostgresError as refused:  # no TEMP privilege, say
                log.warning("docket.append.one_trip_unavailable", error=repr(refused))
                self._one_trip = False
        self._writer_conn = conn
        return conn

    async def _one_trip_postgres(
        self, conn: asyncpg.Connection, batch: list[_Pending]
    ) -> list[list[RecordedEvent] | Exception] | None:
        """The batch through `docket_append`, or None if the prediction failed twice."""
        predicted = _predicted_versions(batch)
        if not self._one_trip or self._head is None or predicted is None:
            return None
        position, chain = self._head
        stream_ids = sorted(predicted)
        all_ids = [str(event_id) for pending in batch for event_id in pending.event_ids]
        for _ in range(2):
            state = _BatchState(
                position=position,
                chain=chain,
                versions={s: v for s, v in predicted.items() if v},
                existing={},
            )
            outcomes = _apply_all(batch, state)
            try:
                missed = await conn.fetchval(
                    _PG_APPEND_CALL,
                    position,
                    chain.hex(),
                    stream_ids,
                    [predicted[s] for s in stream_ids],
                    all_ids,
                    *_insert_columns(state.rows),
                )
            except asyncpg.PostgresError:
                raise  # the statement's transaction is rolled back; the session is fine
            except BaseException:
                self._writer_conn = None
                conn.terminate()
                raise
            if missed is None:
                self._head = (state.position, state.chain)
                self.stats.events += len(state.rows)
                return outcomes
            real = orjson.loads(missed)
            if real["present"]:
                return None
            position, chain = int(real["position"]), bytes.fromhex(real["hash"])
            predicted = dict(zip(stream_ids, real["versions"], strict=True))
        return None

    async def _transaction_postgres(
        self, conn: asyncpg.Connection, batch: list[_Pending]
    ) -> list[list[RecordedEvent] | Exception]:
        try:
            await conn.execute(_PG_LOCK)
            outcomes = await self._write_batch_postgres(conn, batch)
            await conn.execute("COMMIT")
        except asyncio.CancelledError:
            self._writer_conn = None
            conn.terminate()
            raise
        except BaseException:
            if conn.is_closed() or not conn.is_in_transaction():
                self._writer_conn = None
                conn.terminate()
            else:
                try:
                    await conn.execute("ROLLBACK")
                except BaseException:
                    self._writer_conn = None
                    conn.terminate()
                    raise
            raise
        return outcomes

    async def _write_batch_postgres(
        self, conn: asyncpg.Connection, batch: list[_Pending]
    ) -> list[list[RecordedEvent] | Exception]:
        stream_ids = sorted({a.stream_id for pending in batch for a in pending.appends})
        all_ids = [str(event_id) for pending in batch for event_id in pending.event_ids]
        row = await conn.fetchrow(_PG_BATCH_STATE, stream_ids, all_ids)
        assert row is not None
        position, last_hash, versions, present = row
        existing: list[RecordedEvent] = []
        if present:
            existing = [row_event(r) for r in await conn.fetch(_PG_BY_IDS, all_ids)]
        state = _BatchState(
            position=position or 0,
            chain=bytes.fromhex(last_hash or ZERO_HASH),
            versions={s: v for s, v in zip(stream_ids, versions, strict=True) if v},
            existing={e.event_id: e for e in existing},
        )
        outcomes = _apply_all(batch, state)
        if state.rows:
            await conn.execute(_PG_INSERT, *_insert_columns(state.rows))
            self.stats.events += len(state.rows)
        self._head = (state.position, state.chain)
        return outcomes

    async def _write_batch(
        self, conn: AsyncConnection, batch: list[_Pending]
    ) -> list[list[RecordedEvent] | Exception]:
        if self._postgres:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
        position, last_hash = await _head(conn)
        stream_ids = {a.stream_id for pending in batch for a in pending.appends}
        all_ids = [event_id for pending in batch for event_id in pending.event_ids]
        state = _BatchState(
            position=position,
            chain=bytes.fromhex(last_hash),
            versions=await self._versions(conn, stream_ids),
            existing={e.event_id: e for e in await _by_event_ids(conn, all_ids)},
        )
        outcomes = _apply_all(batch, state)
        if state.rows:
            await conn.execute(events.insert(), [_row(row[0]) for row in state.rows])
            self.stats.events += len(state.rows)
        return outcomes

    async def _versions(self, conn: AsyncConnection, stream_ids: set[str]) -> dict[str, int]:
        if not stream_ids:
            return {}
        if self._postgres:
            # One index probe per stream; GROUP BY would scan every version of every stream.
            result = await conn.execute(
                text(
                    "SELECT s.id, (SELECT max(e.stream_version) FROM events e"
                    " WHERE e.stream_id = s.id) FROM unnest(CAST(:ids AS text[])) AS s(id)"
                ),
                {"ids": sorted(stream_ids)},
            )
        else:
            result = await conn.execute(
                select(events.c.stream_id, func.max(events.c.stream_version))
                .where(events.c.stream_id.in_(bindparam("ids", expanding=True)))
                .group_by(events.c.stream_id),
                {"ids": sorted(stream_ids)},
            )
        return {row[0]: row[1] for row in result if row[1] is not None}

    # -- reading ---------------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_position: int | None = None,
        occurred_until: datetime | None = None,
        upcast: bool = True,
    ) -> list[RecordedEvent]:
        """A stream's events in version order, from `from_version`, up to a position/time."""
        if self._postgres:
            args: list[Any] = [stream_id, from_version]
            if to_position is not None:
                args.append(to_position)
            if occurred_until is not None:
                if occurred_until.tzinfo is None:
                    raise ValueError("occurred_until must be timezone-aware")
                args.append(occurred_until)
            statement = _PG_READ_STREAM[to_position is not None, occurred_until is not None]
            found = [row_event(row) for row in await self._fetch(statement, *args)]
            if upcast:
                return [self._upcasters.upcast(event) for event in found]
            return found
        query = _select_events().where(
            events.c.stream_id == stream_id, events.c.stream_version >= from_version
        )
        if to_position is not None:
            query = query.where(events.c.position <= to_position)
        if occurred_until is not None:
            query = query.where(events.c.occurred_at <= occurred_until)
        async with self._reader.connect() as conn:
            result = await conn.execute(query.order_by(events.c.stream_version))
            found = [_to_event(row) for row in result]
        if upcast:
            return [self._upcasters.upcast(event) for event in found]
        return found

    async def read_streams(
        self, from_versions: Mapping[str, int], *, upcast: bool = True
    ) -> dict[str, list[RecordedEvent]]:
        """Several streams' events from a version each (`{stream_id: from_version}`), in
        version order: one statement on PostgreSQL. Every stream asked for is a key."""
        found: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in from_versions}
        if not self._postgres:
            for stream_id, from_version in from_versions.items():
                found[stream_id] = await self.read_stream(
                    stream_id, from_version=from_version, upcast=upcast
                )
            return found
        rows = await self._fetch(_PG_STREAMS, list(from_versions), list(from_versions.values()))
        for row in rows:
            event = row_event(row)
            found[event.stream_id].append(self._upcasters.upcast(event) if upcast else event)
        return found

    async def stream_version(self, stream_id: str) -> int:
        """The stream's last version; 0 when it does not exist."""
        if self._postgres:
            rows = await self._fetch(_PG_STREAM_VERSION, stream_id)
            return int(rows[0][0] or 0)
        async with self._reader.connect() as conn:
            version = await conn.scalar(
                select(func.max(events.c.stream_version)).where(events.c.stream_id == stream_id)
            )
        return int(version or 0)

    async def read_all(
        self, after: int = 0, limit: int = 1000, *, upcast: bool = False
    ) -> list[RecordedEvent]:
        """Up to `limit` events with positions after `after`, in position order (stored form)."""
        if self._postgres:
            found = [row_event(row) for row in await self._fetch(_PG_PAGE, after, limit)]
        else:
            async with self._reader.connect() as conn:
                found = await _read_page(conn, after, limit)
        if upcast:
            return [self._upcasters.upcast(event) for event in found]
        return found

    async def iter_all(
        self, after: int = 0, batch: int = 5000, *, upcast: bool = False
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after `after` in position order, read `batch` at a time."""
        while True:
            page = await self.read_all(after, batch, upcast=upcast)
            for event in page:
                yield event
            if len(page) < batch:
                return
            after = page[-1].position

    async def head(self) -> tuple[int, str]:
        """The last position and its chain hash; `(0, "00" * 32)` for an empty log."""
        if self._postgres:
            rows = await self._fetch(_PG_HEAD)
            return (int(rows[0][0]), str(rows[0][1])) if rows else (0, ZERO_HASH)
        async with self._reader.connect() as conn:
            return await _head(conn)

    async def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        """The recorded event with `event_id`, if any (stored form)."""
        found = await self.get_by_event_ids([event_id])
        return found[0] if found else None

    async def get_by_event_ids(self, event_ids: Iterable[uuid.UUID]) -> list[RecordedEvent]:
        """The recorded events among `event_ids`, in position order (stored form)."""
        if self._postgres:
            ids = [str(event_id) for event_id in event_ids]
            return [row_event(row) for row in await self._fetch(_PG_BY_IDS, ids)] if ids else []
        async with self._reader.connect() as conn:
            return await _by_event_ids(conn, list(event_ids))


def _apply_all(batch: list[_Pending], state: _BatchState) -> list[list[RecordedEvent] | Exception]:
    """Each call's recorded events, or why it was refused, in the batch's order."""
    recorded_at = datetime.now(UTC)
    outcomes: list[list[RecordedEvent] | Exception] = []
    for pending in batch:
        try:
            outcomes.append(_apply(pending, state, recorded_at))
        except Exception as refusal:
            outcomes.append(refusal)
    return outcomes


def _apply(pending: _Pending, state: _BatchState, recorded_at: datetime) -> list[RecordedEvent]:
    """Validate one call against `state` and assign its events; `state` changes on success."""
    if pending.event_ids:
        known = [state.existing.get(i) or state.written.get(i) for i in pending.event_ids]
        present = [event for event in known if event is not None]
        if len(present) == len(known):
            return present
        if present:
            raise DuplicateEvents([event.event_id for event in present])
    versions: dict[str, int] = {}
    position, chain = state.position, state.chain
    recorded: list[tuple[RecordedEvent, str, str]] = []
    for stream_append in pending.appends:
        stream_id = stream_append.stream_id
        version = versions.get(stream_id, state.versions.get(stream_id, 0))
        if not _matches(stream_append.expected, version):
            raise ConcurrencyConflict(stream_id, stream_append.expected, version)
        for new in stream_append.events:
            version += 1
            position += 1
            row, chain = _record(new, position, version, recorded_at, chain)
            recorded.append(row)
        versions[stream_id] = version
    state.position, state.chain = position, chain
    state.versions.update(versions)
    for row in recorded:
        state.written[row[0].event_id] = row[0]
    state.rows.extend(recorded)
    return [row[0] for row in recorded]


def _record(
    new: NewEvent, position: int, version: int, recorded_at: datetime, prev: bytes
) -> tuple[tuple[RecordedEvent, str, str], bytes]:
    event = RecordedEvent(
        position=position,
        event_id=new.event_id,
        stream_id=new.stream_id,
        stream_version=version,
        event_type=new.event_type,
        schema_version=new.schema_version,
        data=new.data,
        metadata=new.metadata,
        occurred_at=new.occurred_at.astimezone(UTC),
        recorded_at=recorded_at,
        prev_hash=prev.hex(),
        hash="",
    )
    # Hashing first: RFC 8785 refuses what JSON cannot carry exactly (NaN, huge integers).
    _, chain = event_hashes(event.hashed_fields(), prev)
    # What a reader will get back: detached from the caller's objects, tuples as lists.
    data, metadata = orjson.dumps(new.data).decode(), orjson.dumps(new.metadata).decode()
    stored = dataclasses.replace(
        event, data=orjson.loads(data), metadata=orjson.loads(metadata), hash=chain.hex()
    )
    return (stored, data, metadata), chain


def _row(event: RecordedEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()


def _fail(future: asyncio.Future[list[RecordedEvent]], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


async def _head(conn: AsyncConnection) -> tuple[int, str]:
    result = await conn.execute(
        select(events.c.position, events.c.hash).order_by(events.c.position.desc()).limit(1)
    )
    row = result.first()
    if row is None:
        return 0, ZERO_HASH
    return int(row[0]), str(row[1])


async def _read_page(conn: AsyncConnection, after: int, limit: int) -> list[RecordedEvent]:
    result = await conn.execute(
        _select_events().where(events.c.position > after).order_by(events.c.position).limit(limit)
    )
    return [_to_event(row) for row in result]


async def _by_event_ids(conn: AsyncConnection, event_ids: list[uuid.UUID]) -> list[RecordedEvent]:
    if not event_ids:
        return []
    if conn.dialect.name == "postgresql":
        # One array parameter: the statement stays the same, so it stays prepared.
        matching = events.c.event_id == func.any(bindparam("ids", type_=ARRAY(Text)))
    else:
        matching = events.c.event_id.in_(bindparam("ids", expanding=True))
    result = await conn.execute(
        _select_events().where(matching).order_by(events.c.position),
        {"ids": [str(event_id) for event_id in event_ids]},
    )
    return [_to_event(row) for row in result]
