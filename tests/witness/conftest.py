"""A fresh, empty witness database on each backend (the witness creates its own table)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PostgresServer, run_async


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def witness_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for a witness, on SQLite and on PostgreSQL; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'witness.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"docket_w_{uuid.uuid4().hex}"
    run_async(lambda: server.execute(f"CREATE DATABASE {name}"))
    try:
        yield server.url_for(name)
    finally:
        run_async(lambda: server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
