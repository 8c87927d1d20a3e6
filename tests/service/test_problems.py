"""Which database errors are a 503 (retry later) and which are a bug (500)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from service.api.problems import database_unavailable


class _Driver(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def _caused_by(error: Exception) -> Exception:
    """A driver error as SQLAlchemy's asyncpg adapter wraps it."""
    wrapped = _Driver(None)
    wrapped.__cause__ = error
    return wrapped


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (OSError("network unreachable"), True),
        (OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")), True),
        (DBAPIError("SELECT 1", {}, _Driver("57P01")), True),  # admin shutdown
        (DBAPIError("SELECT 1", {}, _Driver("57P03")), True),  # cannot connect now
        (DBAPIError("SELECT 1", {}, _Driver("08006")), True),  # connection failure
        (DBAPIError("SELECT 1", {}, _Driver("53300")), True),  # too many connections
        (DBAPIError("SELECT 1", {}, _Driver(None), connection_invalidated=True), True),
        (DBAPIError("SELECT 1", {}, _Driver("22021")), False),  # bad byte sequence: a bug
        (DBAPIError("SELECT 1", {}, _Driver("42P01")), False),  # undefined table: a bug
        (IntegrityError("INSERT", {}, _Driver("23505")), False),
        (ValueError("not a database error"), False),
        (DBAPIError("SELECT 1", {}, _caused_by(asyncpg.InternalClientError("state 12"))), True),
    ],
)
def test_database_unavailable(error: BaseException, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable
