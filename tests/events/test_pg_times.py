"""PostgreSQL's binary times converted by Python (`events.store.pg_times`): what a
rebuild's COPYs write through `bulk_times`, and what its page reads take as
`timestamptz_send`'s bytes, are the times asyncpg's own codec writes and reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from events.store import pg_times
from events.store.pg_times import bulk_times, from_micros, time_tuple

INDIA = timezone(timedelta(hours=5, minutes=30))
aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, INDIA]),
)


@given(aware)
def test_a_time_and_its_tuple_make_a_round_trip(moment: datetime) -> None:
    back = from_micros(time_tuple(moment))
    assert back == moment and back.tzinfo is UTC


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    url = make_url(postgres_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute("CREATE TEMP TABLE times (n int, at timestamptz)")
        yield connection
    finally:
        await connection.close()


SAMPLES: list[datetime | date] = [
    datetime(2026, 7, 23, 20, 56, 59, 34574, tzinfo=UTC),
    datetime(2026, 7, 23, 20, 56, 59, tzinfo=UTC),  # no fraction
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
    datetime(2026, 3, 1, 12, 0, tzinfo=INDIA),
    datetime(2026, 3, 1, 12, 0),  # naive: local time, as asyncpg takes it
    date(2026, 3, 1),  # a date: its local midnight
    datetime.max,  # infinity
    datetime.min,  # -infinity
]


async def _copied(conn: asyncpg.Connection) -> list[tuple[int, datetime]]:
    await conn.execute("TRUNCATE times")
    records = list(enumerate(SAMPLES))
    await conn.copy_records_to_table("times", records=records, columns=["n", "at"])
    return [tuple(row) for row in await conn.fetch("SELECT n, at FROM times ORDER BY n")]


@pytest.mark.postgres
async def test_bulk_times_write_and_read_as_asyncpg_does(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[object] = []

    def counted(moment: datetime | date) -> tuple[int]:
        encoded.append(moment)
        return time_tuple(moment)

    monkeypatch.setattr(pg_times, "time_tuple", counted)
    expected = await _copied(conn)  # asyncpg's own codec, both ways
    assert encoded == []
    async with bulk_times(conn):
        assert await _copied(conn) == expected
        assert encoded == SAMPLES
    # asyncpg's codec is back after the block
    moment = await conn.fetchval("SELECT at FROM times WHERE n = 0")
    assert moment == SAMPLES[0] and type(moment) is datetime
    assert await conn.fetchval("SELECT $1::timestamptz", SAMPLES[0]) == SAMPLES[0]
    assert encoded == SAMPLES


@pytest.mark.postgres
async def test_an_error_in_the_block_is_the_one_raised(conn: asyncpg.Connection) -> None:
    # the transaction failed: the codecs cannot be reset in it, and the error is the
    # block's, not the reset's
    transaction = conn.transaction()
    await transaction.start()
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with bulk_times(conn):
            await conn.execute("SELECT 1 / 0")
    await transaction.rollback()
    # the values read and written are the same with the codecs kept
    await conn.execute("INSERT INTO times VALUES (0, $1)", SAMPLES[0])
    assert await conn.fetchval("SELECT at FROM times") == SAMPLES[0]
