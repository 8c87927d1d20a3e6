"""Bulk writes of projection rows, and the one place projections reach the driver.

Rebuilds write a row per event: SQLAlchemy's per-row parameter processing would cost
more than the fold. Rows go to the driver as tuples instead: COPY on PostgreSQL,
executemany on SQLite, with each column's value converted as its type would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Table, bindparam, delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.model import utc_text
from events.schema import UtcTime


async def asyncpg_connection(conn: AsyncConnection) -> Any | None:
    """The asyncpg connection under `conn` on PostgreSQL (what it runs joins `conn`'s
    open transaction), None on SQLite: for COPY and array parameters, which SQLAlchemy
    does not offer. The only use of the driver connection in `projections/`."""
    if conn.dialect.name != "postgresql":
        return None
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_converters(table: Table) -> list[tuple[int, Callable[[Any], Any]]]:
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(table.columns):
        if isinstance(column.type, UtcTime):
            found.append((i, _sqlite_time))
        elif isinstance(column.type, Date):
            found.append((i, _sqlite_date))
    return found


async def insert_records(
    conn: AsyncConnection, table: Table, records: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `records` (tuples in the table's column order, JSON columns already as
    JSON text) into `table`: COPY on PostgreSQL (in the open transaction), executemany
    on SQLite with times and dates as the column types store them."""
    if not records:
        return
    names = [column.name for column in table.columns]
    driver = await asyncpg_connection(conn)
    if driver is not None:
        await driver.copy_records_to_table(table.name, records=records, columns=names)
        return
    convert = _sqlite_converters(table)
    rows: list[tuple[Any, ...]] = []
    for record in records:
        row = list(record)
        for i, fn in convert:
            row[i] = fn(row[i])
        rows.append(tuple(row))
    marks = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{name}"' for name in names)
    await conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)


async def delete_keys(conn: AsyncConnection, table: Table, key: str, keys: Iterable[Any]) -> None:
    """Delete the rows of `table` whose column `key` is one of `keys`."""
    await conn.execute(
        delete(table).where(table.c[key].in_(bindparam("keys", expanding=True))),
        {"keys": sorted(keys)},
    )


def update_by_key(table: Table, key: str) -> Any:
    """An UPDATE of every other column of `table` by `key`, for executemany with
    `keyed` rows."""
    return (
        update(table)
        .where(table.c[key] == bindparam(f"k_{key}"))
        .values({c.name: bindparam(c.name) for c in table.c if c.name != key})
    )


def keyed(row: dict[str, Any], key: str) -> dict[str, Any]:
    """A row for `update_by_key`: the key under `k_<key>` (SQLAlchemy reserves the
    column names for the SET clause)."""
    return {f"k_{name}" if name == key else name: value for name, value in row.items()}
