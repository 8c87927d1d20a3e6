"""The PostgreSQL backend's write paths: appends on the writer's own raw asyncpg
connection, and the COPY of an import.

An append goes in one round trip when the writer's prediction of the head and of the
streams' versions holds (`docket_append`, a function of its session), else in one
transaction under the appenders' advisory lock (four round trips: BEGIN and the lock;
head, stream versions and existing ids; one INSERT; COMMIT). The prediction is what the
writer last wrote or read under the lock; any failure forgets it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import asyncpg
import orjson
import structlog

from events.model import ZERO_HASH, RecordedEvent
from events.store import postgres_ids
from events.store import postgres_sql as sql
from events.store.contract import Batch, BatchState, Erasable, StoredRow, Written
from events.store.postgres_errors import BROKEN_CONNECTION, DATABASE_ERRORS, as_dbapi_error
from events.store.rows import ImportRow, row_event
from events.store.writer import erasure_rows

log = structlog.get_logger("docket.store")


def insert_columns(rows: list[StoredRow]) -> list[list[Any]]:
    """The 15 arrays of `sql.INSERT` (and of `docket_append`'s rows)."""
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
        [row[3] for row in rows],
        [e.occurred_at for e in written],
        [e.recorded_at for e in written],
        [e.prev_hash for e in written],
        [e.hash for e in written],
        [e.salt for e in written],
        [e.sealed for e in written],
    ]


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()


class PostgresWriter:
    """The writer's own connection (opened on first use) and its prediction of the head."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        # What the writer last wrote or read under the lock: its prediction of the head.
        self._head: tuple[int, bytes] | None = None
        self._one_trip = True  # whether the writer's session has docket_append

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await _close_quietly(conn)

    async def write(self, batch: Batch) -> Written:
        """The batch in one round trip when the writer's prediction of the head and of the
        streams' versions holds (`docket_append`); else one transaction in four round
        trips: BEGIN and the advisory lock; head, stream versions and existing ids; one
        INSERT; COMMIT."""
        try:
            conn = await self._connection()
            written = await self._in_one_trip(conn, batch)
            if written is None:
                written = await self._transaction(conn, batch)
        except BaseException as error:
            self._head = None
            if isinstance(error, DATABASE_ERRORS):
                if isinstance(error, BROKEN_CONNECTION) and self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
                raise as_dbapi_error(error, "append") from error
            raise
        return written

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        conn = await asyncpg.connect(self._dsn)
        self._head = None
        if self._one_trip:
            try:
                await conn.execute(sql.APPEND_FUNCTION)
            except asyncpg.PostgresError as refused:  # no TEMP privilege, say
                log.warning("docket.append.one_trip_unavailable", error=repr(refused))
                self._one_trip = False
        self._conn = conn
        return conn

    async def _in_one_trip(self, conn: asyncpg.Connection, batch: Batch) -> Written | None:
        """The batch through `docket_append`, or None if the prediction failed twice."""
        predicted = batch.predicted
        if not self._one_trip or self._head is None or predicted is None:
            return None
        position, chain = self._head
        stream_ids = sorted(predicted)
        all_ids = [str(event_id) for event_id in batch.event_ids]
        for _ in range(2):
            state = BatchState(
                position=position,
                chain=chain,
                versions={s: v for s, v in predicted.items() if v},
                existing={},
            )
            outcomes = batch.apply(state)
            try:
                missed = await conn.fetchval(
                    sql.APPEND_CALL,
                    position,
                    chain.hex(),
                    stream_ids,
                    [predicted[s] for s in stream_ids],
                    all_ids,
                    *insert_columns(state.rows),
                )
            except asyncpg.PostgresError:
                raise  # the statement's transaction is rolled back; the session is fine
            except BaseException:
                self._conn = None
                conn.terminate()
                raise
            if missed is None:
                self._head = (state.position, state.chain)
                return Written(outcomes, len(state.rows))
            real = orjson.loads(missed)
            if real["present"]:
                return None
            position, chain = int(real["position"]), bytes.fromhex(real["hash"])
            predicted = dict(zip(stream_ids, real["versions"], strict=True))
        return None

    async def _transaction(self, conn: asyncpg.Connection, batch: Batch) -> Written:
        try:
            await conn.execute(sql.LOCK)
            written = await self._locked_write(conn, batch)
            await conn.execute("COMMIT")
        except asyncio.CancelledError:
            self._conn = None
            conn.terminate()
            raise
        except BaseException:
            if conn.is_closed() or not conn.is_in_transaction():
                self._conn = None
                conn.terminate()
            else:
                try:
                    await conn.execute("ROLLBACK")
                except BaseException:
                    self._conn = None
                    conn.terminate()
                    raise
            raise
        return written

    async def _locked_write(self, conn: asyncpg.Connection, batch: Batch) -> Written:
        last, limits, looked_up = await postgres_ids.read_numbering(conn, batch.numbered)
        stream_ids = sorted({*batch.stream_ids, *looked_up}) if looked_up else batch.stream_ids
        all_ids = [str(event_id) for event_id in batch.event_ids]
        row = await conn.fetchrow(sql.BATCH_STATE, stream_ids, all_ids)
        assert row is not None
        position, last_hash, versions, present = row
        existing: list[RecordedEvent] = []
        if present:
            existing = [row_event(r) for r in await conn.fetch(sql.BY_IDS, all_ids)]
        erasable: dict[int, Erasable] = {}
        erased: set[int] = set()
        if batch.erasing:
            found = await conn.fetch(sql.ERASABLE, batch.erasing)
            for at, data, erased_by, event_type, schema_version in found:
                if erased_by is None:
                    erasable[at] = (event_type, schema_version, orjson.loads(data))
                else:
                    erased.add(at)
        state = BatchState(
            position=position or 0,
            chain=bytes.fromhex(last_hash or ZERO_HASH),
            versions={s: v for s, v in zip(stream_ids, versions, strict=True) if v},
            existing={e.event_id: e for e in existing},
            sequences=dict(last),
            sequence_limits=limits,
            erasable=erasable,
            erased=erased,
        )
        outcomes = batch.apply(state)
        if state.rows:
            await conn.execute(sql.INSERT, *insert_columns(state.rows))
        if state.erasures:
            erased_rows = erasure_rows(state.erasures)
            await conn.execute(
                sql.ERASE, *(list(column) for column in zip(*erased_rows, strict=True))
            )
        await postgres_ids.store_numbering(conn, last, state.sequences)
        self._head = (state.position, state.chain)
        return Written(outcomes, len(state.rows))


_EVENTS_COPIED = (
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
    "sealed",
)
_SEALED_COPIED = ("position", "data", "metadata", "salt", "erased_by")


async def _copy_rows(conn: asyncpg.Connection, rows: list[ImportRow]) -> None:
    await conn.copy_records_to_table(
        "events", records=[row[:12] for row in rows], columns=_EVENTS_COPIED
    )
    await conn.copy_records_to_table(
        "sealed_values", records=[(row[0], *row[12:]) for row in rows], columns=_SEALED_COPIED
    )


async def copy_chunks(conn: asyncpg.Connection, chunks: Iterable[list[ImportRow]]) -> int:
    """COPY each chunk while the next one is made (read and checked, for an import)."""
    written = 0
    pending: asyncio.Future[None] | None = None
    try:
        for rows in chunks:
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(_copy_rows(conn, rows))
            await asyncio.sleep(0)
            written += len(rows)
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
    return written
