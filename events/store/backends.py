"""The backend for a database URL: the one place that maps a URL to a dialect's module."""

from __future__ import annotations

from collections.abc import Callable

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
