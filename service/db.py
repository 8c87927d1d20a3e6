"""Engines for the two backends, and Alembic driven from code.

SQLite gets WAL, a busy timeout and foreign keys on every connection, and its driver's own
transaction handling is switched off so that we emit `BEGIN` ourselves: `BEGIN IMMEDIATE`
on connections marked as writers (`WRITER_OPTIONS`), so that writers in different OS
processes queue on the database lock instead of failing on upgrade from a read lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

import migrations
from events.engines import WRITER_OPTIONS as WRITER_OPTIONS  # re-exported

SQLITE_BUSY_TIMEOUT_MS = 30_000


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
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("docket_begin")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def migrations_path() -> Path:
    """The Alembic script directory, wherever the `migrations` package is installed."""
    return Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url` that does not depend on the working directory."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s",
    )
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Run every migration not yet applied to `url`. Call it outside a running event loop."""
    command.upgrade(alembic_config(url), "head")
