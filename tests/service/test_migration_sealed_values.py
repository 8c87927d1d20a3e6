"""Migration 0012_sealed_values moves a v2 log's sealed values out of `events` and back:
every event reads the same, every hash is unchanged and verifies, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from alembic import command
from sqlalchemy import text

from events.engines import create_engine, is_sqlite
from events.model import NewEvent, RecordedEvent, utc_text
from events.store import EventStore
from events.store.writer import record
from events.verify_chain import verify_store_chain
from service.platform.db import alembic_config, upgrade_to_head
from tests.conftest import run_outside_loop

BEFORE = "0011_unused_id_function_dropped"
T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


def _log() -> list[RecordedEvent]:
    """A small v2 log of odd values: unicode, floats, nested objects, no sealed field."""
    datas: list[tuple[str, str, dict[str, Any]]] = [
        ("committee", "MemberSeated", {"member": "FRA", "term_start": "2026-01-01"}),
        (
            "request-HX-2026-0001",
            "RequestSubmitted",
            {
                "request_id": "HX-2026-0001",
                "title": "Wells ☀",
                "purpose": "canary-purpose-é",
                "items": [{"description": "pump", "value_usd": 12.5}],
                "beneficiaries": "canary-beneficiaries",
            },
        ),
        ("request-HX-2026-0001", "HoldPlaced", {"procedure": "initial", "member": "FRA"}),
        ("s", "Noted", {}),
    ]
    chain = bytes(32)
    recorded: list[RecordedEvent] = []
    versions: dict[str, int] = {}
    for position, (stream, event_type, data) in enumerate(datas, start=1):
        versions[stream] = versions.get(stream, 0) + 1
        new = NewEvent(
            stream,
            event_type,
            data,
            T0 + timedelta(seconds=position),
            metadata={"actor": {"name": "canary-actor"}, "n": position},
        )
        row, chain = record(new, position, versions[stream], T0, chain)
        recorded.append(row[0])
    return recorded


async def _insert_old_form(url: str, log: list[RecordedEvent]) -> None:
    """The rows as revision 0011 held them: data whole, metadata and salt in `events`."""
    engine = create_engine(url)
    sqlite = is_sqlite(url)
    try:
        async with engine.begin() as conn:
            for e in log:
                await conn.execute(
                    text(
                        "INSERT INTO events (position, event_id, stream_id, stream_version,"
                        " event_type, schema_version, data, metadata, occurred_at,"
                        " recorded_at, prev_hash, hash, salt) VALUES (:p, :e, :s, :v, :t,"
                        " 1, :d, :m, :o, :r, :ph, :h, :salt)"
                    ),
                    {
                        "p": e.position,
                        "e": str(e.event_id),
                        "s": e.stream_id,
                        "v": e.stream_version,
                        "t": e.event_type,
                        "d": orjson.dumps(e.data).decode(),
                        "m": orjson.dumps(e.metadata).decode(),
                        "o": utc_text(e.occurred_at) if sqlite else e.occurred_at,
                        "r": utc_text(e.recorded_at) if sqlite else e.recorded_at,
                        "ph": e.prev_hash,
                        "h": e.hash,
                        "salt": e.salt,
                    },
                )
    finally:
        await engine.dispose()


async def _old_rows(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    cast = "" if is_sqlite(url) else "::text"
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(f"SELECT position, data{cast}, metadata{cast}, salt, hash FROM events")
            )
            return [(r[0], orjson.loads(r[1]), orjson.loads(r[2]), r[3], r[4]) for r in rows]
    finally:
        await engine.dispose()


async def test_a_v2_log_moves_out_and_back_with_every_hash_unchanged(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    config = alembic_config(url)
    run_outside_loop(command.upgrade, config, BEFORE)
    log = _log()
    await _insert_old_form(url, log)
    before = await _old_rows(url)

    run_outside_loop(upgrade_to_head, url)
    async with await EventStore.open(url) as store:
        read = await store.read_all(0, 100)
        assert [e.wire() | {"sealed": ""} for e in read] == [e.wire() | {"sealed": ""} for e in log]
        assert all(len(e.sealed) == 64 for e in read)
        report = await verify_store_chain(store)
        assert report.ok and report.checked == len(log) and report.head_hash == log[-1].hash
        engine = store.engine
        cast = "" if is_sqlite(url) else "::text"
        async with engine.connect() as conn:
            kept = (await conn.execute(text(f"SELECT data{cast} FROM events"))).scalars().all()
        assert not any("canary" in value for value in kept)  # only clear fields stay

    run_outside_loop(command.downgrade, config, BEFORE)
    assert await _old_rows(url) == before
