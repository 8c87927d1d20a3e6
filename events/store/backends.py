"""The backend for a database URL: the one place that maps a URL to a dialect's module."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from events.engines import backend_name
from events.store.contract import Backend
from events.store.postgres import PostgresBackend
from events.store.sqlite import SqliteBackend

#: Each backend name of a SQLAlchemy URL, and how to open the backend for it.
OPENERS: dict[str, Callable[[str], Backend]] = {
    "postgresql": PostgresBackend.open,
    "sqlite": SqliteBackend.open,
}


def open_backend(url: str) -> Backend:
    """The backend of the database at `url` (`sqlite+aiosqlite:///…`, `postgresql://…`)."""
    name = backend_name(url)
    opener = OPENERS.get(name)
    if opener is None:
        raise ValueError(f"unsupported database backend: {name!r}")
    return opener(url)


def database_unavailable(error: BaseException) -> bool:
    """True for errors of reaching the database (retry later), false for errors of what was
    sent to it (bugs): the SQLAlchemy classes that say so, else each backend's reading of
    its own driver's errors (`Backend.is_unavailable`)."""
    if not isinstance(error, DBAPIError):
        return isinstance(error, OSError)  # ConnectionError is an OSError
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        return True
    return PostgresBackend.is_unavailable(error) or SqliteBackend.is_unavailable(error)
