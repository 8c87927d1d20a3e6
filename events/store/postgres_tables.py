"""What the PostgreSQL backend offers beyond the log: bulk writes of projection rows
(COPY, DELETE + COPY), tables rebuilt aside and swapped in (with the views of them),
session advisory locks, and which asyncpg errors mean "the database is unreachable".
Mixed into `PostgresBackend`.

A rebuild (`rebuilding`) runs in ONE transaction: it creates a schema of its own
(`REBUILD_SCHEMA`, first on the transaction's `search_path`, so the projections' plain
table names mean the copies there), copies each table's columns and primary key (kept
during the fill: updates and deletes find rows by it), and at the swap builds the
secondary indexes by sort, drops the old tables and moves the copies into their schema,
with their indexes' and constraints' names as the migrations made them (read from the
catalogue). The views that read the tables, directly or through other views (`holds`, an
operator's own, materialized or not, in any schema), are dropped with them and made again
on the copies as they were: options, indexes, owner, comment and grants. Readers are not
blocked until the swap's DROP; a rebuild that dies rolls the whole of it back (schema
included), leaving the tables as they were.

A rebuild in worker processes (`staging`, `projections.runner.partitioned`) cannot share
one transaction: the schema and its copies are committed first, each worker fills them in
a transaction of its own (`filling`); the secondary indexes are then built on the
filled copies, several at once on connections of their own, and the swap is the same
as above, in one transaction. Readers still see the old tables until the swap; a
rebuild that fails drops the schema, and one whose process died leaves it to the next
rebuild, which drops it (`DROP SCHEMA … CASCADE`) before making its own.

Rows go to asyncpg as tuples on the transaction's own connection (so they join its open
transaction): SQLAlchemy's per-row parameter processing would cost more than the fold of
a rebuild, and it offers neither COPY nor array parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.store.locks import SessionLock
from events.store.pg_times import bulk_times

#: SQLSTATE classes that mean "not now" rather than "wrong": connection exception,
#: insufficient resources, operator intervention (shutdown, cannot connect now).
UNAVAILABLE_SQLSTATE = ("08", "53", "57")

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]

#: The schema a rebuild fills its copies in (it exists only inside the rebuild's
#: transaction, or, staged, until its swap).
REBUILD_SCHEMA = "docket_rebuild"


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (what it runs joins `conn`'s transaction)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _array_type(table: Table, column: str) -> str:
    return f"{table.c[column].type.compile(dialect=_DIALECT)}[]"


class PostgresTables:
    """Projection-row writes, session locks and error classes of `PostgresBackend`."""

    _engine: AsyncEngine

    async def copy_rows(
        self, conn: AsyncConnection, table: Table, records: Sequence[tuple[Any, ...]]
    ) -> None:
        if not records:
            return
        driver = await _driver(conn)
        names = [column.name for column in table.columns]
        await driver.copy_records_to_table(table.name, records=records, columns=names)

    async def replace_rows(
        self,
        conn: AsyncConnection,
        table: Table,
        key: str,
        changed: Sequence[tuple[Any, ...]],
        new: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        # a changed row is replaced whole: delete it and COPY it with the new ones
        if changed:
            driver = await _driver(conn)
            index = list(table.columns.keys()).index(key)
            await driver.execute(
                f'DELETE FROM "{table.name}" WHERE "{key}" = ANY($1::{_array_type(table, key)})',
                [record[index] for record in changed],
            )
        await self.copy_rows(conn, table, [*new, *changed])

    @contextlib.asynccontextmanager
    async def rebuilding(self, tables: Sequence[Table]) -> AsyncIterator[Rebuild]:
        async with self._engine.connect() as conn, bulk_times(await _driver(conn)):
            transaction = await conn.begin()
            try:
                home = str(await conn.scalar(text("SELECT current_schema()")))
                await conn.execute(text(_DROP_LEFTOVER))
                await conn.execute(text(f'CREATE SCHEMA "{REBUILD_SCHEMA}"'))
                await conn.execute(text(f'SET LOCAL search_path TO "{REBUILD_SCHEMA}", "{home}"'))
                indexes: list[str] = []
                for table in tables:
                    indexes += await _copy_aside(conn, home, table.name)
                rebuild = Rebuild(conn, home, [table.name for table in tables], indexes)
                yield rebuild
            except BaseException:
                await transaction.rollback()
                raise
            if rebuild.swapped:
                await transaction.commit()
            else:  # left without a swap: nothing of it stays
                await transaction.rollback()

    @contextlib.asynccontextmanager
    async def staging(self, tables: Sequence[Table]) -> AsyncIterator[Staged]:
        async with self._engine.begin() as conn:
            home = str(await conn.scalar(text("SELECT current_schema()")))
            await conn.execute(text(_DROP_LEFTOVER))
            await conn.execute(text(f'CREATE SCHEMA "{REBUILD_SCHEMA}"'))
            indexes: list[str] = []
            for table in tables:
                indexes += await _copy_aside(conn, home, table.name)
        staged = Staged(self._engine, home, [table.name for table in tables], indexes)
        try:
            yield staged
        finally:
            if not staged.swapped:
                # shielded: a cancelled rebuild still drops what it staged
                await asyncio.shield(self._drop_staging())

    async def _drop_staging(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(text(_DROP_LEFTOVER))

    @contextlib.asynccontextmanager
    async def filling(self, conn: AsyncConnection, home: str) -> AsyncIterator[None]:
        await conn.execute(text(f'SET LOCAL search_path TO "{REBUILD_SCHEMA}", "{home}"'))
        async with bulk_times(await _driver(conn)):
            yield

    def session_lock(self, key: int) -> SessionLock:
        return AdvisoryLock(self._engine, key)

    @staticmethod
    def is_unavailable(error: BaseException) -> bool:
        if not isinstance(error, DBAPIError):
            return False
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(state, str) and state[:2] in UNAVAILABLE_SQLSTATE:
            return True
        # asyncpg's own error under SQLAlchemy's adapter: a connection left mid-operation
        driver = getattr(error.orig, "__cause__", None)
        return isinstance(driver, asyncpg.InternalClientError | asyncpg.InterfaceError | OSError)


class AdvisoryLock:
    """A session advisory lock on `key`, held on a connection of `engine` kept for the
    holder's lifetime (see `events.store.locks.SessionLock`)."""

    exclusive = True

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        conn = await self._engine.connect()
        try:
            locked = bool(
                await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
            )
            await conn.commit()  # a session lock outlives the transaction; don't idle in one
        except BaseException:
            await conn.close()
            raise
        if not locked:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
            return True
        except (DBAPIError, OSError):
            await self.drop()
            return False

    async def drop(self) -> bool:
        conn, self._conn = self._conn, None
        if conn is None:
            return False
        with contextlib.suppress(Exception):
            await conn.invalidate()
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            await conn.commit()
        except (DBAPIError, OSError):
            pass
        finally:
            await conn.close()


