"""The hot-standby harness itself: what the primary commits reaches the standby, and
nothing does while replay is paused; a stopped standby refuses and comes back; Docket's
migrations run on the primary and their schema replicates."""

from __future__ import annotations

import asyncpg
import pytest

from service.platform.db import upgrade_to_head
from tests.conftest import run_outside_loop
from tests.replica import HotStandby

pytestmark = pytest.mark.postgres


async def _fetch(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _primary(pair: HotStandby, sql: str) -> None:
    conn = await asyncpg.connect(pair.primary_dsn(), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_the_standby_is_read_only_and_in_recovery(standby: HotStandby) -> None:
    assert await _fetch(standby.standby_dsn(), "SELECT pg_is_in_recovery()") is True
    assert await _fetch(standby.primary_dsn(), "SELECT pg_is_in_recovery()") is False
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await _fetch(standby.standby_dsn(), "CREATE TABLE refused (x int)")


async def test_a_row_written_on_the_primary_reaches_the_standby(standby: HotStandby) -> None:
    await _primary(standby, "CREATE TABLE IF NOT EXISTS notes (n int)")
    await _primary(standby, "INSERT INTO notes VALUES (1)")
    await standby.wait_for_replay()
    assert await _fetch(standby.standby_dsn(), "SELECT count(*) FROM notes WHERE n = 1") == 1


async def test_while_replay_is_paused_the_standby_does_not_see_new_rows(
    standby: HotStandby,
) -> None:
    await _primary(standby, "CREATE TABLE IF NOT EXISTS paused (n int)")
    await standby.wait_for_replay()
    await standby.pause_replay()
    applied = await standby.replay_lsn()
    await _primary(standby, "INSERT INTO paused VALUES (2)")

    assert await _fetch(standby.standby_dsn(), "SELECT count(*) FROM paused") == 0
    assert await standby.replay_lsn() == applied
    assert await _fetch(standby.primary_dsn(), "SELECT count(*) FROM paused") == 1

    await standby.resume_replay()
    await standby.wait_for_replay()
    assert await _fetch(standby.standby_dsn(), "SELECT count(*) FROM paused") == 1


async def test_a_stopped_standby_refuses_then_catches_up(standby: HotStandby) -> None:
    await _primary(standby, "CREATE TABLE IF NOT EXISTS stopped (n int)")
    standby.stop_standby()
    with pytest.raises(OSError):
        await _fetch(standby.standby_dsn(), "SELECT 1")
    await _primary(standby, "INSERT INTO stopped VALUES (3)")
    standby.start_standby()
    await standby.wait_for_replay()
    assert await _fetch(standby.standby_dsn(), "SELECT count(*) FROM stopped") == 1


async def test_docket_migrations_on_the_primary_replicate(standby: HotStandby) -> None:
    await _primary(standby, "DROP DATABASE IF EXISTS docket WITH (FORCE)")
    await _primary(standby, "CREATE DATABASE docket")
    run_outside_loop(upgrade_to_head, standby.primary_url("docket"))
    await standby.wait_for_replay()
    tables = await _fetch(
        standby.standby_dsn("docket"),
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname = 'public'",
    )
    assert isinstance(tables, str)
    assert {"events", "checkpoints", "projection_checkpoints", "alembic_version"} <= set(
        tables.split(",")
    )
    version = await _fetch(standby.standby_dsn("docket"), "SELECT version_num FROM alembic_version")
    primary_version = await _fetch(
        standby.primary_dsn("docket"), "SELECT version_num FROM alembic_version"
    )
    assert version == primary_version
