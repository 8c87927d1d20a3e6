"""The projection runner on both backends: exactly once, checkpoints with rows, the worker
lock, retractions, and the law that a rebuild equals incremental catch-up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

import projections.runner as runner_module
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.types import request_stream
from projections import history as history_rows
from projections.intervals.tables import hold_intervals
from projections.read_models import PROJECTIONS, TABLES, requests
from projections.read_models import request_state as request_state_module
from projections.read_models.request_state import PUBLIC_COLUMNS, public_of
from projections.request import fold, public_view, view
from projections.runner import ProjectionRunner, state_record
from projections.tables import (
    held_by_is,
    holds,
    projection_checkpoints,
    request_state,
    status_at,
    status_is,
)

T0 = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)
MEMBERS = ("CHN", "FRA", "GBR", "RUS", "USA", "DZA", "GUY")
ACTOR = {"id": "tok-sec", "name": "desk", "role": "secretariat"}


def submission(request_id: str, disclosure: str = "confidential") -> dict[str, Any]:
    return {
        "request_id": request_id,
        "applicant": {"name": f"Relief {request_id[-2:]}", "kind": "ngo"},
        "channel": "direct",
        "title": "Water pumps",
        "purpose": "clean water",
        "beneficiaries": "villages",
        "items": [{"description": "pump", "quantity": 4, "unit": "pcs", "value_usd": 1200}],
        "urgent": False,
        "requested_validity_months": 6,
        "disclosure": disclosure,
    }


@dataclass
class _Request:
    request_id: str
    circulated: bool = False
    decided: bool = False
    holds: set[str] = field(default_factory=set)
    info_open: bool = False
    shipments: int = 0
    positions: list[int] = field(default_factory=list)


class History:
    """Writes valid request histories straight into the store (no rules, no API)."""

    def __init__(self, store: EventStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.requests: list[_Request] = []
        self.clock = T0
        self.retracted: set[int] = set()

    async def append(self, request: _Request, event_type: str, data: dict[str, Any]) -> None:
        self.clock += timedelta(hours=7)
        stream = f"request-{request.request_id}"
        new = NewEvent(stream, event_type, data, self.clock, metadata={"actor": ACTOR})
        (recorded,) = await self.store.append(StreamAppend(stream, "any", [new]))
        request.positions.append(recorded.position)

    async def step(self, action: int, which: int, member_index: int) -> None:
        """One move of a random history; moves that break a rule are skipped."""
        if action == 0 or not self.requests:
            request = _Request(f"{self.prefix}-{len(self.requests):03d}")
            self.requests.append(request)
            disclosure = "public" if which % 2 else "confidential"
            await self.append(
                request, "RequestSubmitted", submission(request.request_id, disclosure)
            )
            return
        request = self.requests[which % len(self.requests)]
        member = MEMBERS[member_index % len(MEMBERS)]
        deadline = (self.clock + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        initial = {"procedure": "initial"}
        if not request.circulated:
            request.circulated = True
            data = {**initial, "deadline": deadline, "expedited": False}
            await self.append(request, "RequestCirculated", data)
        elif request.decided:
            if action in (1, 2, 3) and request.shipments < 3:
                request.shipments += 1
                data = {
                    "shipment_no": request.shipments,
                    "shipped_on": self.clock.date().isoformat(),
                }
                await self.append(request, "ShipmentRecorded", data)
            else:
                await self._annotate_or_retract(request, action)
        elif action in (1, 2):
            if member in request.holds:
                request.holds.discard(member)
                kind = "HoldReleased" if action == 1 else "HoldLapsed"
                data = {**initial, "member": member}
                if kind == "HoldLapsed":
                    data["cause"] = "member_departed"
                await self.append(request, kind, data)
            else:
                request.holds.add(member)
                await self.append(request, "HoldPlaced", {**initial, "member": member})
        elif action == 3:
            if request.info_open:
                request.info_open = False
                await self.append(request, "InformationProvided", {**initial, "response": "a"})
            else:
                request.info_open = True
                data = {**initial, "requested_by": member, "questions": "q"}
                await self.append(request, "InformationRequested", data)
        elif action == 4 and not request.holds and not request.info_open:
            request.decided = True
            start = self.clock.date()
            data = {
                **initial,
                "valid_from": start.isoformat(),
                "valid_until": (start + timedelta(days=182)).isoformat(),
                "letter_ref": f"L-{request.request_id}",
                "shipments_allowed": 3,
            }
            await self.append(request, "ExemptionApproved", data)
        elif action == 5:
            request.decided = True
            kind = "ExemptionRefused" if which % 2 else "RequestWithdrawn"
            await self.append(request, kind, {**initial, "reason": "r"})
        else:
            await self._annotate_or_retract(request, action)

    async def _annotate_or_retract(self, request: _Request, action: int) -> None:
        # Retract only holds and their releases (the rules' typical corrections), and
        # keep the simulated model in step by re-deriving its holds.
        targets = [p for p in request.positions[1:] if p not in self.retracted]
        if action % 2 and targets:
            target = targets[-1]
            self.retracted.add(target)
            data = {"target_position": target, "reason": "recorded in error"}
            await self.append(request, "EventRetracted", data)
            await self._resync(request)
        elif targets:
            await self.append(
                request, "EntryAnnotated", {"target_position": targets[0], "text": "t"}
            )

    async def _resync(self, request: _Request) -> None:
        from projections.request import fold

        state = fold(await self.store.read_stream(f"request-{request.request_id}"))
        assert state is not None
        initial = state.procedures[0]
        request.circulated = initial.circulated_at is not None
        request.decided = initial.outcome is not None
        request.holds = {hold.member for hold in state.active_holds}
        request.info_open = state.information_pending
        request.shipments = len(state.shipments)


async def snapshot(store: EventStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table, in key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with store.engine.connect() as conn:
        for name, table in {**TABLES, "holds": holds}.items():  # `holds`: a view of them
            key = table.primary_key.columns.values()
            rows = (await conn.execute(select(table).order_by(*key))).all()
            tables[name] = [tuple(row) for row in rows]
        result = await conn.execute(
            select(projection_checkpoints.c.name, projection_checkpoints.c.position).order_by(
                projection_checkpoints.c.name
            )
        )
        tables["checkpoints"] = [tuple(row) for row in result]
    return tables


async def index_definitions(store: EventStore) -> dict[str, str]:
    """Every index and constraint of the projection tables (and what is left of a
    rebuild's schema or TEMP tables), by name: as the database defines them."""
    result: Any
    async with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            result = await conn.exec_driver_sql(
                "SELECT schemaname || '.' || indexname, indexdef FROM pg_indexes"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                " UNION ALL SELECT 'schema ' || nspname, '' FROM pg_namespace"
                " WHERE nspname = 'docket_rebuild'"
            )
        else:
            result = await conn.exec_driver_sql(
                # (not SQLite's own tables: `docket rebuild` ends with ANALYZE, which makes
                # sqlite_stat1)
                "SELECT 'main.' || name, coalesce(sql, '') FROM main.sqlite_master"
                " WHERE type IN ('index', 'table') AND name NOT LIKE 'sqlite_%'"
                " UNION ALL SELECT 'temp.' || name, sql FROM temp.sqlite_master"
            )
        return {str(row[0]): str(row[1]) for row in result}


async def count(store: EventStore, table: Any) -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def runner(store: EventStore) -> AsyncIterator[ProjectionRunner]:
    made = ProjectionRunner(store.engine, store, batch_size=5)
    try:
        yield made
    finally:
        await made.close()


async def scenario(store: EventStore, prefix: str = "HX-2025") -> History:
    """Two requests: one approved after a released hold, one held by two members."""
    history = History(store, prefix)
    for action, which, member in [
        (0, 0, 0),  # submit A
        (0, 1, 0),  # submit B (public)
        (1, 0, 0),  # circulate A
        (1, 1, 0),  # circulate B
        (1, 0, 4),  # USA holds A
        (1, 1, 3),  # RUS holds B
        (2, 1, 0),  # CHN holds B
        (1, 0, 4),  # USA releases A
        (4, 0, 0),  # A approved
        (1, 0, 0),  # shipment 1 of A
    ]:
        await history.step(action, which, member)
    return history


class TestCatchUp:
    async def test_applies_each_event_exactly_once(
        self, store: EventStore, runner: ProjectionRunner
    ) -> None:
        await scenario(store)
        head, _ = await store.head()
        assert await runner.lag() == head
        assert await runner.catch_up() == head
        assert await runner.lag() == 0
        first = await snapshot(store)
        assert len(first["request_state"]) == 2 and len(first["holds"]) == 3
        assert await runner.catch_up() == head
        assert await snapshot(store) == first
        assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, head)

    async def test_rows(self, store: EventStore, runner: ProjectionRunner) -> None:
        await scenario(store)
        await runner.catch_up()
        async with store.engine.connect() as conn:
            rows = {r.request_id: r for r in (await conn.execute(select(request_state))).all()}
            hold_list = (await conn.execute(select(holds).order_by(holds.c.position))).all()
            held = (
                await conn.execute(select(request_state.c.request_id).where(held_by_is("RUS")))
            ).all()
            on_hold = (
                await conn.execute(
                    select(request_state.c.request_id).where(
                        status_is("on_hold", T0 + timedelta(days=9))
                    )
                )
            ).all()
        a, b = rows["HX-2025-000"], rows["HX-2025-001"]
        later = T0 + timedelta(days=9)
        assert status_at(a, later) == "active" and a.status_hint == "active"
        assert status_at(b, later) == "on_hold" and b.held_by == ",CHN,RUS,"
        assert b.active_holds == 2 and a.active_holds == 0
        assert (
            a.valid_from == date(2025, 6, 4) and a.public_document["letter_ref"] == "L-HX-2025-000"
        )
        assert [h.request_id for h in held] == ["HX-2025-001"]
        assert [h.request_id for h in on_hold] == ["HX-2025-001"]
        assert [(h.member, h.end_kind) for h in hold_list] == [
            ("USA", "released"),
            ("RUS", None),
            ("CHN", None),
        ]
        assert hold_list[0].ended_at - hold_list[0].placed_at == timedelta(hours=21)
        # SPEC §5's duration: an ended hold's, in microseconds; none while active
        assert [h.duration for h in hold_list] == [21 * 3600 * 1_000_000, None, None]
        # the audit trail is read from the log (nothing stores it)
        summaries = [entry.summary for entry in history_rows.entries(await store.read_all(0, 100))]
        assert summaries[4] == "Hold placed by USA on the initial procedure"

    async def test_until_stops_at_a_position(
        self, store: EventStore, runner: ProjectionRunner
    ) -> None:
        await scenario(store)
        assert await runner.catch_up(until=4) == 4
        assert await count(store, request_state) == 2 and await count(store, holds) == 0
        assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, 4)
        assert await runner.lag() == 6

    async def test_checkpoint_is_written_with_the_rows(
        self, store: EventStore, runner: ProjectionRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await scenario(store)

        def broken(*_args: Any) -> Any:
            raise RuntimeError("crash in the middle of a batch")

        monkeypatch.setattr(request_state_module, "state_record", broken)
        with pytest.raises(RuntimeError):
            await runner.catch_up()
        # the hold rows of the failed batch (flushed before the states) were written in
        # its transaction: gone too
        assert await count(store, holds) == 0
        assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, 0)
        monkeypatch.undo()
        head = await runner.catch_up()
        assert await count(store, holds) == 3
        assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, head)

    async def test_two_runners_apply_each_event_once(self, store: EventStore) -> None:
        await scenario(store)
        one = ProjectionRunner(store.engine, store, batch_size=3)
        two = ProjectionRunner(store.engine, store, batch_size=2)
        try:
            await asyncio.gather(one.catch_up(), two.catch_up())
            await one.catch_up()
            head, _ = await store.head()
            assert await one.checkpoints() == dict.fromkeys(PROJECTIONS, head)
            assert await count(store, holds) == 3
            reference = await snapshot(store)
            # whichever connected first holds the PostgreSQL lock: it rebuilds
            await (one if one.is_active else two).rebuild()
            assert await snapshot(store) == reference
        finally:
            await one.close()
            await two.close()

    async def test_new_runner_continues_from_the_checkpoint(self, store: EventStore) -> None:
        history = await scenario(store)
        first = ProjectionRunner(store.engine, store, batch_size=4)
        await first.catch_up()
        await first.close()
        for action, which, member in [(1, 1, 3), (2, 1, 0), (4, 1, 0), (0, 0, 0)]:
            await history.step(action, which, member)
        second = ProjectionRunner(store.engine, store, batch_size=4)
        try:
            await second.catch_up()
            incremental = await snapshot(store)
            await second.rebuild()
            assert await snapshot(store) == incremental
        finally:
            await second.close()


