"""The references the targets are ratios to, measured in the same run (SPEC §11).

Limits: what PostgreSQL and the interpreter do with no application in the way —
`pgbench` single-row commits, COPY of the event rows, a bare asyncpg read + orjson decode
+ dict fold, and a bare asyncpg group-commit loop (32 callers, SHA-256 chain, one
advisory-locked transaction per batch).

The peer: the `eventsourcing` library (9.5) doing the same work on the same data —
single-event commands (load, apply, save) per request, and its notification-log replay.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import db
from bench.gen import COLUMNS
from events.disclosure import canonical_v2, new_salt, sealed_digest, split

# -- PostgreSQL's own limits -----------------------------------------------------------------


def pgbench_commits(clients: int, seconds: int = 8) -> float:
    """Single-row INSERT commits per second from `clients` pgbench clients."""
    binary = shutil.which("pgbench") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None
    )
    if binary is None:
        return float("nan")
    name = db.PREFIX + "pgbench"
    asyncio.run(db.drop(name))
    asyncio.run(db.admin(f'CREATE DATABASE "{name}"'))
    target = db.dsn(name)
    subprocess.run(
        ["psql", target, "-qc", "CREATE TABLE t (id bigserial PRIMARY KEY, v text)"],
        check=True,
        capture_output=True,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO t (v) VALUES ('a single row');\n")
    try:
        out = subprocess.run(
            [binary, "-n", "-f", script.name, "-c", str(clients), "-j", str(min(clients, 2)),
             "-T", str(seconds), target],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
        asyncio.run(db.drop(name))
    found = re.search(r"tps = ([0-9.]+)", out)
    return float(found.group(1)) if found else float("nan")


async def copy_rows(database: str, chunks: Iterable[Sequence[tuple[Any, ...]]]) -> float:
    """Seconds to COPY the (already built) event rows into a fresh, migrated `database`."""
    await db.fresh(database)
    conn = await asyncpg.connect(db.dsn(database))
    try:
        start = time.perf_counter()
        for chunk in chunks:
            await conn.copy_records_to_table("events", records=chunk, columns=COLUMNS)
        return time.perf_counter() - start
    finally:
        await conn.close()
        await db.drop(database)


async def bare_read_fold(database: str, page: int = 10_000) -> tuple[int, float]:
    """Events/s of a bare asyncpg read + orjson decode + dict fold over the whole log."""
    conn = await asyncpg.connect(db.dsn(database))
    folded: dict[str, dict[str, Any]] = {}
    count = 0
    try:
        statement = await conn.prepare(
            "SELECT position, stream_id, event_type, data::text FROM events"
            " WHERE position > $1 ORDER BY position LIMIT $2"
        )
        start = time.perf_counter()
        after = 0
        while True:
            rows = await statement.fetch(after, page)
            for position, stream_id, event_type, data in rows:
                state = folded.get(stream_id)
                if state is None:
                    state = folded[stream_id] = {"events": 0}
                state.update(orjson.loads(data))
                state["events"] += 1
                state["last"] = event_type
                state["position"] = position
            count += len(rows)
            if len(rows) < page:
                break
            after = rows[-1][0]
        return count, time.perf_counter() - start
    finally:
        await conn.close()


#: The read models a rebuild writes, in the order it flushes them.
OUTPUT_TABLES = (
    "request_state",
    "request_status_intervals",
    "hold_intervals",
)

#: Those that hold what SPEC §5 names, one row per request and per hold: `request_state`,
#: and `hold_intervals`, whose head rows are the `holds` view (`request_history` is read
#: from the log: nothing writes it); the status intervals are this design's bitemporal
#: projection alone.
NAMED_TABLES = ("request_state", "hold_intervals")


@dataclass(frozen=True, slots=True)
class TableRows:
    """A read model's rows as a bare writer would send them (tuples in column order, JSON
    as text) and the definitions of its indexes (`pg_get_indexdef`)."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    indexes: list[str]