#: How many of a staged rebuild's indexes are built at once, each on its own connection
#: (PostgreSQL builds one index by sort on one core): a core each, up to 4.
INDEX_BUILDERS = max(1, min(os.cpu_count() or 1, 4))

_DROP_LEFTOVER = f'DROP SCHEMA IF EXISTS "{REBUILD_SCHEMA}" CASCADE'


async def _copy_aside(conn: AsyncConnection, home: str, name: str) -> list[str]:
    """An empty copy of `home.name` in the rebuild's schema with its columns, storage
    parameters and primary key; the statements that will create its other indexes
    there."""
    relation = f'"{home}"."{name}"'
    # `LIKE` copies no storage parameters (`WITH (…)`: an operator's `fillfactor` or
    # autovacuum settings): they are the catalogue's
    options = await conn.scalar(
        text(
            "SELECT array_to_string(reloptions, ', ') FROM pg_class"
            " WHERE oid = CAST(:relation AS regclass)"
        ),
        {"relation": relation},
    )
    await conn.execute(
        text(
            f'CREATE TABLE "{REBUILD_SCHEMA}"."{name}" (LIKE "{home}"."{name}"'
            " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED"
            " INCLUDING COMPRESSION)" + (f" WITH ({options})" if options else "")
        )
    )
    constraints = await conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:relation AS regclass) AND contype IN ('p', 'u')"
        ),
        {"relation": relation},
    )
    for constraint, definition in constraints.all():
        # the catalogue's text as is (no bind parameters parsed out of it)
        await conn.exec_driver_sql(
            f'ALTER TABLE "{REBUILD_SCHEMA}"."{name}" ADD CONSTRAINT "{constraint}" {definition}'
        )
    found = await conn.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid), quote_ident(:home) || '.' || quote_ident(:name)"
            " FROM pg_index i WHERE i.indrelid = CAST(:relation AS regclass)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        {"home": home, "name": name, "relation": relation},
    )
    statements: list[str] = []
    for definition, qualified in found.all():
        # "CREATE INDEX ix ON home.name USING …": the same index on the copy
        target = f" ON {qualified} "
        if definition.count(target) != 1:
            raise RuntimeError(f"cannot retarget index definition {definition!r}")
        statements.append(definition.replace(target, f' ON "{REBUILD_SCHEMA}"."{name}" '))
    return statements


