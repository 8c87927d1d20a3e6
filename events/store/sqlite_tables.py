"""What the SQLite backend offers beyond the log: bulk writes of projection rows
(executemany on the aiosqlite driver, times and dates converted as their column types
would store them), tables rebuilt aside, no session locks, and which errors mean "the
database is busy". Mixed into `SqliteBackend`.

A rebuild (`rebuilding`) fills TEMP tables of the tables' own definitions (from
`sqlite_master`, so with their primary keys) on one connection: SQLite resolves a plain
name to `temp` first, so the projections' statements write the copies, and the fill
takes no lock on the database file (appends go on). The swap is one `BEGIN IMMEDIATE`
transaction: the checkpoints, the tables' secondary indexes dropped, their rows
replaced by the copies', the indexes created again. Readers (WAL) see the old rows and
indexes until it commits; a rebuild that dies leaves the tables as they were (TEMP
tables go with their connection, and are dropped before it goes back to the pool).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.engines import WRITER_OPTIONS
from events.model import utc_text
from events.schema import UtcTime
from events.store.locks import NoLock, SessionLock


def _time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _converters(table: Table) -> list[tuple[int, Callable[[Any], Any]]]:
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(table.columns):
        if isinstance(column.type, UtcTime):
            found.append((i, _time))
        elif isinstance(column.type, Date):
            found.append((i, _date))
    return found


def _stored(table: Table, records: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`records` with times and dates as the column types store them on SQLite."""
    convert = _converters(table)
    if not convert:
        return list(records)
    rows: list[tuple[Any, ...]] = []
    for record in records:
        row = list(record)
        for i, fn in convert:
            row[i] = fn(row[i])
        rows.append(tuple(row))
    return rows


class SqliteTables:
    """Projection-row writes, session locks and error classes of `SqliteBackend`."""

    @property
    def engine(self) -> AsyncEngine:
        raise NotImplementedError  # the backend's

    async def copy_rows(
        self, conn: AsyncConnection, table: Table, records: Sequence[tuple[Any, ...]]
    ) -> None:
        if not records:
            return
        names = [column.name for column in table.columns]
        marks = ", ".join("?" for _ in names)
        quoted = ", ".join(f'"{name}"' for name in names)
        await conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', _stored(table, records)
        )

    async def replace_rows(
        self,
        conn: AsyncConnection,
        table: Table,
        key: str,
        changed: Sequence[tuple[Any, ...]],
        new: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        # a changed row is updated in place, every column but the key
        if changed:
            names = list(table.columns.keys())
            index = names.index(key)
            sets = ", ".join(f'"{name}" = ?' for name in names if name != key)
            # the key moves last, to the WHERE clause
            rows = [
                (*row[:index], *row[index + 1 :], row[index]) for row in _stored(table, changed)
            ]
            await conn.exec_driver_sql(f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = ?', rows)
        await self.copy_rows(conn, table, new)

    @contextlib.asynccontextmanager
    async def rebuilding(self, tables: Sequence[Table]) -> AsyncIterator[Rebuild]:
        names = [table.name for table in tables]
        async with self.engine.connect() as conn:
            try:
                indexes: list[tuple[str, str]] = []
                for name in names:
                    found = await conn.execute(
                        text(
                            "SELECT type, name, sql FROM main.sqlite_master"
                            " WHERE tbl_name = :name AND sql IS NOT NULL"
                        ),
                        {"name": name},
                    )
                    for kind, item, sql in found.all():
                        if kind == "table":
                            prefix = "CREATE TABLE "
                            if not sql.startswith(prefix):
                                raise RuntimeError(f"unexpected definition of {name}: {sql!r}")
                            await conn.exec_driver_sql(f"CREATE TEMP TABLE {sql[len(prefix) :]}")
                        elif kind == "index":
                            indexes.append((item, sql))
                await conn.commit()
                yield Rebuild(conn, names, indexes)
            finally:
                await conn.rollback()
                for name in names:
                    await conn.exec_driver_sql(f'DROP TABLE IF EXISTS temp."{name}"')
                await conn.commit()

    def session_lock(self, key: int) -> SessionLock:
        return NoLock()

    @staticmethod
    def is_unavailable(error: BaseException) -> bool:
        # "database is locked" past the busy timeout, a disk I/O error: not now
        return isinstance(error, DBAPIError) and isinstance(error.orig, sqlite3.OperationalError)


@dataclass(slots=True)
class Rebuild:
    """Tables being rebuilt on SQLite (see the module)."""

    conn: AsyncConnection
    names: list[str]
    indexes: list[tuple[str, str]]

    async def swap(self, finish: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        conn = self.conn
        await conn.commit()  # the fill: TEMP tables only
        await conn.execution_options(**WRITER_OPTIONS)  # the swap takes the write lock
        await finish(conn)
        for index, _ in self.indexes:
            await conn.exec_driver_sql(f'DROP INDEX main."{index}"')
        for name in self.names:
            await conn.exec_driver_sql(f'DELETE FROM main."{name}"')
            await conn.exec_driver_sql(f'INSERT INTO main."{name}" SELECT * FROM temp."{name}"')
            await conn.exec_driver_sql(f'DROP TABLE temp."{name}"')
        for _, sql in self.indexes:  # the plain names are main's again
            await conn.exec_driver_sql(sql)
        await conn.commit()