class TestRetraction:
    async def test_a_retracted_hold_disappears(
        self, store: EventStore, runner: ProjectionRunner
    ) -> None:
        history = await scenario(store)
        await runner.catch_up()
        b = history.requests[1]
        rus_hold = b.positions[2]
        await history.append(
            b, "EventRetracted", {"target_position": rus_hold, "reason": "wrong member"}
        )
        await history.append(b, "HoldPlaced", {"procedure": "initial", "member": "GBR"})
        await runner.catch_up()
        async with store.engine.connect() as conn:
            members = (
                (
                    await conn.execute(
                        select(holds.c.member)
                        .where(holds.c.request_id == b.request_id)
                        .order_by(holds.c.position)
                    )
                )
                .scalars()
                .all()
            )
            row = (
                await conn.execute(
                    select(request_state).where(request_state.c.request_id == b.request_id)
                )
            ).one()
        assert members == ["CHN", "GBR"]
        assert row.held_by == ",CHN,GBR,"
        trail = history_rows.entries(await store.read_stream(request_stream(b.request_id)))
        retracted_by = {entry.position: entry.retracted_by for entry in trail}
        assert retracted_by[rus_hold] == b.positions[-2]
        incremental = await snapshot(store)
        await runner.rebuild()
        assert await snapshot(store) == incremental


