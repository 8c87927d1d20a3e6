"""`sealed_values` changes only by an erasure the log records (migration 0012's triggers),
on both backends: DELETE refused, an UPDATE of a value refused, a forged erasure (markers
without an `ErasureRecorded` naming the position) refused; the store's erasure passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from events.model import NewEvent, StreamAppend
from events.store import EventStore

T0 = datetime(2026, 2, 5, 15, 4, 5, tzinfo=UTC)
MARKER = '{"erased":true,"by":1}'
REFUSED = [
    "DELETE FROM sealed_values WHERE position = 2",
    "DELETE FROM sealed_values",
    'UPDATE sealed_values SET data = \'{"note":"forged"}\' WHERE position = 2',
    # markers and no salt, as an erasure would leave them, but no ErasureRecorded says so
    f"UPDATE sealed_values SET data = '{{\"note\":{MARKER}}}', metadata = '{MARKER}',"
    " salt = NULL, erased_by = 1 WHERE position = 2",
]


async def test_only_a_recorded_erasure_changes_sealed_values(store: EventStore) -> None:
    events = [NewEvent("s", "Noted", {"note": f"n{n}"}, T0) for n in range(3)]
    await store.append(StreamAppend("s", "no_stream", events))
    for statement in REFUSED:
        with pytest.raises(Exception, match=r"(?i)erasure|sealed_values"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    erasure = NewEvent(
        "erasures",
        "ErasureRecorded",
        {"positions": [2], "reason": "asked", "decided_by": "Committee"},
        T0,
        event_id=uuid.uuid4(),
    )
    recorded = await store.erase(erasure)
    erased = (await store.read_all(1, 1))[0]
    assert erased.erased and erased.data == {"note": {"erased": True, "by": recorded.position}}
    assert erased.metadata == {"erased": True, "by": recorded.position}
    with pytest.raises(Exception, match=r"(?i)erasure|sealed_values"):
        async with store.engine.begin() as conn:  # an erased row is never changed again
            await conn.execute(text("UPDATE sealed_values SET salt = NULL WHERE position = 2"))
