"""PostgreSQL's binary `timestamptz`, a signed count of microseconds since 2000-01-01
UTC, converted by Python where that costs a rebuild less than asyncpg's own codec.

asyncpg encodes each time by comparing it with two infinities and converting its zone
before it subtracts the epoch; for the rows of a rebuild's COPYs (about 3.5 million
times at 1,000,000 events) that was half the client's CPU of the COPY. `time_tuple`
makes the count in two C operations: `bulk_times` sets it as the codec of a connection
that writes a rebuild's rows, for as long as it does.

Values are as asyncpg's codec gives and takes them: aware datetimes (a naive one, or a
date, is local time), and the infinities as `datetime.max` and `datetime.min`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INFINITY = 2**63 - 1
_NEGATIVE_INFINITY = -(2**63)


def time_tuple(moment: datetime | date) -> tuple[int]:
    """asyncpg's tuple form of a `timestamptz`: (microseconds since `PG_EPOCH`,)."""
    try:
        return ((moment - PG_EPOCH) // _MICROSECOND,)
    except TypeError:  # a naive datetime or a date: local time, as asyncpg takes it
        if moment == datetime.max:
            return (_INFINITY,)
        if moment == datetime.min:
            return (_NEGATIVE_INFINITY,)
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day)
        return ((moment.astimezone(UTC) - PG_EPOCH) // _MICROSECOND,)


def from_micros(micros: tuple[int]) -> datetime:
    """The datetime of asyncpg's tuple form of a `timestamptz`."""
    (count,) = micros
    if count == _INFINITY:
        return datetime.max
    if count == _NEGATIVE_INFINITY:
        return datetime.min
    return PG_EPOCH + timedelta(microseconds=count)


@contextlib.asynccontextmanager
async def bulk_times(driver: Any) -> AsyncIterator[None]:
    """`timestamptz` converted by `time_tuple` and `from_micros` on the asyncpg
    connection `driver` while in the block; asyncpg's codec again after.

    Left by an error, the block's own error is what is raised: a connection whose
    transaction failed, or which broke, may keep these codecs (they read and write the
    same values as asyncpg's, for a little more CPU per time read)."""
    await driver.set_type_codec(
        "timestamptz", schema="pg_catalog", encoder=time_tuple, decoder=from_micros, format="tuple"
    )
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            if not driver.is_closed():
                await driver.reset_type_codec("timestamptz", schema="pg_catalog")
        raise
    await driver.reset_type_codec("timestamptz", schema="pg_catalog")