class TestRebuild:
    async def test_rebuild_of_one_projection_leaves_the_others(
        self, store: EventStore, runner: ProjectionRunner
    ) -> None:
        await scenario(store)
        await runner.catch_up()
        reference = await snapshot(store)
        async with runner._writer.begin() as conn:
            await conn.execute(hold_intervals.delete())
            await conn.execute(update(request_state).values(applicant_name="tampered"))
        seen: list[tuple[int, int]] = []
        head = await runner.rebuild(
            ["request_intervals"], progress=lambda done, total: seen.append((done, total))
        )
        after = await snapshot(store)
        for table in ("hold_intervals", "request_status_intervals", "holds"):
            assert after[table] == reference[table]
        name = [column.name for column in request_state.columns].index("applicant_name")
        assert {row[name] for row in after["request_state"]} == {"tampered"}
        assert after["checkpoints"] == reference["checkpoints"]
        assert seen[0] == (0, head) and seen[-1] == (head, head)

    async def test_a_failed_rebuild_leaves_the_projections_as_they_were(
        self, store: EventStore, runner: ProjectionRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await scenario(store)
        head = await runner.catch_up()
        reference = await snapshot(store)
        indexes = await index_definitions(store)
        calls = 0
        record = request_state_module.state_record

        def fails_at_the_second_row(state: Any) -> Any:
            # a rebuild writes each request's row once, here all at its end: the
            # second row's record fails, after the batches are written
            nonlocal calls
            calls += 1
            if calls > 1:
                raise RuntimeError("crash in the middle of a rebuild")
            return record(state)

        monkeypatch.setattr(request_state_module, "state_record", fails_at_the_second_row)
        with pytest.raises(RuntimeError):
            await runner.rebuild()
        assert calls > 1
        assert await snapshot(store) == reference
        assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, head)
        assert await index_definitions(store) == indexes
        monkeypatch.undo()
        assert await runner.rebuild() == head  # nothing of the failed one left in the way
        assert await snapshot(store) == reference

    async def test_the_rebuilt_tables_have_the_migrations_indexes(
        self, store: EventStore, runner: ProjectionRunner
    ) -> None:
        await scenario(store)
        before = await index_definitions(store)
        named = {name.split(".", 1)[1] for name in before}
        assert {"ix_request_state_status_hint", "ix_hold_intervals_active"} <= named
        await runner.rebuild()
        assert await index_definitions(store) == before
        await runner.rebuild(["request_intervals"])  # with the view of its holds
        assert await index_definitions(store) == before
        assert await count(store, holds) == 3

    async def test_unknown_projection(self, runner: ProjectionRunner) -> None:
        with pytest.raises(ValueError, match="nope"):
            await runner.rebuild(["nope"])