async def output_rows(source: str, tables: Sequence[str] = OUTPUT_TABLES) -> list[TableRows]:
    """The rows a rebuild wrote into `source`'s read models, read into memory."""
    conn = await asyncpg.connect(db.dsn(source))
    try:
        found = []
        for table in tables:
            kinds = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                table,
            )
            columns = [name for name, _ in kinds]
            selected = ", ".join(
                f'"{name}"::text' if kind in ("json", "jsonb") else f'"{name}"'
                for name, kind in kinds
            )
            rows = [tuple(r) for r in await conn.fetch(f'SELECT {selected} FROM "{table}"')]
            indexes = [
                r[0]
                for r in await conn.fetch(
                    "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
                    " WHERE indrelid = $1::regclass ORDER BY indexrelid",
                    table,
                )
            ]
            found.append(TableRows(table, columns, rows, indexes))
        return found
    finally:
        await conn.close()


async def bare_copy_of_rows(
    tables: Sequence[TableRows], target: str, page: int = 20_000
) -> tuple[int, float]:
    """Seconds to COPY a rebuild's rows into the same (migrated, indexed, empty) tables of
    a fresh `target`, as a bare asyncpg writer would: `copy_records_to_table` per page on
    one connection. (rows, seconds)"""
    await db.fresh(target)
    writer = await asyncpg.connect(db.dsn(target))
    try:
        start = time.perf_counter()
        for table in tables:
            for at in range(0, len(table.rows), page):
                chunk = table.rows[at : at + page]
                await writer.copy_records_to_table(table.name, records=chunk, columns=table.columns)
        return sum(len(t.rows) for t in tables), time.perf_counter() - start
    finally:
        await writer.close()
        await db.drop(target)


@dataclass(frozen=True, slots=True)
class WriteFloor:
    """`bare_write_floor`: seconds to COPY the rows, and to build their indexes after, and
    the CPU both took (this process's and PostgreSQL's, in core-seconds)."""

    rows: int
    copy_seconds: float
    index_seconds: float
    cpu_seconds: float

    @property
    def seconds(self) -> float:
        return self.copy_seconds + self.index_seconds


async def bare_write_floor(
    tables: Sequence[TableRows], target: str, connections: int = 2, page: int = 20_000
) -> WriteFloor:
    """The least it takes here to write a rebuild's rows, with no fold at all: COPY into
    bare copies of the tables (columns only: no key, no index) in a fresh `target`, the
    tables shared out over `connections` connections (largest first to the least
    loaded) that run at once, then the tables' own indexes (keys included) built by sort
    on the same connections. What any rebuild writing these rows and indexes through a
    client pays on top of folding the log, however it folds."""
    await db.fresh(target)
    conns = [await asyncpg.connect(db.dsn(target)) for _ in range(connections)]
    try:
        shares: list[list[TableRows]] = [[] for _ in conns]
        for table in sorted(tables, key=lambda t: -len(t.rows)):
            min(shares, key=lambda share: sum(len(t.rows) for t in share)).append(table)
        for table in tables:
            await conns[0].execute(
                f'CREATE TABLE "bare_{table.name}" (LIKE "{table.name}" INCLUDING DEFAULTS)'
            )

        async def fill(conn: asyncpg.Connection, share: list[TableRows]) -> None:
            for table in share:
                for at in range(0, len(table.rows), page):
                    await conn.copy_records_to_table(
                        f"bare_{table.name}",
                        records=table.rows[at : at + page],
                        columns=table.columns,
                    )

        async def index(conn: asyncpg.Connection, share: list[TableRows]) -> None:
            for table in share:
                for n, definition in enumerate(table.indexes):
                    # CREATE [UNIQUE] INDEX <name> ON public.<table> USING …
                    head, _, using = definition.partition(f" ON public.{table.name} ")
                    create = head.rsplit(" ", 1)[0]
                    bare = f"bare_{table.name}"
                    await conn.execute(f"{create} {bare}_{n} ON {bare} {using}")

        cpu = time.process_time() + db.postgres_cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(fill(c, share) for c, share in zip(conns, shares, strict=True)))
        copied = time.perf_counter()
        await asyncio.gather(*(index(c, share) for c, share in zip(conns, shares, strict=True)))
        indexed = time.perf_counter()
        cpu = time.process_time() + db.postgres_cpu_seconds() - cpu
        rows = sum(len(t.rows) for t in tables)
        return WriteFloor(rows, copied - start, indexed - copied, cpu)
    finally:
        for conn in conns:
            await conn.close()
        await db.drop(target)


