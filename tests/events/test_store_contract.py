"""The event store contract (SPEC §4): an abstract suite, `EventStoreContract`, that each
backend passes through its subclass's `make_backend` (and the few facts that differ: how
fair its lock is across processes, which statements its triggers refuse, how to forge a
row behind them)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from events.model import (
    ZERO_HASH,
    ConcurrencyConflict,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    StreamAppend,
)
from events.schema import checkpoints
from events.store import DuplicateEvents, EventStore
from events.store.contract import Backend, Batch, BatchState, Outcome, Written
from events.store.postgres import PostgresBackend
from events.store.sqlite import SqliteBackend
from events.upcasting import UpcasterRegistry
from events.verify_chain import verify_chain, verify_store_chain
from tests.conftest import _fresh_database

APPENDER = Path(__file__).with_name("_appender.py")
T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


def new(stream_id: str, n: int = 0, *, at: datetime = T0, kind: str = "Noted") -> NewEvent:
    return NewEvent(stream_id, kind, {"n": n}, at, metadata={"actor": {"id": "t1"}})


def one(stream_id: str, expected: ExpectedVersion, n: int = 0) -> StreamAppend:
    return StreamAppend(stream_id, expected, [new(stream_id, n)])


async def fill(store: EventStore, count: int, stream_id: str = "s") -> list[RecordedEvent]:
    return await store.append(
        StreamAppend(stream_id, "any", [new(stream_id, i) for i in range(count)])
    )


class _StaleHead:
    """A backend whose batches are decided on a head one short of the real one: position 2
    is written again, a unique violation the database refuses."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, batch: Batch) -> Written:
        def stale(state: BatchState) -> list[Outcome]:
            state.position = 1
            return batch.apply(state)

        return await self.inner.write(dataclasses.replace(batch, apply=stale))


