"""A fresh, empty witness database on each backend (the witness creates its own table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PostgresServer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def witness_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for a witness, on SQLite and on PostgreSQL; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'witness.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database("docket_w_") as url:
        yield url