@dataclass(slots=True)
class Rebuild:
    """Tables being rebuilt on PostgreSQL (see the module)."""

    conn: AsyncConnection
    home: str
    names: list[str]
    indexes: list[str]
    swapped: bool = False

    async def swap(self, finish: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        conn, home = self.conn, self.home
        for statement in self.indexes:
            await conn.exec_driver_sql(statement)
        await finish(conn)
        # the views of the old tables (`holds`, an operator's own, views of those, in any
        # schema, materialized or not) go with them, and are made again on the new ones
        # as they were: definition, options, indexes, owner, comment and grants
        tables = [f'"{home}"."{name}"' for name in self.names]
        dependents = await _dependents(conn, tables)
        kept = {table: await _grants(conn, table) for table in tables}
        for view in reversed(dependents):  # those of views before the views they read
            await conn.exec_driver_sql(f"DROP {view.kind} {view.name}")
        for name in self.names:
            await conn.execute(text(f'DROP TABLE "{home}"."{name}"'))
            await conn.execute(text(f'ALTER TABLE "{REBUILD_SCHEMA}"."{name}" SET SCHEMA "{home}"'))
        await conn.execute(text(f'DROP SCHEMA "{REBUILD_SCHEMA}"'))
        for view in dependents:
            for statement in view.statements():
                await conn.exec_driver_sql(statement)
        for relation, grants in kept.items():
            for statement in _grant_statements(relation, grants):
                await conn.exec_driver_sql(statement)
        self.swapped = True


Grant = tuple[str, str, bool]  # grantee (quoted, or PUBLIC), privilege, with grant option


async def _grants(conn: AsyncConnection, relation: str) -> list[Grant]:
    """Who may do what on `relation` (a table, a view or a materialized view; quoted and
    schema-qualified), but the rebuild's own role, which owns what it makes again (a
    view's other owner is given it back after its grants: `_Dependent.statements`)."""
    grants = await conn.execute(
        text(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
            " ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable"
            " FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = CAST(:relation AS regclass)"
            " AND a.grantee <> CAST(current_user AS regrole)"
        ),
        {"relation": relation},
    )
    return [(who, privilege, bool(grantable)) for who, privilege, grantable in grants.all()]


def _grant_statements(relation: str, grants: Sequence[Grant]) -> list[str]:
    return [
        f"GRANT {privilege} ON {relation} TO {who}" + (" WITH GRANT OPTION" if grantable else "")
        for who, privilege, grantable in grants
    ]


#: Every view and materialized view that reads the tables `:tables`, directly or through
#: other views, each with its longest chain of views down to a table (`depth`: a view is
#: made after every view it reads, which has a smaller depth)
_DEPENDENTS = """
WITH RECURSIVE dependent(oid, depth) AS (
    SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid
      AND d.refobjid = ANY(CAST(:tables AS regclass[]))
    UNION
    SELECT r.ev_class, dependent.depth + 1
    FROM dependent JOIN pg_depend d ON d.refobjid = dependent.oid
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid
)
SELECT format('%I.%I', n.nspname, v.relname),
    CASE v.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, v.relispopulated,
    pg_get_viewdef(v.oid), array_to_string(v.reloptions, ', '),
    NULLIF(quote_ident(pg_get_userbyid(v.relowner)), quote_ident(current_user)),
    quote_literal(obj_description(v.oid, 'pg_class')),
    ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = v.oid)
FROM (SELECT oid, max(depth) AS depth FROM dependent GROUP BY oid) AS found
JOIN pg_class v ON v.oid = found.oid JOIN pg_namespace n ON n.oid = v.relnamespace
WHERE v.relkind IN ('v', 'm')
ORDER BY found.depth, 1
"""


@dataclass(frozen=True, slots=True)
class _Dependent:
    """A view (or materialized view) of rebuilt tables, as it is to be made again."""

    name: str  # quoted, schema-qualified
    kind: str  # VIEW or MATERIALIZED VIEW
    populated: bool  # a materialized view left WITH NO DATA stays so
    definition: str
    options: str | None
    owner: str | None  # quoted; None: the rebuild's own role
    comment: str | None  # a quoted literal
    indexes: list[str]
    grants: list[Grant]

    def statements(self) -> list[str]:
        """The view made again: a materialized one with the new tables' rows (if it had
        any)."""
        options = f" WITH ({self.options})" if self.options else ""
        query = self.definition.strip().removesuffix(";")
        data = "" if self.populated else " WITH NO DATA"
        made = [f"CREATE {self.kind} {self.name}{options} AS {query}{data}", *self.indexes]
        if self.comment is not None:
            made.append(f"COMMENT ON {self.kind} {self.name} IS {self.comment}")
        made += _grant_statements(self.name, self.grants)
        if self.owner is not None:
            made.append(f"ALTER {self.kind} {self.name} OWNER TO {self.owner}")
        return made


async def _dependents(conn: AsyncConnection, tables: list[str]) -> list[_Dependent]:
    """The views of `tables` (quoted, schema-qualified), each after those it reads."""
    found = await conn.execute(text(_DEPENDENTS), {"tables": tables})
    return [
        _Dependent(
            name,
            kind,
            populated,
            definition,
            options or None,
            owner,
            comment,
            list(indexes),
            await _grants(conn, name),
        )
        for name, kind, populated, definition, options, owner, comment, indexes in found.all()
    ]


@dataclass(slots=True)
class Staged:
    """Tables rebuilt aside by other connections (`PostgresTables.staging`)."""

    engine: AsyncEngine
    home: str
    names: list[str]
    indexes: list[str]
    swapped: bool = False

    async def swap(self, finish: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        # the copies are filled and committed: their indexes are built before the swap's
        # transaction, several at once, each committed (dropped with the schema if the
        # swap never comes)
        statements = iter(self.indexes)

        async def build() -> None:
            async with self.engine.begin() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)

        await asyncio.gather(*(build() for _ in range(min(len(self.indexes), INDEX_BUILDERS))))
        async with self.engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{REBUILD_SCHEMA}", "{self.home}"'))
            await Rebuild(conn, self.home, self.names, []).swap(finish)
        self.swapped = True
