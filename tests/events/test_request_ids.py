"""Server-assigned request ids (R11): unique and gap-free per year however many
transactions ask at once, passing over ids already in the log, backfilled for old logs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from events.model import NewEvent, StreamAppend
from events.request_ids import (
    format_request_id,
    parse_request_id,
    postgres_next_id,
    sqlite_next_id,
)
from events.store import EventStore
from service.db import WRITER_OPTIONS, alembic_config, create_engine, is_sqlite
from service.rules.request_rules import request_id_for
from tests.conftest import PostgresServer, run_async, run_outside_loop
from tests.events.v1_log import insert_v1_submissions

YEAR = 2026
TRANSACTIONS = 200

#: In an open write transaction: assign one id, then commit (True) or roll back (False).
Assign = Callable[[bool], Awaitable[str]]


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


# -- the pure part ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [(1, "HX-2026-0001"), (200, "HX-2026-0200"), (9999, "HX-2026-9999"),
     (10000, "HX-2026-10000")],
)  # fmt: skip
def test_the_id_format(sequence: int, expected: str) -> None:
    assert format_request_id(YEAR, sequence) == expected
    assert parse_request_id(expected) == (YEAR, sequence)
    at = datetime(YEAR, 6, 1, tzinfo=UTC)
    assert request_id_for(at, sequence) == expected  # the rules' spelling agrees


@pytest.mark.parametrize("other", ["HX-26-0001", "hx-2026-0001", "HX-2026-", "X-2026-1"])
def test_ids_not_of_the_servers_form_parse_to_none(other: str) -> None:
    assert parse_request_id(other) is None


def test_sequences_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_request_id(YEAR, 0)


# -- both backends ------------------------------------------------------------------------


async def _with_assigner(url: str, use: Callable[[Assign], Awaitable[None]]) -> None:
    """Run `use` with an `Assign` over several connections (pools, as two processes)."""
    if is_sqlite(url):
        engines = [create_engine(url).execution_options(**WRITER_OPTIONS) for _ in range(2)]
        turn = 0

        async def assign_sqlite(commit: bool) -> str:
            nonlocal turn
            turn += 1
            async with engines[turn % 2].connect() as conn:
                await conn.begin()
                request_id = await sqlite_next_id(conn, YEAR)
                await (conn.commit() if commit else conn.rollback())
                return request_id

        try:
            await use(assign_sqlite)
        finally:
            for engine in engines:
                await engine.dispose()
        return

    pools = [await asyncpg.create_pool(libpq(url), min_size=1, max_size=32) for _ in range(2)]
    turn = 0

    async def assign_postgres(commit: bool) -> str:
        nonlocal turn
        turn += 1
        async with pools[turn % 2].acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            request_id = await postgres_next_id(conn, YEAR)
            await (transaction.commit() if commit else transaction.rollback())
            return request_id

    try:
        await use(assign_postgres)
    finally:
        for pool in pools:
            await pool.close()


async def test_200_concurrent_transactions_get_0001_to_0200(database_url: str) -> None:
    assigned: list[str] = []

    async def race(assign: Assign) -> None:
        assigned.extend(await asyncio.gather(*(assign(True) for _ in range(TRANSACTIONS))))

    await _with_assigner(database_url, race)
    assert sorted(assigned) == [format_request_id(YEAR, n) for n in range(1, TRANSACTIONS + 1)]


async def test_a_rolled_back_transaction_gives_its_number_back(database_url: str) -> None:
    committed: list[str] = []

    async def race(assign: Assign) -> None:
        async def one(k: int) -> None:
            request_id = await assign(k % 10 != 0)
            if k % 10 != 0:
                committed.append(request_id)

        await asyncio.gather(*(one(k) for k in range(TRANSACTIONS)))

    await _with_assigner(database_url, race)
    kept = TRANSACTIONS - TRANSACTIONS // 10
    assert sorted(committed) == [format_request_id(YEAR, n) for n in range(1, kept + 1)]


async def _submitted(url: str, *request_ids: str) -> None:
    async with await EventStore.open(url) as store:
        for request_id in request_ids:
            stream = f"request-{request_id}"
            event = NewEvent(
                stream, "RequestSubmitted", {"request_id": request_id}, datetime.now(UTC)
            )
            await store.append(StreamAppend(stream, "no_stream", [event]))


async def test_ids_already_in_the_log_or_the_batch_are_passed_over(database_url: str) -> None:
    await _submitted(database_url, "HX-2026-0002", "HX-2026-0003")
    got: list[str] = []

    async def one_by_one(assign: Assign) -> None:
        for _ in range(3):
            got.append(await assign(True))

    await _with_assigner(database_url, one_by_one)
    assert got == ["HX-2026-0001", "HX-2026-0004", "HX-2026-0005"]


async def test_taken_ids_of_the_same_batch_are_passed_over(database_url: str) -> None:
    taken = {"HX-2026-0001", "HX-2026-0002"}
    if is_sqlite(database_url):
        engine = create_engine(database_url).execution_options(**WRITER_OPTIONS)
        try:
            async with engine.begin() as conn:
                first = await sqlite_next_id(conn, YEAR, taken=taken)
                second = await sqlite_next_id(conn, YEAR, taken=taken | {first})
        finally:
            await engine.dispose()
    else:
        conn = await asyncpg.connect(libpq(database_url))
        try:
            async with conn.transaction():
                first = await postgres_next_id(conn, YEAR, taken=taken)
                second = await postgres_next_id(conn, YEAR, taken=taken | {first})
        finally:
            await conn.close()
    assert (first, second) == ("HX-2026-0003", "HX-2026-0004")


async def test_years_count_apart_and_widen_past_9999(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO request_sequences VALUES (2025, 9999)"))
    finally:
        await engine.dispose()
    got: list[str] = []

    async def one(assign: Assign) -> None:
        got.append(await assign(True))

    await _with_assigner(database_url, one)
    assert got == ["HX-2026-0001"]
    if is_sqlite(database_url):
        engine = create_engine(database_url).execution_options(**WRITER_OPTIONS)
        try:
            async with engine.begin() as conn:
                wide = await sqlite_next_id(conn, 2025)
        finally:
            await engine.dispose()
    else:
        pg = await asyncpg.connect(libpq(database_url))
        try:
            wide = await postgres_next_id(pg, 2025)
        finally:
            await pg.close()
    assert wide == "HX-2025-10000"


# -- the migration's backfill ----------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"docket_t_{uuid.uuid4().hex}"
    run_async(lambda: server.execute(f"CREATE DATABASE {name}"))
    try:
        yield server.url_for(name)
    finally:
        run_async(lambda: server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def test_an_existing_log_is_backfilled(empty_database_url: str) -> None:
    url = empty_database_url
    run_outside_loop(command.upgrade, alembic_config(url), "0003_notify_events")
    ids = ("HX-2025-0007", "HX-2026-0002", "HX-2026-0010", "OWN-1", "HX-26-5")
    await insert_v1_submissions(url, *ids)
    # Not to head: 0006_event_salt refuses a log in canonical form v1 (test_event_salt.py).
    run_outside_loop(command.upgrade, alembic_config(url), "0005_request_intervals")

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT year, last FROM request_sequences"))
            assert dict(rows.tuples().all()) == {2025: 7, 2026: 10}
    finally:
        await engine.dispose()
    got: list[str] = []

    async def one(assign: Assign) -> None:
        got.append(await assign(True))

    await _with_assigner(url, one)
    assert got == ["HX-2026-0011"]
