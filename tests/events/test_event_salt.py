"""Migration 0006_event_salt: a fresh log gets its `salt` column; a log in canonical form
v1 is refused with a message saying what to do, and left as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from events.errors import OldCanonicalForm
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from service.platform.db import alembic_config, create_engine, is_sqlite, upgrade_to_head
from tests.conftest import run_outside_loop
from tests.events.v1_log import insert_v1_submissions


async def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return str(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            )
    finally:
        await engine.dispose()


async def test_a_v1_log_is_refused_with_what_to_do(empty_database_url: str) -> None:
    run_outside_loop(command.upgrade, alembic_config(empty_database_url), "0005_request_intervals")
    await insert_v1_submissions(empty_database_url, "HX-2026-0001", "HX-2026-0002")
    with pytest.raises(OldCanonicalForm) as refused:
        run_outside_loop(upgrade_to_head, empty_database_url)
    message = str(refused.value)
    assert "2 events in the old canonical form v1" in message
    assert "new, empty database" in message and "docket migrate" in message
    assert await _revision(empty_database_url) == "0005_request_intervals"


async def test_a_fresh_log_salts_every_event_and_refuses_a_row_without(
    empty_database_url: str,
) -> None:
    run_outside_loop(upgrade_to_head, empty_database_url)
    async with await EventStore.open(empty_database_url) as store:
        events = [NewEvent("s", "Noted", {"n": n}, occurred_at=datetime.now(UTC)) for n in range(3)]
        recorded = await store.append(StreamAppend("s", "no_stream", events))
        salts = [e.salt for e in recorded]
        assert len(set(salts)) == 3
        assert all(len(s) == 64 and int(s, 16) >= 0 and s == s.lower() for s in salts)
        assert [e.salt for e in await store.read_all(0, 10)] == salts
    moment: object = recorded[0].occurred_at
    if is_sqlite(empty_database_url):
        moment = "2026-02-05T15:04:05.000000Z"
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(Exception, match=r"(?i)check|constraint"):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        # since 0012 the salt is in `sealed_values` and `events` keeps
                        # the digest it sealed, checked the same way
                        "INSERT INTO events (position, event_id, stream_id, stream_version,"
                        " event_type, schema_version, data, occurred_at,"
                        " recorded_at, prev_hash, hash, sealed) VALUES (4, :e, 't', 1, 'X', 1,"
                        " '{}', :t, :t, :h, :h, 'short')"
                    ),
                    {
                        "e": str(uuid.uuid4()),
                        "t": moment,
                        "h": "0" * 64,
                    },
                )
    finally:
        await engine.dispose()
