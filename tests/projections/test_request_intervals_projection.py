"""The registered `request_intervals` projection, kept by the runner: over random
histories (business time backdated across streams, retractions), its tables after
incremental catch-ups (small batches, a head cache of one stream, fresh runners) and
after `rebuild` both equal a fold of the log (`intervals.stream_intervals` of every
stream), on both backends."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from events.model import RecordedEvent, StreamAppend
from events.store import EventStore
from projections.intervals import tables
from projections.intervals.steps import stream_intervals
from projections.read_models import PROJECTIONS
from projections.read_models.request_intervals import RequestIntervals
from projections.runner import ProjectionRunner
from tests.projections import histories

NEW_YORK = ZoneInfo("America/New_York")


async def _stored(store: EventStore) -> dict[str, set[tuple[Any, ...]]]:
    async with store.engine.connect() as conn:
        found: dict[str, set[tuple[Any, ...]]] = {}
        for table in tables.TABLES:
            rows = (await conn.execute(select(table))).all()
            found[table.name] = {tuple(row) for row in rows}
    return found


async def _folded(store: EventStore) -> dict[str, set[tuple[Any, ...]]]:
    """Every row the fold of each request stream makes."""
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in await store.read_all(0, 100_000, upcast=True):
        streams[event.stream_id].append(event)
    found: dict[str, set[tuple[Any, ...]]] = {table.name: set() for table in tables.TABLES}
    for events in streams.values():
        rows = stream_intervals(events, NEW_YORK)
        found[tables.request_status_intervals.name] |= {
            tables.status_record(row) for row in rows.status
        }
        found[tables.hold_intervals.name] |= {tables.hold_record(row) for row in rows.holds}
    return found


def _runner(store: EventStore, batch: int) -> ProjectionRunner:
    return ProjectionRunner(
        store.engine,
        store,
        projections=[RequestIntervals(head_cache_size=1)],
        batch_size=batch,
        time_zone=NEW_YORK,
    )


def test_it_is_registered() -> None:
    assert "request_intervals" in PROJECTIONS


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    draws=st.one_of(histories.steps, histories.retracting_steps),
    start_days=histories.starts,
    cuts=st.lists(st.integers(1, 40), max_size=4),
    batch=st.integers(1, 7),
)
async def test_incremental_and_rebuilt_tables_equal_a_fold_of_the_log(
    store: EventStore,
    draws: list[histories.Draw],
    start_days: list[int],
    cuts: list[int],
    batch: int,
) -> None:
    # The store lives across examples: each adds streams of its own to a growing log.
    prefix = f"P{uuid.uuid4().hex[:6].upper()}"
    head, _ = await store.head()
    log = histories.build(draws, start_days, prefix, after=head)
    events = histories.new_events(log)
    incremental = _runner(store, batch)
    try:
        for index, event in enumerate(events):
            await store.append(StreamAppend(event.stream_id, "any", [event]))
            if index + 1 in cuts:
                await incremental.catch_up()
                await incremental.close()  # a fresh runner: no heads in memory
                incremental = _runner(store, batch)
        await incremental.catch_up()
    finally:
        await incremental.close()
    assert [e.position for e in await store.read_all(head, 100_000)] == [e.position for e in log]
    expected = await _folded(store)
    assert await _stored(store) == expected
    rebuilder = _runner(store, 1000)
    try:
        await rebuilder.rebuild()
    finally:
        await rebuilder.close()
    assert await _stored(store) == expected
