"""The chain walk's two ways to a leaf (`events.verify_chain`): orjson's candidate, taken
only when it links to the stored hash, else the backend's exact `hashed_form`; and, on
PostgreSQL, `events` and `sealed_values` read as two streams (`events.store.postgres_chain`).
Both must give the verdicts and leaves the exact form alone gives."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.store.postgres_chain import paired
from events.verify_chain import candidate_form, leaf_hashes, verify_store_chain

T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)

#: Data the candidate writes as JCS does, and data it does not (floats JCS writes its own
#: way, a key JCS orders by UTF-16 code units, non-ASCII text): the walk takes both ways.
DATA: list[dict[str, object]] = [
    {"target_position": 1, "text": "a plain note"},
    {"target_position": 1, "text": "floats", "x": 1e20, "y": 1.0, "z": -0.0001},
    {"target_position": 1, "text": "keys", "\U0001f600": 1, "\ufb01": 2, "é": "\u2028"},
    {"target_position": 1, "text": "n", "big": 2**53 - 1},
]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with await EventStore.open(database_url) as opened:
        yield opened


async def fill(store: EventStore, count: int) -> None:
    events = [
        NewEvent(
            "request-A",
            "EntryAnnotated",
            DATA[n % len(DATA)],
            T0 + timedelta(minutes=n),
            metadata={"actor": {"id": "t1", "name": "Zoë"}, "n": n},
        )
        for n in range(count)
    ]
    await store.append(StreamAppend("request-A", "any", events))
    # an event whose clear data JCS writes otherwise: the candidate's leaf will not link
    noted = NewEvent("s", "MemberSeated", {"member": 1.0, "term_start": 1e20}, T0)
    await store.append(StreamAppend("s", "any", [noted]))


async def erase(store: EventStore, positions: list[int]) -> None:
    await store.erase(
        NewEvent(
            "erasures",
            "ErasureRecorded",
            {"positions": positions, "reason": "test", "decided_by": "committee"},
            T0,
        )
    )


async def forge(store: EventStore, statement: str) -> None:
    """Run `statement` on `sealed_values` or `events` behind their triggers."""
    async with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE sealed_values DISABLE TRIGGER USER"))
            await conn.execute(text(statement))
            await conn.execute(text("ALTER TABLE sealed_values ENABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER IF EXISTS sealed_values_erase_only"))
            await conn.execute(text("DROP TRIGGER IF EXISTS sealed_values_no_delete"))
            await conn.execute(text(statement))


async def test_leaves_are_the_exact_forms_leaves_with_and_without_erasures(
    store: EventStore,
) -> None:
    await fill(store, 23)
    await erase(store, [2, 3, 11, 24])
    seen: list[tuple[int, bytes]] = []
    report = await verify_store_chain(store, batch=5, on_leaf=lambda p, h: seen.append((p, h)))
    assert report.ok, report
    assert (report.checked, (report.head_position, report.head_hash)) == (25, await store.head())
    assert [leaf for _, leaf in seen] == await leaf_hashes(store, 0, 100)
    assert [p for p, _ in seen] == list(range(1, 26))


async def test_the_candidate_is_made_where_jcs_agrees_and_never_trusted_alone(
    store: EventStore,
) -> None:
    await fill(store, 4)
    rows = await store.chain_page(0, 10)
    exact = [store.hashed_form(row) for row in rows]
    candidates = [candidate_form(row) for row in rows]
    assert candidates[0] == exact[0] and candidates[3] == exact[3]
    # sealed values orjson writes otherwise (1e+20, 1.0; keys in UTF-16 order): no candidate
    assert candidates[1] is None and candidates[2] is None
    # clear data written otherwise: a candidate, whose leaf does not link
    assert candidates[4] is not None and candidates[4] != exact[4]
    # a salt spelled in capitals names the same bytes; the exact form refuses it
    upper = (*rows[0][:12], rows[0][12].upper(), *rows[0][13:])
    assert candidate_form(upper) is None


async def test_a_changed_sealed_value_is_named(store: EventStore) -> None:
    await fill(store, 6)
    await forge(
        store,
        'UPDATE sealed_values SET data = \'{"text": "changed"}\' WHERE position = 5',
    )
    report = await verify_store_chain(store, batch=2)
    assert (report.bad_position, report.checked) == (5, 4)
    assert "sealed values' hash" in (report.reason or "")


async def test_a_changed_salt_and_a_missing_row_are_named(store: EventStore) -> None:
    await fill(store, 6)
    salt = hashlib.sha256(b"another").hexdigest()
    await forge(store, f"UPDATE sealed_values SET salt = '{salt}' WHERE position = 4")
    report = await verify_store_chain(store, batch=4)
    assert report.bad_position == 4 and "sealed values' hash" in (report.reason or "")
    await forge(store, "DELETE FROM sealed_values WHERE position = 2")
    report = await verify_store_chain(store, batch=4)
    assert report.bad_position == 2 and "gone" in (report.reason or "")


async def test_a_gap_beyond_a_page_is_named(store: EventStore) -> None:
    await fill(store, 6)
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO events (position, event_id, stream_id, stream_version,"
                " event_type, schema_version, data, occurred_at, recorded_at, prev_hash,"
                " hash, sealed) SELECT 40, '00000000-0000-4000-8000-000000000040', stream_id,"
                " 99, event_type, schema_version, data, occurred_at, recorded_at, hash, hash,"
                " sealed FROM events WHERE position = 6"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO sealed_values (position, data, metadata, salt)"
                " SELECT 40, data, metadata, salt FROM sealed_values WHERE position = 6"
            )
        )
    report = await verify_store_chain(store, batch=4)
    assert (report.bad_position, report.checked) == (8, 7)
    assert "missing" in (report.reason or "")


def test_pairing_by_position() -> None:
    events = [(p, "id", "s", p, "T", 1, "{}", "o", "r", "ph", "h", "k") for p in (1, 2, 3)]
    sealed = [(1, "{}", "{}", "salt1", None), (3, "{}", "{}", None, 9)]
    rows = paired(events, sealed)
    assert [row[0] for row in rows] == [1, 2, 3]
    assert rows[0][7] == "{}" and rows[0][12] == "salt1" and rows[0][15] == "{}"
    assert (rows[1][7], rows[1][12], rows[1][14], rows[1][15]) == (None, None, None, None)
    assert (rows[2][12], rows[2][14]) == (None, 9)
    assert paired(events[:2], [sealed[0], sealed[1]])[1][14] is None  # same count, not aligned