class TestWorker:
    async def test_run_forever_wakes_on_notify(self, store: EventStore) -> None:
        worker = ProjectionRunner(store.engine, store)
        task = asyncio.create_task(worker.run_forever(poll_interval=30))
        try:
            history = await scenario(store)
            worker.notify()
            for _ in range(200):
                if await worker.lag() == 0:
                    break
                await asyncio.sleep(0.02)
            assert await worker.lag() == 0
            await history.step(0, 0, 0)
            worker.notify()
            for _ in range(200):
                if await worker.lag() == 0:
                    break
                await asyncio.sleep(0.02)
            assert await worker.lag() == 0
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    async def test_one_active_worker_on_postgres(self, store: EventStore) -> None:
        if store.engine.dialect.name != "postgresql":
            pytest.skip("the worker lock is PostgreSQL's")
        await scenario(store)
        one = ProjectionRunner(store.engine, store)
        two = ProjectionRunner(store.engine, store)
        try:
            assert await one.acquire()
            assert not await two.acquire()
            assert await two.catch_up() == 0  # stands by
            assert await count(store, request_state) == 0
            await one.close()
            head = await two.catch_up()
            assert head > 0 and await count(store, request_state) == 2
            with pytest.raises(runner_module.ProjectionLockBusy):
                await one.rebuild(lock_wait_seconds=0.2)
        finally:
            await one.close()
            await two.close()