async def bare_group_commit(
    database: str, *, callers: int = 32, seconds: float = 6.0
) -> tuple[int, float, int]:
    """Appends/s of a bare group-commit loop on a fresh, migrated `database`: `callers`
    tasks each append one event and wait for it; a writer takes what is queued, and in
    one transaction takes the advisory lock, reads the head, chains SHA-256 hashes over
    the RFC 8785 form (canonical form v2: a fresh salt and the sealed digest, as appends
    hash) and inserts the rows with one executemany. (appends, seconds, batches)"""
    await db.fresh(database)
    pool = await asyncpg.create_pool(db.dsn(database), min_size=2, max_size=4)
    queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[int]]] = asyncio.Queue()
    stop = asyncio.Event()
    batches = 0
    # both tables of the log (migration 0012), one statement a batch
    insert = (
        f"WITH e AS (INSERT INTO events ({', '.join(COLUMNS)}) SELECT * FROM unnest("
        "$1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[],"
        " $7::json[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[],"
        " $12::text[])) INSERT INTO sealed_values (position, data, metadata, salt)"
        " SELECT * FROM unnest($1::bigint[], $13::json[], $14::json[], $15::text[])"
    )

    async def writer() -> None:
        nonlocal batches
        async with pool.acquire() as conn:
            while True:
                first = await queue.get()
                batch = [first]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(7)")
                    head = await conn.fetchrow(
                        "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
                    )
                    position, chain = (head[0], bytes.fromhex(head[1])) if head else (0, bytes(32))
                    now = datetime.now(UTC)
                    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    records = []
                    for fields, _ in batch:
                        position += 1
                        event_id = str(uuid.uuid4())
                        salt = new_salt()
                        hashed = {**fields, "position": position, "event_id": event_id,
                                  "stream_version": position, "occurred_at": stamp,
                                  "recorded_at": stamp, "salt": salt}  # fmt: skip
                        clear, sealed = split(fields["event_type"], 1, fields["data"])
                        digest = sealed_digest(salt, sealed, fields["metadata"])
                        leaf = hashlib.sha256(
                            b"\x00" + canonical_v2({**hashed, "salt": "", "sealed": digest})
                        ).digest()
                        prev, chain = chain, hashlib.sha256(chain + leaf).digest()
                        records.append(
                            (
                                position,
                                event_id,
                                f"s-{position}",
                                position,
                                fields["event_type"],
                                1,
                                orjson.dumps(clear).decode(),
                                now,
                                now,
                                prev.hex(),
                                chain.hex(),
                                digest,
                                orjson.dumps(sealed).decode(),
                                orjson.dumps(fields["metadata"]).decode(),
                                salt,
                            )
                        )
                    await conn.execute(insert, *(list(c) for c in zip(*records, strict=True)))
                batches += 1
                for (_, future), record in zip(batch, records, strict=True):
                    future.set_result(record[0])

    async def caller(n: int) -> int:
        loop = asyncio.get_running_loop()
        done = 0
        fields = {
            "stream_id": f"bare-{n}",
            "event_type": "HoldPlaced",
            "schema_version": 1,
            "data": {"procedure": "initial", "member": "USA"},
            "metadata": {"actor": {"id": "tok", "name": "bench", "role": "secretariat"}},
        }
        while not stop.is_set():
            future: asyncio.Future[int] = loop.create_future()
            queue.put_nowait((fields, future))
            await asyncio.wait_for(future, 30)
            done += 1
        return done

    async def guarded_writer() -> None:
        try:
            await writer()
        except Exception as error:  # a dead writer must not leave the callers waiting
            while not queue.empty():
                _, future = queue.get_nowait()
                future.set_exception(error)
            raise

    task = asyncio.create_task(guarded_writer())
    tasks = [asyncio.create_task(caller(n)) for n in range(callers)]
    await asyncio.sleep(1.0)  # warm up
    start_batches = batches
    counts_before = 0
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    counts = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await pool.close()
    await db.drop(database)
    # count only what was committed after the warm-up: positions are gap-free
    total = sum(counts) - counts_before
    return total, elapsed + 1.0, batches - start_batches


