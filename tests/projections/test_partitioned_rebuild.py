"""A rebuild in worker processes (`projections.runner.partitioned`, PostgreSQL): the same
rows as a rebuild in one process and as incremental catch-up, and nothing left of one
that failed or was killed. On SQLite a rebuild asked for processes runs in one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text, update

from events.store import EventStore
from projections.intervals.tables import hold_intervals
from projections.read_models import PROJECTIONS
from projections.runner import ProjectionRunner, RebuildWorkerFailed
from projections.runner.rebuild_worker import FAIL_PARTITION_ENV
from projections.tables import request_state
from tests.projections.test_runner import History, index_definitions, moves, scenario, snapshot


def rebuild_workers_running() -> list[str]:
    """This process's children that are rebuild workers (`python -m projections.runner`)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
            if b"projections.runner" in command:
                found.append(stat.parent.name)
    return found


def postgres_only(store: EventStore) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a rebuild in worker processes is PostgreSQL's")


async def many_requests(store: EventStore, count: int = 12) -> History:
    """`count` requests with holds, releases and decisions: every partition has some."""
    history = History(store, f"R{uuid.uuid4().hex[:6].upper()}")
    for request in range(count):
        await history.step(0, request, 0)
    for round_ in range(4):
        for request in range(count):
            await history.step(1 + (round_ + request) % 5, request, request + round_)
    return history


async def rebuilt(store: EventStore, processes: int, batch_size: int = 7) -> int:
    runner = ProjectionRunner(store.engine, store, batch_size=batch_size)
    try:
        head = await runner.rebuild(processes=processes)
        in_processes = processes > 1 and store.engine.dialect.name == "postgresql"
        assert len(runner.rebuild_workers) == (processes if in_processes else 0)
        assert sum(worker.events for worker in runner.rebuild_workers) <= head
        return head
    finally:
        await runner.close()


async def caught_up_once(store: EventStore, batch_size: int = 5) -> int:
    """The projections caught up incrementally (in small pages) by a runner of their own."""
    runner = ProjectionRunner(store.engine, store, batch_size=batch_size)
    try:
        return await runner.catch_up()
    finally:
        await runner.close()


