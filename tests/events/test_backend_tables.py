"""What a backend offers the projections beyond the log (`TableWriter`, `session_lock`),
on both backends: rows written by COPY / executemany read back the same, a replace and
an update change exactly the rows named."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from events.store import EventStore
from events.store.postgres_tables import update_from_unnest
from projections.tables import holds


def _hold(position: int, member: str, ended: datetime | None = None) -> tuple[object, ...]:
    placed = datetime(2026, 3, 2, 9, 0, position, tzinfo=UTC)
    return (
        position,
        f"HX-{position}",
        "initial",
        member,
        placed,
        ended,
        "released" if ended else None,
    )


def test_the_unnest_update_is_the_statement_the_holds_projection_ran() -> None:
    assert update_from_unnest(holds, "position", ("ended_at", "end_kind")) == (
        'UPDATE "holds" SET "ended_at" = u."ended_at", "end_kind" = u."end_kind"'
        " FROM unnest($1::BIGINT[], $2::TIMESTAMP WITH TIME ZONE[], $3::TEXT[])"
        ' AS u("position", "ended_at", "end_kind") WHERE "holds"."position" = u."position"'
    )


async def test_copy_replace_and_update_rows(store: EventStore) -> None:
    backend = store.backend
    ended = datetime(2026, 3, 9, 17, 30, tzinfo=UTC)
    async with store.engine.begin() as conn:
        await backend.copy_rows(conn, holds, [_hold(1, "FR"), _hold(2, "DE"), _hold(3, "IT")])
        await backend.update_rows(
            conn, holds, "position", ("ended_at", "end_kind"), [(2, ended, "released")]
        )
        await backend.replace_rows(conn, holds, "position", [_hold(3, "ES")], new=[_hold(4, "PL")])
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(holds).order_by(holds.c.position))).all()
    assert [(r.position, r.member, r.ended_at, r.end_kind) for r in rows] == [
        (1, "FR", None, None),
        (2, "DE", ended, "released"),
        (3, "ES", None, None),
        (4, "PL", None, None),
    ]
    assert rows[0].placed_at == datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)


async def test_nothing_to_write_is_no_statement(store: EventStore) -> None:
    async with store.engine.begin() as conn:
        await store.backend.copy_rows(conn, holds, [])
        await store.backend.update_rows(conn, holds, "position", ("ended_at",), [])
        await store.backend.replace_rows(conn, holds, "position", [])
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(holds))).all() == []


async def test_the_session_lock_has_one_holder_where_there_is_one(store: EventStore) -> None:
    one, two = store.backend.session_lock(7), store.backend.session_lock(7)
    try:
        assert await one.try_acquire()
        assert await one.alive()
        # PostgreSQL: an advisory lock, one holder; SQLite: none, always held
        assert await two.try_acquire() is (not one.exclusive)
        await one.release()
        assert await two.try_acquire()
    finally:
        await one.release()
        await two.release()
