"""B3: rebuild of every projection (`ProjectionRunner.rebuild`) from N events.
Target: ≥ 100,000 events/s, ≥ 2× the peer's replay, ≥ 0.5× a bare read + fold + COPY of
the same output rows, peak memory ≤ 500 MB.

References in the same run: the peer's notification-log replay of the same events; a bare
asyncpg read + orjson decode + dict fold of them (the interpreter's limit); and that read
and fold plus a bare COPY of the very rows the rebuild wrote into the same (migrated,
indexed) tables of a fresh database. The bare fold does not compute those rows (they are
taken from the rebuilt tables, their reading not timed), so this reference is a lower
bound of any reader that folds the log into them: the ratio to it is not flattered.

On a large log the rebuild runs in worker processes (`projections.runner.partitioned`;
DOCKET_REBUILD_PROCESSES sets how many, 1 for none): its peak memory is this process's
plus the sum of its workers' peaks (each worker's own `ru_maxrss`, an upper bound of what
they held at once), and its CPU theirs plus this process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import db, gen, references
from bench.cli import parser, report
from bench.db import Result
from bench.gen import COLUMNS
from events.store import EventStore
from projections.runner import ProjectionRunner, WorkerReport
from service.settings import Settings


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """One timed rebuild: where it reached, its wall time, and its worker processes."""

    reached: int
    seconds: float
    workers: list[WorkerReport]


async def rebuild_rate(url: str) -> Rebuilt:
    """A rebuild as `docket rebuild` runs it (in worker processes on a large log unless
    DOCKET_REBUILD_PROCESSES says otherwise)."""
    store = await EventStore.open(url)
    runner = ProjectionRunner(store.engine, store, rebuild_processes=Settings().rebuild_processes)
    try:
        start = time.perf_counter()
        reached = await runner.rebuild()
        return Rebuilt(reached, time.perf_counter() - start, runner.rebuild_workers)
    finally:
        await runner.close()
        await store.close()


def postgres_cpu_seconds() -> float:
    """User + system CPU of the PostgreSQL server on this machine (Linux /proc): its
    processes' own, and what its ended backends left to the postmaster (`cutime`,
    `cstime`); the server's other work included."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if not text.split(" (", 1)[1].startswith("postgres)"):
                continue
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if (
                not Path(f"/proc/{fields[1]}/stat")
                .read_text()
                .split(" (", 1)[1]
                .startswith("postgres)")
            ):  # the postmaster (its parent is not a postgres): its reaped children
                total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


async def stored_rows(database: str, page: int = 20_000) -> list[list[tuple[Any, ...]]]:
    """The stored event rows in COPY column order (for the references)."""
    conn = await asyncpg.connect(db.dsn(database))
    chunks: list[list[tuple[Any, ...]]] = []
    try:
        columns = ", ".join(f"{c}::text" if c in ("data", "metadata") else c for c in COLUMNS)
        after = 0
        while True:
            rows = await conn.fetch(
                f"SELECT {columns} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                after,
                page,
            )
            if not rows:
                return chunks
            chunks.append([tuple(r) for r in rows])
            after = rows[-1][0]
    finally:
        await conn.close()


def run(events: int = 200_000) -> Result:
    result = Result("B3", "rebuild of every projection", f"{events:,} events")
    template = asyncio.run(gen.log_template(events))
    database = f"{db.PREFIX}b3_run"
    url = asyncio.run(db.copy_of(template, database))
    try:
        rss_before = db.peak_rss_mb()
        cpu, pg_cpu = time.process_time(), postgres_cpu_seconds()
        rebuilt = asyncio.run(rebuild_rate(url))
        cpu, pg_cpu = time.process_time() - cpu, postgres_cpu_seconds() - pg_cpu
        rss = db.peak_rss_mb()
        reached, seconds = rebuilt.reached, rebuilt.seconds
        workers_cpu = sum(worker.cpu_seconds for worker in rebuilt.workers)
        workers_rss = sum(worker.peak_rss_mb for worker in rebuilt.workers)
        rows, copy_seconds = asyncio.run(
            references.bare_copy_of_rows(database, f"{db.PREFIX}b3_copy")
        )
    finally:
        asyncio.run(db.drop(database))
    ours = result.add("docket rebuild events/s", reached / seconds, "/s")
    result.add("  seconds", seconds, "s")
    result.add("  worker processes", len(rebuilt.workers), "")
    result.add("  CPU of this process", cpu, "s")
    result.add("  CPU of the worker processes", workers_cpu, "s")
    result.add("  CPU of PostgreSQL (all its processes)", pg_cpu, "s")
    result.add("  peak RSS of this process (rebuild done)", rss, "MB")
    result.add("  peak RSS before the rebuild", rss_before, "MB")
    result.add("  peak RSS of the worker processes, summed", workers_rss, "MB")
    peak = result.add("  peak RSS, this process + its workers", rss + workers_rss, "MB")
    count, seconds = asyncio.run(references.bare_read_fold(template))
    bare = result.add("bare asyncpg read + orjson + dict fold events/s", count / seconds, "/s")
    result.add("  bare COPY of the rebuilt rows into the same tables, rows", rows, "")
    result.add("  bare COPY of the rebuilt rows, seconds", copy_seconds, "s")
    bare_copy = result.add(
        "bare read + fold + COPY of the same output rows events/s",
        count / (seconds + copy_seconds),
        "/s",
    )
    chunks = asyncio.run(stored_rows(template))
    count, seconds = references.peer_replay(events, chunks)
    peer = result.add(
        "peer (eventsourcing 9.5) notification-log replay events/s", count / seconds, "/s"
    )
    result.add("ratio to peer replay", ours / peer, "×")
    result.add("ratio to bare read + fold", ours / bare, "×")
    result.add("ratio to bare read + fold + COPY of the same rows", ours / bare_copy, "×")
    result.check("≥ 100,000 events/s", ours >= 100_000)
    result.check("≥ 2× the peer's replay", ours / peer >= 2)
    result.check("≥ 0.5× bare read + fold + COPY of the same rows", ours / bare_copy >= 0.5)
    result.check("peak memory ≤ 500 MB (this process + its workers)", peak <= 500)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
