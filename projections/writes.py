"""Row writes of projections that SQLAlchemy Core does as well as a driver would. The bulk
ones (COPY, DELETE + COPY, UPDATE from arrays) are the store backend's
(`events.store.TableWriter`), handed to `Writes.flush`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.ext.asyncio import AsyncConnection


async def delete_keys(conn: AsyncConnection, table: Table, key: str, keys: Iterable[Any]) -> None:
    """Delete the rows of `table` whose column `key` is one of `keys`."""
    await conn.execute(
        delete(table).where(table.c[key].in_(bindparam("keys", expanding=True))),
        {"keys": sorted(keys)},
    )