class TestPartitionedRebuild:
    async def test_same_rows_as_in_one_process_and_incremental(self, store: EventStore) -> None:
        postgres_only(store)
        await many_requests(store)
        head = await caught_up_once(store)
        caught_up = await snapshot(store)
        indexes = await index_definitions(store)
        for processes in (2, 3, 1):
            assert await rebuilt(store, processes) == head
            assert await snapshot(store) == caught_up
            assert await index_definitions(store) == indexes

    async def test_a_rebuild_keeps_the_storage_parameters(self, store: EventStore) -> None:
        # an operator's settings of a table (`ALTER TABLE … SET (…)`) survive its copy
        postgres_only(store)
        await many_requests(store)
        said = ["fillfactor=90", "autovacuum_enabled=false"]
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(f"ALTER TABLE request_state SET ({', '.join(said)})")
        for processes in (2, 1):
            await rebuilt(store, processes)
            async with store.engine.connect() as conn:
                options = await conn.scalar(
                    text("SELECT reloptions FROM pg_class WHERE oid = 'request_state'::regclass")
                )
            assert options == said

    async def test_a_rebuild_makes_the_views_of_its_tables_again(self, store: EventStore) -> None:
        # an operator's views of the rebuilt tables: a view of the `holds` view (itself a
        # view of `hold_intervals`) in a schema of its own, a materialized view with an
        # index, view options, comments and grants; before, DROP VIEW "holds" failed
        # ("other objects depend on it") and no rebuild of `request_intervals` could run
        postgres_only(store)
        await many_requests(store)
        await caught_up_once(store)
        role = f"docket_test_{uuid.uuid4().hex[:12]}"
        try:
            await self._views_made_again(store, role)
        finally:
            async with store.engine.begin() as conn:
                made = await conn.scalar(text(f"SELECT to_regrole('{role}') IS NOT NULL"))
                if made:  # what it owns and may do goes first
                    await conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
                    await conn.exec_driver_sql(f"DROP OWNED BY {role}")
                    await conn.exec_driver_sql(f"DROP ROLE {role}")

    async def _views_made_again(self, store: EventStore, role: str) -> None:
        made = [
            "CREATE SCHEMA ops",
            "CREATE VIEW ops.by_member AS SELECT member, count(*) AS held FROM holds"
            " GROUP BY member",
            "CREATE VIEW ops.busiest AS SELECT * FROM ops.by_member WHERE held > 1",
            "CREATE MATERIALIZED VIEW ops.ended AS SELECT request_id, count(*) AS held"
            " FROM hold_intervals GROUP BY request_id",
            "CREATE UNIQUE INDEX ops_ended_request ON ops.ended (request_id)",
            "CREATE MATERIALIZED VIEW ops.later AS SELECT member FROM holds WITH NO DATA",
            "CREATE VIEW urgent WITH (security_barrier = true) AS SELECT request_id"
            " FROM request_state WHERE NOT urgent",
            "COMMENT ON VIEW ops.busiest IS 'members who held twice, or more: it''s ours'",
            "GRANT SELECT ON ops.busiest, ops.ended, urgent TO PUBLIC",
            # a role of the test's own (roles are the cluster's: dropped at the end)
            f"CREATE ROLE {role} NOLOGIN",
            f"GRANT SELECT ON ops.ended TO {role} WITH GRANT OPTION",
            f"GRANT USAGE ON SCHEMA ops TO {role}",
            f"GRANT SELECT ON holds TO {role}",  # what its view reads
            f"GRANT SELECT ON hold_intervals TO {role}",  # a rebuilt table's grant
            f"ALTER VIEW ops.by_member OWNER TO {role}",
        ]
        async with store.engine.begin() as conn:
            for statement in made:
                await conn.exec_driver_sql(statement)

        async def described() -> tuple[list[Any], dict[str, list[Any]], str]:
            async with store.engine.connect() as conn:
                views = await conn.execute(
                    text(
                        "SELECT n.nspname, c.relname, c.relkind, c.relispopulated,"
                        " pg_get_viewdef(c.oid), c.reloptions, c.relacl::text[],"
                        " pg_get_userbyid(c.relowner),"
                        " obj_description(c.oid, 'pg_class')"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE (c.relkind IN ('v', 'm') OR c.relname = 'hold_intervals')"
                        " AND n.nspname IN ('ops', 'public')"
                        " ORDER BY 1, 2"
                    )
                )
                rows = {
                    name: (await conn.execute(text(f"SELECT * FROM {name} ORDER BY 1"))).all()
                    for name in ("ops.busiest", "ops.ended", "urgent")
                }
                index = await conn.scalar(
                    text("SELECT pg_get_indexdef('ops.ops_ended_request'::regclass)")
                )
            return list(views.all()), {k: list(v) for k, v in rows.items()}, str(index)

        before = await described()
        assert len(before[0]) == 7 and all(before[1].values())
        for processes in (2, 1):
            async with store.engine.begin() as conn:  # the rebuild shows new rows
                await conn.execute(hold_intervals.delete())
            await rebuilt(store, processes)
            assert await described() == before

    async def test_one_projection_in_processes_leaves_the_others(self, store: EventStore) -> None:
        postgres_only(store)
        await many_requests(store)
        runner = ProjectionRunner(store.engine, store, batch_size=5)
        try:
            await runner.catch_up()
            reference = await snapshot(store)
            async with store.engine.begin() as conn:
                await conn.execute(hold_intervals.delete())
                await conn.execute(update(request_state).values(applicant_name="tampered"))
            await runner.rebuild(["request_intervals"], processes=2)
            assert len(runner.rebuild_workers) == 2
        finally:
            await runner.close()
        after = await snapshot(store)
        for table in ("hold_intervals", "request_status_intervals", "holds"):  # and its view
            assert after[table] == reference[table]
        name = [column.name for column in request_state.columns].index("applicant_name")
        assert {row[name] for row in after["request_state"]} == {"tampered"}
        assert after["checkpoints"] == reference["checkpoints"]

    async def test_progress_reaches_the_head(self, store: EventStore) -> None:
        postgres_only(store)
        await scenario(store)
        runner = ProjectionRunner(store.engine, store, rebuild_processes=2)
        seen: list[tuple[int, int]] = []
        try:
            head = await runner.rebuild(progress=lambda done, total: seen.append((done, total)))
        finally:
            await runner.close()
        assert seen[0] == (0, head) and seen[-1] == (head, head)
        assert all(done <= total == head for done, total in seen)
        assert len(runner.rebuild_workers) == 2

    @pytest.mark.parametrize(
        ("fault", "error"),
        [
            ("1", "worker 1 failed .*fails as told"),
            ("0:killed", "worker 0 failed .*without a report"),
        ],
    )
    async def test_a_failed_worker_leaves_the_projections_as_they_were(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch, fault: str, error: str
    ) -> None:
        postgres_only(store)
        await many_requests(store)
        runner = ProjectionRunner(store.engine, store, batch_size=5)
        try:
            head = await runner.catch_up()
            reference = await snapshot(store)
            indexes = await index_definitions(store)
            monkeypatch.setenv(FAIL_PARTITION_ENV, fault)
            with pytest.raises(RebuildWorkerFailed, match=error):
                await runner.rebuild(processes=2)
            assert await snapshot(store) == reference
            assert await runner.checkpoints() == dict.fromkeys(PROJECTIONS, head)
            assert await index_definitions(store) == indexes  # no staging schema either
            monkeypatch.delenv(FAIL_PARTITION_ENV)
            assert await runner.rebuild(processes=2) == head
            assert await snapshot(store) == reference
        finally:
            await runner.close()

    async def test_a_cancelled_rebuild_stops_its_workers_and_leaves_nothing(
        self, store: EventStore
    ) -> None:
        postgres_only(store)
        await many_requests(store)
        runner = ProjectionRunner(store.engine, store, batch_size=5)
        try:
            await runner.catch_up()
            reference = await snapshot(store)
            indexes = await index_definitions(store)
            started = asyncio.Event()
            rebuilding = asyncio.create_task(
                runner.rebuild(processes=2, progress=lambda done, total: started.set())
            )
            await started.wait()
            await asyncio.sleep(0.3)  # the workers are starting or folding
            rebuilding.cancel()
            with pytest.raises(asyncio.CancelledError):
                await rebuilding
            assert not rebuild_workers_running()
            assert await snapshot(store) == reference
            assert await index_definitions(store) == indexes
        finally:
            await runner.close()

    @pytest.mark.parametrize("processes", [2, 1])
    async def test_a_killed_rebuilds_staging_is_dropped_by_the_next(
        self, store: EventStore, processes: int
    ) -> None:
        postgres_only(store)
        await scenario(store)
        runner = ProjectionRunner(store.engine, store)
        try:
            await runner.catch_up()
            reference = await snapshot(store)
            indexes = await index_definitions(store)
            # what a coordinator killed between staging and swap leaves: a committed
            # schema of copies, partly filled
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql("CREATE SCHEMA docket_rebuild")
                await conn.exec_driver_sql(
                    "CREATE TABLE docket_rebuild.request_state (LIKE public.request_state)"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO docket_rebuild.request_state SELECT * FROM public.request_state"
                )
            assert await snapshot(store) == reference
            await runner.rebuild(processes=processes)
            assert await snapshot(store) == reference
            assert await index_definitions(store) == indexes
        finally:
            await runner.close()

    async def test_on_sqlite_a_rebuild_in_processes_runs_here(self, store: EventStore) -> None:
        if store.engine.dialect.name == "postgresql":
            pytest.skip("SQLite's fallback")
        await scenario(store)
        assert await rebuilt(store, processes=1) == await rebuilt(store, processes=3) > 0


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves)
async def test_partitioned_rebuild_equals_incremental_catch_up(
    store: EventStore, moves: list[tuple[int, int, int]]
) -> None:
    # the law of `test_runner.test_rebuild_equals_incremental_catch_up`, for a rebuild
    # in 2 and 3 worker processes (few examples: each spawns its interpreters)
    postgres_only(store)
    history = History(store, f"P{uuid.uuid4().hex[:8].upper()}")
    for move in moves:
        await history.step(*move)
    await caught_up_once(store, batch_size=4)
    caught_up = await snapshot(store)
    for processes in (2, 3):
        await rebuilt(store, processes, batch_size=3)
        assert await snapshot(store) == caught_up