# -- the peer: eventsourcing 9.5 ---------------------------------------------------------------


def _peer_env(kind: str, database: str | None, sqlite_path: Path | None) -> dict[str, str]:
    if kind == "postgres":
        from sqlalchemy.engine import make_url

        parsed = make_url(db.ADMIN_URL)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": database or "",
            "POSTGRES_HOST": parsed.host or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": parsed.username or "postgres",
            "POSTGRES_PASSWORD": parsed.password or "",
            "POSTGRES_POOL_SIZE": "32",
            "POSTGRES_MAX_OVERFLOW": "0",
            "CREATE_TABLE": "y",
        }
    assert sqlite_path is not None
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "30",
        "CREATE_TABLE": "y",
    }


@functools.cache
def _peer_classes() -> Any:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class PeerRequest(Aggregate):
        """The peer's request: the same fields our fold keeps for holds."""

        @event("Submitted")
        def __init__(self, request_id: str, submission: dict[str, Any]) -> None:
            self.request_id = request_id
            self.submission = submission
            self.holds: dict[str, str] = {}
            self.deadline: str | None = None

        @event("Circulated")
        def circulate(self, deadline: str) -> None:
            self.deadline = deadline

        @event("HoldPlaced")
        def place_hold(self, member: str, reason: str | None) -> None:
            self.holds[member] = "active"

        @event("HoldReleased")
        def release_hold(self, member: str) -> None:
            self.holds.pop(member, None)

    class PeerDocket(Application[uuid.UUID]):
        def submit(self, request_id: str, submission: dict[str, Any], deadline: str) -> uuid.UUID:
            request = PeerRequest(request_id, submission)
            request.circulate(deadline)
            self.save(request)
            return request.id

        def place_hold(self, aggregate_id: uuid.UUID, member: str) -> None:
            request: PeerRequest = self.repository.get(aggregate_id)
            if member in request.holds:
                raise ValueError("already held")
            request.place_hold(member, "Further review of items.")
            self.save(request)

        def release_hold(self, aggregate_id: uuid.UUID, member: str) -> None:
            request: PeerRequest = self.repository.get(aggregate_id)
            if member not in request.holds:
                raise ValueError("not held")
            request.release_hold(member)
            self.save(request)

    return PeerDocket


