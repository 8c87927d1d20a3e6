"""Engines for the two backends: database URLs, and each connection's setup.

SQLite gets WAL, a busy timeout and foreign keys on every connection, and its driver's own
transaction handling is switched off so that we emit `BEGIN` ourselves: `BEGIN IMMEDIATE`
on connections marked as writers (`WRITER_OPTIONS`), so that writers in different OS
processes queue on the database lock instead of failing on upgrade from a read lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

#: Execution options of a connection whose transactions take SQLite's write lock at BEGIN.
WRITER_OPTIONS: dict[str, Any] = {"docket_begin": "IMMEDIATE"}

SQLITE_BUSY_TIMEOUT_MS = 30_000


def backend_name(url: str) -> str:
    """The backend `url` names: "sqlite" or "postgresql" (or another, refused elsewhere)."""
    return make_url(url).get_backend_name()


def is_sqlite(url: str) -> bool:
    """Whether `url` names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


def async_url(url: str) -> str:
    """`url` with the async driver of its backend (aiosqlite, asyncpg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"unsupported database backend: {backend!r}")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """`url` with a synchronous driver (sqlite3, psycopg), for tools that want one."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    elif backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"unsupported database backend: {backend!r}")
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for `url` (either driver spelling), with Docket's connection setup."""
    url = async_url(url)
    options.setdefault("json_serializer", _json_dumps)
    options.setdefault("json_deserializer", orjson.loads)
    engine = create_async_engine(url, **options)
    if is_sqlite(url):
        _prepare_sqlite(engine)
    return engine


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to us (see _on_begin); pysqlite would otherwise BEGIN
        # lazily and DEFERRED, defeating BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Erasure (SPEC §4): a freed cell or page is overwritten with zeros, so that an
        # erased sealed value does not linger in the file's free space.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("docket_begin")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


async def plan_for_values(conn: AsyncConnection) -> None:
    """On PostgreSQL, plan the statements of `conn`'s transaction for their values, with
    no parallel workers (`SET LOCAL` both, in one statement); nothing on SQLite.

    For reads whose index ranges depend on their values (the reads as of a moment): the
    generic plan a prepared statement falls back to after five runs (asyncpg prepares
    every statement) reads whole indexes instead, and starting workers costs more than
    the few thousand index entries such a read takes."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )


async def refresh_statistics(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """After a bulk rewrite of `tables` (`docket rebuild`): the planner's statistics of
    what they hold now, and on PostgreSQL their visibility maps (`VACUUM (ANALYZE)`), so
    that reads plan on the new rows and index-only scans read no heap from the start
    instead of once autovacuum comes by (the reads as of a moment depend on both)."""
    quoted = [engine.dialect.identifier_preparer.quote(name) for name in tables]
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            # VACUUM runs outside a transaction
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in quoted:
                await autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {name}")
        return
    async with engine.begin() as conn:
        for name in quoted:
            await conn.exec_driver_sql(f"ANALYZE {name}")
