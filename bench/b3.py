"""B3: rebuild of every projection (`ProjectionRunner.rebuild`) from N events.
Target: ≥ 100,000 events/s, ≥ 2× the peer's replay, ≥ 0.5× a bare read + fold + COPY of
the same output rows, peak memory ≤ 500 MB.

References in the same run: the peer's notification-log replay of the same events; a bare
asyncpg read + orjson decode + dict fold of them (the interpreter's limit); and that read
and fold plus a bare COPY of the very rows the rebuild wrote into the same (migrated,
indexed) tables of a fresh database. The bare fold does not compute those rows (they are
taken from the rebuilt tables, their reading not timed), so this reference is a lower
bound of any reader that folds the log into them: the ratio to it is not flattered.

The write floor: the same rows COPYed with no fold at all into bare copies of the tables
(no key, no index) on two connections at once, then the tables' indexes built by sort —
the least this machine takes to write them through a client, so N / that time is a rate
no rebuild writing them so passes here; its CPU plus the bare read + fold's, over the
machine's cores, is a second such bound. Measured for the tables SPEC §5 names (one row
per event, per hold, per request) and for every table (with the bitemporal intervals).

The rebuild runs in a fresh interpreter (as `docket rebuild` would), so that its peak
memory is its own. On a large log it runs in worker processes
(`projections.runner.partitioned`; DOCKET_REBUILD_PROCESSES sets how many, 1 for none):
its peak memory is then its own plus the sum of its workers' peaks (each worker's
`ru_maxrss`, an upper bound of what they held at once), and its CPU theirs plus its own.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench import db, gen, references
from bench.cli import parser, report
from bench.db import Result
from bench.gen import COLUMNS
from events.store import EventStore
from projections.runner import ProjectionRunner, WorkerReport
from service.platform.settings import Settings


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """One timed rebuild: where it reached, its wall time, the CPU and peak RSS of the
    process that ran it (as `docket rebuild` would be), and its worker processes."""

    reached: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    workers: list[WorkerReport]


async def _rebuild(url: str, names: list[str] | None) -> Rebuilt:
    store = await EventStore.open(url)
    runner = ProjectionRunner(store.engine, store, rebuild_processes=Settings().rebuild_processes)
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        reached = await runner.rebuild(names)
        seconds = time.perf_counter() - start
        return Rebuilt(
            reached, seconds, time.process_time() - cpu, db.peak_rss_mb(), runner.rebuild_workers
        )
    finally:
        await runner.close()
        await store.close()


def _rebuild_here(url: str, names: list[str] | None) -> Rebuilt:
    return asyncio.run(_rebuild(url, names))


def rebuild_rate(url: str, names: list[str] | None = None) -> Rebuilt:
    """A rebuild as `docket rebuild` runs it (in worker processes on a large log unless
    DOCKET_REBUILD_PROCESSES says otherwise), in a fresh interpreter of its own: its peak
    RSS is the rebuild's, not what this process held before (generating a log, other
    benchmarks of `bench.all`). `names`: those projections only (None: every one)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_rebuild_here, url, names).result()


async def stored_rows(
    database: str, page: int = 20_000, *, sealed: bool = False
) -> list[list[tuple[Any, ...]]]:
    """The stored event rows in COPY column order (for the references); `sealed`: each
    with its sealed values' `data` and `metadata` (as JSON text) after them."""
    conn = await asyncpg.connect(db.dsn(database))
    chunks: list[list[tuple[Any, ...]]] = []
    try:
        columns = ", ".join(f"e.{c}::text" if c == "data" else f"e.{c}" for c in COLUMNS)
        source = "events e"
        if sealed:
            columns += ", s.data::text, s.metadata::text"
            source += " LEFT JOIN sealed_values s ON s.position = e.position"
        after = 0
        while True:
            rows = await conn.fetch(
                f"SELECT {columns} FROM {source} WHERE e.position > $1"
                " ORDER BY e.position LIMIT $2",
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
        pg_cpu = db.postgres_cpu_seconds()
        rebuilt = rebuild_rate(url)
        pg_cpu = db.postgres_cpu_seconds() - pg_cpu
        fold_cpu = time.process_time() + db.postgres_cpu_seconds()
        count, bare_seconds = asyncio.run(references.bare_read_fold(template))
        fold_cpu = time.process_time() + db.postgres_cpu_seconds() - fold_cpu
        written = asyncio.run(references.output_rows(database))
        gc.freeze()  # millions of rows held: the collector need not walk them
    finally:
        asyncio.run(db.drop(database))
    reached, seconds = rebuilt.reached, rebuilt.seconds
    ours = result.add("docket rebuild events/s", reached / seconds, "/s")
    result.add("  seconds", seconds, "s")
    result.add("  worker processes", len(rebuilt.workers), "")
    result.add("  CPU of the rebuild's own process", rebuilt.cpu_seconds, "s")
    result.add("  CPU of the worker processes", sum(w.cpu_seconds for w in rebuilt.workers), "s")
    result.add("  CPU of PostgreSQL (all its processes)", pg_cpu, "s")
    result.add("  peak RSS of the rebuild's own process", rebuilt.peak_rss_mb, "MB")
    workers_rss = sum(worker.peak_rss_mb for worker in rebuilt.workers)
    result.add("  peak RSS of the worker processes, summed", workers_rss, "MB")
    peak = rebuilt.peak_rss_mb + workers_rss
    result.add("  peak RSS, the rebuild + its workers", peak, "MB")
    bare = result.add("bare asyncpg read + orjson + dict fold events/s", count / bare_seconds, "/s")
    result.add("  its CPU, this process + PostgreSQL", fold_cpu, "s")
    rows, copy_seconds = asyncio.run(references.bare_copy_of_rows(written, f"{db.PREFIX}b3_copy"))
    result.add("  bare COPY of the rebuilt rows into the same tables, rows", rows, "")
    result.add("  bare COPY of the rebuilt rows, seconds", copy_seconds, "s")
    bare_copy = result.add(
        "bare read + fold + COPY of the same output rows events/s",
        count / (bare_seconds + copy_seconds),
        "/s",
    )
    # what writing the rows alone costs on this machine, with no fold: a bound on any
    # rebuild that writes them (SPEC §5's tables alone, then every table)
    named = [table for table in written if table.name in references.NAMED_TABLES]
    for label, tables in (("SPEC §5's tables", named), ("every table", written)):
        floor = asyncio.run(references.bare_write_floor(tables, f"{db.PREFIX}b3_floor"))
        result.add(f"write floor, {label}: rows", floor.rows, "")
        result.add(f"  {label}: COPY into bare tables on 2 connections", floor.copy_seconds, "s")
        result.add(f"  {label}: their indexes built after", floor.index_seconds, "s")
        result.add(f"  {label}: CPU, this process + PostgreSQL", floor.cpu_seconds, "s")
        result.add(f"  {label}: events/s the writing alone allows", reached / floor.seconds, "/s")
        # a rebuild reads, decodes and folds the log too, on the same cores
        least = (floor.cpu_seconds + fold_cpu) / (os.cpu_count() or 1)
        result.add(f"  {label}: events/s with the bare fold's CPU too", reached / least, "/s")
    del written, named, tables
    gc.unfreeze()
    gc.collect()
    chunks = asyncio.run(stored_rows(template, sealed=True))
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
    result.check("peak memory ≤ 500 MB (the rebuild + its workers)", peak <= 500)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
