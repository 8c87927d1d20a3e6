"""Which asyncpg errors a PostgreSQL backend meets, and the SQLAlchemy errors it raises
for them: the raw paths (the writer's connection, the read pool) fail as the SQLAlchemy
path would, so that callers handle both alike."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

#: SQLAlchemy's error class for each SQLSTATE class, as its asyncpg dialect would raise it.
ERROR_CLASSES: dict[str, type[sa_exc.DBAPIError]] = {
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
BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError)
DATABASE_ERRORS = (asyncpg.PostgresError, *BROKEN_CONNECTION)


def as_dbapi_error(error: Exception, statement: str) -> Exception:
    """A raw asyncpg error as the `sqlalchemy.exc.DBAPIError` the SQLAlchemy path raises,
    so that callers handle both paths alike (503 on unavailability, the runner's retry)."""
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", "") or "")
        kind = ERROR_CLASSES.get(sqlstate[:2], sa_exc.DBAPIError)
        return kind(statement, None, error)
    if isinstance(error, BROKEN_CONNECTION):
        return sa_exc.InterfaceError(statement, None, error, connection_invalidated=True)
    return error