moves = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 50), st.integers(0, 20)), min_size=1, max_size=60
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves, cuts=st.lists(st.integers(1, 60), max_size=4), batch=st.integers(1, 9))
async def test_rebuild_equals_incremental_catch_up(
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
    moves: list[tuple[int, int, int]],
    cuts: list[int],
    batch: int,
) -> None:
    # The store (and its database) lives across examples: each example adds requests
    # of its own to a growing log, which only makes the law harder to keep.
    history = History(store, f"P{uuid.uuid4().hex[:8].upper()}")
    incremental = ProjectionRunner(store.engine, store, batch_size=batch)
    try:
        for index, move in enumerate(moves):
            await history.step(*move)
            if index + 1 in cuts:
                await incremental.catch_up()
                if (index + 1) % 2 == 0:  # a fresh runner: empty caches
                    await incremental.close()
                    incremental = ProjectionRunner(store.engine, store, batch_size=batch)
        await incremental.catch_up()
        caught_up = await snapshot(store)
    finally:
        await incremental.close()
    # one page (the store's reads), then small pages (on PostgreSQL the bulk reader),
    # then small pages keeping one request's state: the states a rebuild holds back are
    # written as others come, and replaced when their request comes again
    kept = requests.CACHED_REQUESTS
    for size, cached in ((1000, kept), (batch, kept), (batch, 1)):
        with monkeypatch.context() as patch:
            patch.setattr(requests, "CACHED_REQUESTS", cached)
            rebuilder = ProjectionRunner(store.engine, store, batch_size=size)
            try:
                await rebuilder.rebuild()
                assert await snapshot(store) == caught_up
            finally:
                await rebuilder.close()


async def test_records_are_the_rows_in_column_order(store: EventStore) -> None:
    """The tuples a bulk write sends are the dict rows, column by column (JSON as text)."""
    await scenario(store)
    page = await store.read_all(0, 1000, upcast=True)
    by_request: dict[str, list[Any]] = {}
    for event in page:
        request_id = history_rows.request_id_of(event.stream_id)
        if request_id is not None:
            by_request.setdefault(request_id, []).append(event)
    assert by_request
    for stream in by_request.values():
        state = fold(stream)
        assert state is not None
        names = [column.name for column in request_state.columns]
        record = dict(zip(names, state_record(state), strict=True))
        # the very text of the public view less its columns (its times formatted at
        # once: `native_time`), and the columns with it the public view
        public = public_view(state, state.last_occurred_at)
        kept = None if public is None else {k: public[k] for k in public if k not in PUBLIC_COLUMNS}
        assert record["public_document"] == (None if kept is None else orjson.dumps(kept).decode())
        columns = {key: record[column] for key, column in PUBLIC_COLUMNS.items()}
        assert public_of(record) == (None if kept is None else kept | columns)
        assert (record["request_id"], record["stream_id"], record["position"]) == (
            state.request_id,
            f"request-{state.request_id}",
            state.position,
        )
        assert record["status_hint"] == view(state, state.last_occurred_at)["status"]
        assert record["active_holds"] == len(state.active_holds)
