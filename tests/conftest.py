"""Databases for tests: every store and API test runs on SQLite and again on PostgreSQL.

Migrations run once per session and backend (Alembic `upgrade head`, never `create_all`):
SQLite tests get a copy of a migrated template file; PostgreSQL tests get a fresh database
created from a migrated template database, dropped afterwards. PostgreSQL comes from
`DOCKET_TEST_DATABASE_URL`; when it is unreachable its tests skip, except under `CI=true`,
where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from events.store import EventStore
from service.platform.db import upgrade_to_head

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

T = TypeVar("T")


def run_outside_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` in a fresh thread, so it may call `asyncio.run` whatever the caller runs in."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on its own event loop in a fresh thread."""

    async def call() -> T:
        return await make()

    result: T = run_outside_loop(asyncio.run, call())
    return result


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file to copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_outside_loop(upgrade_to_head, sqlite_url(path))
    with sqlite3.connect(path) as conn:  # fold the WAL into the file we copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@dataclass(frozen=True)
class PostgresServer:
    """A reachable PostgreSQL server with a migrated template database."""

    url: str  # SQLAlchemy URL of the maintenance database
    template: str

    @property
    def dsn(self) -> str:
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(False)

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    @contextmanager
    def database(self, prefix: str, *, template: str | None = None) -> Iterator[str]:
        """A new database named `prefix` + a random suffix (a copy of `template`, or
        empty); yields its URL, then drops it."""
        name = f"{prefix}{uuid.uuid4().hex}"
        copied = f" TEMPLATE {template}" if template else ""
        run_async(lambda: self.execute(f"CREATE DATABASE {name}{copied}"))
        try:
            yield self.url_for(name)
        finally:
            run_async(lambda: self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"PostgreSQL unreachable ({reason}); set DOCKET_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The test PostgreSQL server, with a template database migrated to head."""
    url = os.environ.get("DOCKET_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    server = PostgresServer(url=url, template=f"docket_tpl_{os.getpid()}")
    try:
        run_async(lambda: server.execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        _postgres_unavailable(f"{make_url(url).render_as_string()}: {error}")
    run_async(lambda: server.execute(f"DROP DATABASE IF EXISTS {server.template} WITH (FORCE)"))
    run_async(lambda: server.execute(f"CREATE DATABASE {server.template}"))
    try:
        run_outside_loop(upgrade_to_head, server.url_for(server.template))
        yield server
    finally:
        run_async(lambda: server.execute(f"DROP DATABASE IF EXISTS {server.template} WITH (FORCE)"))


def _fresh_database(request: pytest.FixtureRequest, backend: str, path: Path) -> Iterator[str]:
    """A fresh database migrated to head on `backend`; yields its URL, then drops it."""
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield sqlite_url(path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database("docket_t_", template=server.template) as url:
        yield url


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated PostgreSQL database (the `database_url` fixture's PostgreSQL side),
    for tests of what only PostgreSQL has (mark them `postgres`)."""
    yield from _fresh_database(request, "postgres", tmp_path / "unused.db")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to head, on each backend in turn; yields its URL."""
    yield from _fresh_database(request, request.param, tmp_path / "docket.db")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on each backend in turn (migration tests)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database("docket_t_") as url:
        yield url


@pytest.fixture
def second_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """Another fresh database on the same backend as `database_url` (imports, forgeries)."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    yield from _fresh_database(request, backend, tmp_path / "second.db")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    """An open event store on a fresh database."""
    opened = await EventStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
