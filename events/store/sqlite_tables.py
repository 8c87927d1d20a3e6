"""What the SQLite backend offers beyond the log: bulk writes of projection rows
(executemany on the aiosqlite driver, times and dates converted as their column types
would store them), no session locks, and which errors mean "the database is busy".
Mixed into `SqliteBackend`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Table, bindparam, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

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

    async def update_rows(
        self,
        conn: AsyncConnection,
        table: Table,
        key: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        if not rows:
            return
        statement = (
            update(table)
            .where(table.c[key] == bindparam(f"k_{key}"))
            .values({name: bindparam(name) for name in columns})
        )
        names = [f"k_{key}", *columns]
        await conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])

    def session_lock(self, key: int) -> SessionLock:
        return NoLock()

    @staticmethod
    def is_unavailable(error: BaseException) -> bool:
        # "database is locked" past the busy timeout, a disk I/O error: not now
        return isinstance(error, DBAPIError) and isinstance(error.orig, sqlite3.OperationalError)
