"""The bitemporal projection on both backends: rows written by `RequestIntervals.apply`
and `flush` in batches (heads evicted, so streams are replayed), then every collection
read as of a moment equals a fold of the log to that moment — at a position, and at the
head, where the statistics walk the partial indexes of 0009 instead."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, inspect

from events.model import RecordedEvent
from events.store.backends import open_backend
from projections import holds as hold_rows
from projections.history import EventRow
from projections.intervals import queries as q
from projections.intervals.steps import summary
from projections.intervals.tables import TABLES
from projections.projection import Batch
from projections.public import public_statistics
from projections.read_models.request_intervals import RequestIntervals
from projections.request import RequestState, fold, status, view
from projections.stats import RequestFacts, hold_stats, processing_stats
from service.platform.db import create_engine
from tests.projections import histories

NEW_YORK = ZoneInfo("America/New_York")


def _log(seed: int, size: int = 160, retracting: bool = False) -> list[RecordedEvent]:
    """A random log; `retracting`: one that retracts holds, releases, approvals and
    shipments often, long after they occurred."""
    rng = random.Random(seed)
    kinds = list(range(len(histories.KINDS)))
    if retracting:
        kinds = [histories.KINDS.index(k) for k in (*histories.RETRACTING, "retract", "retract")]
    draws = [
        (
            rng.randrange(4),
            rng.choice(kinds),
            rng.choice([0, 60, 3_600, 86_400, 5 * 86_400, 40 * 86_400]),
            rng.randrange(1_000),
        )
        for _ in range(size)
    ]
    return histories.build(draws, [rng.randrange(300) for _ in range(4)])


def _streams(log: list[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in log:
        streams[event.stream_id].append(event)
    return streams


def _folded(
    log: list[RecordedEvent], moment: q.Moment
) -> list[tuple[RequestState, hold_rows.Holds]]:
    at, position = moment.as_of, moment.at_position
    out = []
    for events in _streams(log).values():
        # SPEC §5: the events up to the position, less the targets of the retractions
        # among them (at every business time), those that occurred by `at`
        upto = [e for e in events if position is None or e.position <= position]
        taken_back = {e.data["target_position"] for e in upto if e.event_type == "EventRetracted"}
        chosen = [e for e in upto if e.position not in taken_back and e.occurred_at <= at]
        state = fold(chosen)
        if state is not None:
            out.append((state, hold_rows.fold(chosen)))
    return sorted(out, key=lambda pair: pair[0].request_id)


def _expected_requests(
    folded: list[tuple[RequestState, hold_rows.Holds]], at: datetime, **filters: Any
) -> list[dict[str, Any]]:
    items = []
    for state, _ in folded:
        shown = status(state, at, NEW_YORK)
        members = {h.member for h in state.active_holds}
        if filters.get("status") not in (None, shown):
            continue
        if filters.get("held_by") not in (None, *members):
            continue
        if filters.get("applicant") not in (None, state.applicant["name"]):
            continue
        if (start := filters.get("submitted_after")) and not state.submitted_at > start:
            continue
        items.append({**summary(state), "status": shown})
    return items


class _Log:
    """The log in memory, read as the runner's `Batch.log`."""

    def __init__(self, log: list[RecordedEvent]) -> None:
        self.streams = _streams(log)

    async def envelopes(self, positions: Iterable[int]) -> list[tuple[int, str, str]]:
        wanted = set(positions)
        found = [e for events in self.streams.values() for e in events if e.position in wanted]
        return sorted((e.position, e.stream_id, e.event_type) for e in found)

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None
    ) -> list[RecordedEvent]:
        events = self.streams[stream_id]
        return [e for e in events if to_position is None or e.position <= to_position]

    async def read_streams(
        self, from_versions: Mapping[str, int], *, upcast: bool = True
    ) -> dict[str, list[RecordedEvent]]:
        return {
            stream_id: [e for e in self.streams[stream_id] if e.stream_version >= version]
            for stream_id, version in from_versions.items()
        }


async def _write(url: str, log: list[RecordedEvent], rng: random.Random) -> None:
    backend = open_backend(url)
    engine = backend.engine
    projection = RequestIntervals(head_cache_size=2)
    reader = _Log(log)
    try:
        async with engine.begin() as conn:
            for table in TABLES:
                await conn.execute(delete(table))
        start = 0
        while start < len(log):
            end = start + rng.randint(1, 25)
            page: Sequence[EventRow] = log[start:end]
            batch = Batch(start, page[-1].position, reader, NEW_YORK)
            writes = await projection.apply(batch, page)
            async with engine.begin() as conn:
                await writes.flush(conn, backend)
            start = end
    finally:
        await backend.close()