def peer_commands(
    kind: str,
    *,
    requests: int = 1000,
    callers: int = 32,
    seconds: float = 6.0,
    submissions: Sequence[dict[str, Any]] = (),
) -> tuple[int, float]:
    """The peer's place/release-hold commands per second, `callers` threads, each command
    a load (replay), apply and save on one request; (commands, seconds)."""
    database = db.PREFIX + "peer_commands"
    tmp = Path(tempfile.mkdtemp(prefix="docket-bench-peer-"))
    if kind == "postgres":
        asyncio.run(db.drop(database))
        asyncio.run(db.admin(f'CREATE DATABASE "{database}"'))
    env = _peer_env(kind, database, tmp / "peer.sqlite")
    peer_cls = _peer_classes()
    app = peer_cls(env=env)
    try:
        ids = []
        for n in range(requests):
            submission = submissions[n % len(submissions)] if submissions else {"n": n}
            ids.append(app.submit(f"HX-OPEN-{n:05d}", submission, "2026-12-31T00:00:00.000000Z"))
        stop = threading.Event()

        def caller(k: int) -> int:
            mine = ids[k::callers]
            done = 0
            while not stop.is_set():
                for aggregate_id in mine:
                    if stop.is_set():
                        break
                    app.place_hold(aggregate_id, "USA")
                    app.release_hold(aggregate_id, "USA")
                    done += 2
            return done

        with ThreadPoolExecutor(callers) as pool:
            futures = [pool.submit(caller, k) for k in range(callers)]
            start = time.perf_counter()
            time.sleep(seconds)
            stop.set()
            done = sum(f.result() for f in futures)
            elapsed = time.perf_counter() - start
        return done, elapsed
    finally:
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if kind == "postgres":
            asyncio.run(db.drop(database))


def peer_replay(events: int, chunks: Iterable[Sequence[tuple[Any, ...]]]) -> tuple[int, float]:
    """The peer's notification-log replay: the same events (as its stored events) read in
    pages of its notification log, each mapped to a domain event object (its transcoder,
    the `ProcessApplication` path) and folded into a dict per aggregate; (events, seconds).
    """
    database = db.PREFIX + "peer_replay"
    asyncio.run(db.drop(database))
    asyncio.run(db.admin(f'CREATE DATABASE "{database}"'))
    app = _peer_classes()(env=_peer_env("postgres", database, None))
    try:
        # Loaded by COPY into the peer's own table (its insert_events writes ~2,000/s);
        # the replay below, which is what is timed, reads it the peer's way.
        table = f"{type(app).__name__.lower()}_events"
        asyncio.run(_peer_copy(database, table, chunks))
        recorder = app.recorder
        mapper = app.mapper
        start = time.perf_counter()
        folded: dict[uuid.UUID, dict[str, Any]] = {}
        count = 0
        after = 1
        while True:
            page = recorder.select_notifications(start=after, limit=10_000)
            for notification in page:
                domain_event = mapper.to_domain_event(notification)
                state = folded.setdefault(domain_event.originator_id, {})
                state.update(domain_event.data)
                state["version"] = domain_event.originator_version
            count += len(page)
            if len(page) < 10_000:
                break
            after = page[-1].id + 1
        return count, time.perf_counter() - start
    finally:
        app.close()
        asyncio.run(db.drop(database))


async def _peer_copy(
    database: str, table: str, chunks: Iterable[Sequence[tuple[Any, ...]]]
) -> None:
    conn = await asyncpg.connect(db.dsn(database))
    streams: dict[str, uuid.UUID] = {}
    try:
        for chunk in chunks:
            records = []
            for row in chunk:
                stream = streams.setdefault(row[2], uuid.uuid4())
                # `stored_rows(..., sealed=True)`: the event's columns (data 6,
                # occurred_at 7), then its sealed data and metadata (NULL if none)
                data = orjson.loads(row[6])
                if row[12] is not None:
                    data.update(orjson.loads(row[12]))
                state = orjson.dumps(
                    {
                        "timestamp": {"_type_": "datetime_iso", "_data_": row[7].isoformat()},
                        "originator_topic": "bench:Request",
                        "data": data,
                        "metadata": orjson.loads(row[13] or "{}"),
                    }
                )
                records.append((stream, row[3], "bench.references:Replayed", state))
            await conn.copy_records_to_table(
                table,
                records=records,
                columns=("originator_id", "originator_version", "topic", "state"),
            )
    finally:
        await conn.close()


def _replayed_class() -> Any:
    from eventsourcing.domain import DomainEvent

    class Replayed(DomainEvent):
        data: dict[str, Any]
        metadata: dict[str, Any]
        originator_topic: str

    return Replayed


Replayed = _replayed_class()