async def run_docket(url: str, *args: str, cwd: Path | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from service.cli import app; app()",
        *args,
        env={**os.environ, "DOCKET_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


class EventStoreContract:
    """Every backend must pass all of these. A subclass says how to make its backend on a
    fresh database (`database_url`) and what differs between backends."""

    #: The kind of fresh database each test gets (`tests/conftest.py`).
    database: str = ""
    #: Whether appenders of two processes take turns (a fair lock), rather than one
    #: process keeping the lock for many batches in a row.
    fair_lock: bool = False
    #: Statements the append-only triggers refuse beyond UPDATE and DELETE.
    also_refused: tuple[str, ...] = ()

    def make_backend(self, url: str) -> Backend:
        raise NotImplementedError

    async def forge(self, conn: AsyncConnection, statement: str) -> None:
        """Run `statement` (an UPDATE of `events`) behind the append-only triggers."""
        raise NotImplementedError

    @pytest.fixture
    def database_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        yield from _fresh_database(request, self.database, tmp_path / "docket.db")

    @pytest.fixture
    async def store(self, database_url: str) -> AsyncIterator[EventStore]:
        async with EventStore(self.make_backend(database_url)) as opened:
            yield opened

    # -- expected versions --------------------------------------------------------------

    async def test_no_stream(self, store: EventStore) -> None:
        [first] = await store.append(one("a", "no_stream"))
        assert (first.position, first.stream_version) == (1, 1)
        with pytest.raises(ConcurrencyConflict) as refused:
            await store.append(one("a", "no_stream"))
        assert (refused.value.stream_id, refused.value.actual) == ("a", 1)

    async def test_exists(self, store: EventStore) -> None:
        with pytest.raises(ConcurrencyConflict) as refused:
            await store.append(one("a", "exists"))
        assert refused.value.actual == 0
        await store.append(one("a", "any"))
        [second] = await store.append(one("a", "exists"))
        assert second.stream_version == 2

    async def test_exact_version(self, store: EventStore) -> None:
        await store.append(one("a", 0))
        await store.append(one("a", 1))
        with pytest.raises(ConcurrencyConflict) as refused:
            await store.append(one("a", 1))
        assert (refused.value.expected, refused.value.actual) == (1, 2)
        assert await store.stream_version("a") == 2

    async def test_any(self, store: EventStore) -> None:
        for _ in range(3):
            await store.append(one("a", "any"))
        assert await store.stream_version("a") == 3
        assert await store.stream_version("nowhere") == 0

    async def test_refuses_malformed_appends(self, store: EventStore) -> None:
        with pytest.raises(ValueError):
            await store.append(StreamAppend("a", -1, []))
        with pytest.raises(ValueError):
            await store.append(StreamAppend("a", "any", [new("b")]))
        naive = NewEvent("a", "Noted", {}, datetime(2026, 1, 1))
        with pytest.raises(ValueError):
            await store.append(StreamAppend("a", "any", [naive]))
        assert await store.head() == (0, ZERO_HASH)

    # -- atomicity and version checks ----------------------------------------------------

    async def test_conflict_in_one_stream_writes_nothing_in_any(self, store: EventStore) -> None:
        await store.append(one("b", "no_stream"))
        before = await store.head()
        with pytest.raises(ConcurrencyConflict) as refused:
            await store.append(
                StreamAppend("a", "no_stream", [new("a", 1), new("a", 2)]),
                StreamAppend("b", 5, [new("b", 3)]),
            )
        assert refused.value.stream_id == "b"
        assert await store.head() == before
        assert await store.stream_version("a") == 0
        assert await store.stream_version("b") == 1

    async def test_several_streams_in_one_append(self, store: EventStore) -> None:
        recorded = await store.append(
            StreamAppend("a", "no_stream", [new("a", 1), new("a", 2)]),
            StreamAppend("b", "no_stream", [new("b", 3)]),
        )
        assert [(e.position, e.stream_id, e.stream_version) for e in recorded] == [
            (1, "a", 1),
            (2, "a", 2),
            (3, "b", 1),
        ]

    async def test_empty_events_is_a_version_check(self, store: EventStore) -> None:
        await store.append(one("committee", "no_stream"))
        assert await store.append(StreamAppend("committee", 1, [])) == []
        recorded = await store.append(StreamAppend("committee", 1, []), one("request", "any"))
        assert [e.stream_id for e in recorded] == ["request"]
        with pytest.raises(ConcurrencyConflict):
            await store.append(StreamAppend("committee", 0, []), one("request", "any"))
        with pytest.raises(ConcurrencyConflict):
            await store.append(StreamAppend("elsewhere", "exists", []))
        assert await store.stream_version("request") == 1
        assert (await store.head())[0] == 2

    # -- idempotency ------------------------------------------------------------------------

    async def test_retry_by_event_id_returns_the_recorded_events(self, store: EventStore) -> None:
        events = [new("a", 1), new("a", 2)]
        first = await store.append(StreamAppend("a", "no_stream", events))
        await store.append(one("b", "any"))
        # The retry's expected version no longer holds; it is still an idempotent success.
        again = await store.append(StreamAppend("a", "no_stream", events))
        assert again == first
        assert (await store.head())[0] == 3
        assert await store.get_by_event_ids([e.event_id for e in events]) == first
        assert await store.get_event(events[1].event_id) == first[1]
        assert await store.get_event(uuid.uuid4()) is None

    async def test_partial_retry_is_refused(self, store: EventStore) -> None:
        written = new("a", 1)
        await store.append(StreamAppend("a", "any", [written]))
        with pytest.raises(DuplicateEvents):
            await store.append(StreamAppend("a", "any", [written, new("a", 2)]))
        assert (await store.head())[0] == 1

    async def test_concurrent_duplicates_write_one_copy(self, store: EventStore) -> None:
        event = new("a", 1)
        answers = await asyncio.gather(
            *(store.append(StreamAppend("a", "no_stream", [event])) for _ in range(20))
        )
        assert all(answer == answers[0] for answer in answers)
        assert (await store.head())[0] == 1

    # -- reading ----------------------------------------------------------------------------

    async def test_read_stream_filters(self, store: EventStore) -> None:
        for i in range(5):
            await store.append(
                StreamAppend("a", "any", [new("a", i, at=T0 + timedelta(hours=i))]),
                one("other", "any", i),
            )
        everything = await store.read_stream("a")
        assert [e.stream_version for e in everything] == [1, 2, 3, 4, 5]
        assert [e.position for e in everything] == [1, 3, 5, 7, 9]
        from_three = await store.read_stream("a", from_version=3)
        assert [e.stream_version for e in from_three] == [3, 4, 5]
        until_five = await store.read_stream("a", to_position=5)
        assert [e.stream_version for e in until_five] == [1, 2, 3]
        until_time = await store.read_stream("a", occurred_until=T0 + timedelta(hours=1))
        assert [e.stream_version for e in until_time] == [1, 2]
        assert await store.read_stream("nowhere") == []

    async def test_read_all_and_iter_all_in_batches(self, store: EventStore) -> None:
        await fill(store, 25)
        page = await store.read_all(after=10, limit=5)
        assert [e.position for e in page] == [11, 12, 13, 14, 15]
        assert await store.read_all(after=25) == []
        walked = [e.position async for e in store.iter_all(batch=7)]
        assert walked == list(range(1, 26))
        assert [e.position async for e in store.iter_all(after=20, batch=5)] == [21, 22, 23, 24, 25]

    async def test_events_round_trip_exactly(self, store: EventStore) -> None:
        data = {
            "z": [1, 2.5, -0.0001, 1e21, None, True],
            "a": {"é": "\u2028\U0001f600"},
            "n": 2**53 - 1,
        }
        at = datetime(2026, 3, 1, 9, 30, 0, 7, tzinfo=timezone(timedelta(hours=-5)))
        [written] = await store.append(
            StreamAppend("a", "any", [NewEvent("a", "Noted", data, at, metadata={"k": "v"})])
        )
        assert written.occurred_at == at and written.occurred_at.tzinfo == UTC
        [read] = await store.read_stream("a")
        assert read == written
        assert (await verify_store_chain(store)).ok

    async def test_upcasting_on_read_stream_only(self, store: EventStore) -> None:
        upcasters = UpcasterRegistry()

        @upcasters.register("Noted", 1)
        def _v1_to_v2(data: dict[str, object]) -> dict[str, object]:
            return {**data, "v2": True}

        await store.append(one("a", "any"))
        folding = EventStore(store.backend, upcasters=upcasters, owns_backend=False)
        [upcast] = await folding.read_stream("a")
        assert (upcast.schema_version, upcast.data) == (2, {"n": 0, "v2": True})
        [stored] = await folding.read_stream("a", upcast=False)
        assert (stored.schema_version, stored.data) == (1, {"n": 0})
        assert (await folding.read_all())[0] == stored
        await folding.close()

    # -- the log ----------------------------------------------------------------------------

    async def test_positions_gap_free_and_chain_valid(self, store: EventStore) -> None:
        await asyncio.gather(*(store.append(one(f"s{i % 7}", "any", i)) for i in range(60)))
        report = await verify_store_chain(store, batch=16)
        assert report.ok, report
        assert report.checked == 60
        assert (report.head_position, report.head_hash) == await store.head()
        first = (await store.read_all(limit=1))[0]
        assert first.prev_hash == ZERO_HASH

    async def test_group_commit_batches_concurrent_appends(self, store: EventStore) -> None:
        await asyncio.gather(*(store.append(one(f"s{i}", "no_stream")) for i in range(100)))
        assert store.stats.calls == 100
        assert store.stats.batches < 10
        assert (await store.head())[0] == 100

    async def test_a_conflict_fails_only_its_caller(self, store: EventStore) -> None:
        bad = NewEvent("c", "Noted", {"x": float("nan")}, T0)
        outcomes = await asyncio.gather(
            store.append(one("a", "no_stream")),
            store.append(one("a", "no_stream")),
            store.append(StreamAppend("c", "any", [bad])),
            store.append(one("b", "no_stream")),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], list)
        assert isinstance(outcomes[1], ConcurrencyConflict)
        assert isinstance(outcomes[2], ValueError)
        assert isinstance(outcomes[3], list)
        assert store.stats.batches == 1
        assert (await verify_store_chain(store)).checked == 2

    async def test_a_failed_transaction_fails_every_caller_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        await fill(store, 2)
        stale = EventStore(cast(Backend, _StaleHead(store.backend)), owns_backend=False)
        outcomes = await asyncio.gather(
            *(stale.append(one(f"s{i}", "any")) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, DBAPIError) for outcome in outcomes)
        assert stale.stats.failed_batches == 1
        await stale.close()
        assert await store.head() == (2, (await store.read_all())[-1].hash)
        await store.append(one("after", "no_stream"))
        assert (await verify_store_chain(store)).checked == 3

    async def test_two_processes_of_25_appenders(
        self, store: EventStore, database_url: str
    ) -> None:
        appenders, rounds, shared = 25, 4, 10
        start_at = str(time.time() + 2.0)  # after both interpreters have imported and connected
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(APPENDER),
                database_url,
                tag,
                str(appenders),
                str(rounds),
                str(shared),
                start_at,
                stdout=asyncio.subprocess.PIPE,
            )
            for tag in ("p1", "p2")
        ]
        outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in processes]
        assert [p.returncode for p in processes] == [0, 0]
        summaries = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
        total = sum(s["written"] for s in summaries)
        assert total == 2 * appenders * rounds * 2

        everything = [e async for e in store.iter_all(batch=100)]
        writers = [e.stream_id.split("-")[1] for e in everything if e.stream_id.startswith("own-")]
        handovers = sum(1 for a, b in itertools.pairwise(writers) if a != b)
        if self.fair_lock:
            assert handovers > 2, "the two processes did not append at the same time"

        assert [e.position for e in everything] == list(range(1, total + 1))
        versions: dict[str, list[int]] = {}
        for event in everything:
            versions.setdefault(event.stream_id, []).append(event.stream_version)
        for stream_id, seen in versions.items():
            assert seen == list(range(1, len(seen) + 1)), stream_id
            if stream_id.startswith("own-"):
                assert len(seen) == rounds
        assert sum(len(v) for k, v in versions.items() if k.startswith("shared-")) == total // 2
        assert (await verify_store_chain(store)).ok

    # -- append-only ------------------------------------------------------------------------

    async def test_triggers_refuse_update_and_delete(self, store: EventStore) -> None:
        await fill(store, 3)
        async with store.engine.connect() as conn:
            await conn.execute(
                checkpoints.insert(),
                {"tree_size": 3, "root": "ab" * 32, "note": "n", "created_at": T0},
            )
            await conn.commit()
        statements = [
            "UPDATE events SET event_type = 'Forged' WHERE position = 2",
            "DELETE FROM events WHERE position = 3",
            "DELETE FROM events",
            "UPDATE checkpoints SET root = 'x'",
            "DELETE FROM checkpoints",
        ]
        statements += self.also_refused
        for statement in statements:
            async with store.engine.connect() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    await conn.execute(text(statement))
                await conn.rollback()
        assert (await verify_store_chain(store)).checked == 3

    async def test_verify_names_a_row_changed_behind_the_triggers(
        self, store: EventStore, database_url: str
    ) -> None:
        await fill(store, 5)
        code, out = await run_docket(database_url, "verify")
        assert code == 0
        assert out.startswith(f"ok: 5 events, chain head {(await store.head())[1]}, Merkle root")

        forge = "UPDATE events SET data = CAST('{\"n\": 99}' AS JSON) WHERE position = 3"
        async with store.engine.begin() as conn:
            await self.forge(conn, forge)

        report = await verify_store_chain(store)
        assert (report.bad_position, report.checked) == (3, 2)
        assert "hash" in (report.reason or "")
        code, out = await run_docket(database_url, "verify")
        assert code == 1
        assert "position 3" in out

    async def test_verify_names_a_broken_link_and_a_gap(self, store: EventStore) -> None:
        events = await fill(store, 4)
        relinked = [events[0], dataclasses.replace(events[1], prev_hash="11" * 32)]

        async def stream(items: list[RecordedEvent]) -> AsyncIterator[RecordedEvent]:
            for item in items:
                yield item

        broken = await verify_chain(stream(relinked))
        assert (broken.bad_position, broken.checked) == (2, 1)
        gap = await verify_chain(stream([events[0], events[2]]))
        assert gap.bad_position == 2 and "missing" in (gap.reason or "")

    async def test_migrate_from_any_directory(self, database_url: str, tmp_path: Path) -> None:
        code, out = await run_docket(database_url, "migrate", cwd=tmp_path)
        assert code == 0, out


class TestSqliteStore(EventStoreContract):
    database = "sqlite"

    def make_backend(self, url: str) -> Backend:
        return SqliteBackend.open(url)

    async def forge(self, conn: AsyncConnection, statement: str) -> None:
        await conn.execute(text("DROP TRIGGER events_no_update"))
        await conn.execute(text(statement.replace("CAST('{\"n\": 99}' AS JSON)", "'{\"n\": 99}'")))


@pytest.mark.postgres
class TestPostgresStore(EventStoreContract):
    # The advisory lock queues waiters fairly; SQLite's busy handler polls with sleeps, so
    # the process holding the lock can keep it for many batches in a row.
    fair_lock = True
    database = "postgres"
    also_refused = ("TRUNCATE events", "TRUNCATE checkpoints")

    def make_backend(self, url: str) -> Backend:
        return PostgresBackend.open(url)

    async def forge(self, conn: AsyncConnection, statement: str) -> None:
        await conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        await conn.execute(text(statement))
        await conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))


async def test_migrate_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    code, out = await run_docket("sqlite+aiosqlite:///fresh.db", "migrate", cwd=tmp_path)
    assert code == 0, out
    probe = await EventStore.open(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    assert await probe.head() == (0, ZERO_HASH)
    await probe.close()