async def _all_pages(
    conn: Any, log: _Log, moment: q.Moment, **filters: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = await q.requests_as_of(conn, log, moment, after=after, limit=2, **filters)
        items += page.items
        if page.next_after is None:
            return items
        after = page.next_after


async def test_collection_reads_equal_a_fold_of_the_log(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a page walks 5 rows in request id order, and searches the rest by span class
    monkeypatch.setattr(q, "WALK", 5)
    rng = random.Random(16)
    for seed in (1, 2, 3, 4):
        log = _log(seed, retracting=seed == 4)
        await _write(database_url, log, rng)
        probes = rng.sample(histories.moments(log), 40)
        probes += [(e.occurred_at, None) for e in rng.sample(log, 5)]  # type: ignore[misc]
        # at the head the statistics take another path (0009's partial indexes): every
        # kind of boundary there too
        times = sorted({at for at, _ in histories.moments(log)})
        probes += [(at, None) for at in rng.sample(times, 25)]  # type: ignore[misc]
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                for at, position in probes:
                    moment = q.Moment(at, position)
                    folded = _folded(log, moment)
                    every = await _all_pages(conn, _Log(log), moment)
                    assert every == _expected_requests(folded, at), (seed, at, position)
                    for filters in (
                        {"status": "on_hold"},
                        {"status": "awaiting_decision"},
                        {"held_by": "USA"},
                        {"applicant": "Relief 1"},
                        {"submitted_after": histories.T0 + timedelta(days=150)},
                    ):
                        assert await _all_pages(
                            conn, _Log(log), moment, **filters
                        ) == _expected_requests(folded, at, **filters), (
                            seed,
                            at,
                            position,
                            filters,
                        )
                    every_hold = [h for _, holds in folded for h in holds]
                    assert await q.member_holds_as_of(conn, "USA", moment) == sorted(
                        (h for h in every_hold if h.member == "USA"), key=lambda h: h.position
                    )
                    assert await q.hold_stats_as_of(conn, moment) == {
                        "members": hold_stats(every_hold, at)
                    }
                    facts = [
                        RequestFacts(
                            request_id=state.request_id,
                            submitted_at=state.submitted_at,
                            status=status(state, at, NEW_YORK),
                            decided_at=state.decided_at
                            if state.procedures[0].outcome in ("approved", "refused")
                            else None,
                            outcome=state.procedures[0].outcome
                            if state.procedures[0].outcome in ("approved", "refused")
                            else None,
                        )
                        for state, _ in folded
                    ]
                    assert await q.processing_stats_as_of(conn, moment) == {
                        "years": processing_stats(facts)
                    }
                    views = [view(state, at, NEW_YORK) for state, _ in folded]
                    assert await q.public_stats_as_of(conn, moment) == public_statistics(views, at)
        finally:
            await engine.dispose()


def test_hold_items_count_up_to_the_moment() -> None:
    placed = histories.T0
    hold = hold_rows.Hold(1, "HX-2025-0001", "initial", "USA", placed)
    [item] = q.hold_items([hold], placed + timedelta(days=3, hours=12))
    assert item["active"] is True
    assert item["duration_days"] == 3.5
    assert q.Moment(placed, 7).stamp() == {"as_of": "2025-01-06T14:00:00.000000Z", "at_position": 7}


async def test_the_migration_creates_the_tables_as_defined(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def shape(sync_conn: Any) -> dict[str, Any]:
                inspector = inspect(sync_conn)
                return {
                    table.name: (
                        [c["name"] for c in inspector.get_columns(table.name)],
                        inspector.get_pk_constraint(table.name)["constrained_columns"],
                        sorted(i["name"] for i in inspector.get_indexes(table.name)),
                    )
                    for table in TABLES
                }

            found = await conn.run_sync(shape)
    finally:
        await engine.dispose()
    assert found == {
        table.name: (
            [c.name for c in table.columns],
            [c.name for c in table.primary_key.columns],
            sorted(str(i.name) for i in table.indexes),
        )
        for table in TABLES
    }
