"""B3: rebuild of every projection (`ProjectionRunner.rebuild`) from N events.
Target: ≥ 100,000 events/s, ≥ 2× the peer's replay, ≥ 0.5× a bare read + fold + COPY of
the same output rows, peak memory ≤ 500 MB.

References in the same run: the peer's notification-log replay of the same events; a bare
asyncpg read + orjson decode + dict fold of them (the interpreter's limit); and that read
and fold plus a bare COPY of the very rows the rebuild wrote into the same (migrated,
indexed) tables of a fresh database. The bare fold does not compute those rows (they are
taken from the rebuilt tables, their reading not timed), so this reference is a lower
bound of any reader that folds the log into them: the ratio to it is not flattered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from bench import db, gen, references
from bench.cli import parser, report
from bench.db import Result
from bench.gen import COLUMNS
from events.store import EventStore
from projections.runner import ProjectionRunner


async def rebuild_rate(url: str) -> tuple[int, float]:
    store = await EventStore.open(url)
    runner = ProjectionRunner(store.engine, store)
    try:
        start = time.perf_counter()
        reached = await runner.rebuild()
        return reached, time.perf_counter() - start
    finally:
        await runner.close()
        await store.close()


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
        reached, seconds = asyncio.run(rebuild_rate(url))
        rss = db.peak_rss_mb()
        rows, copy_seconds = asyncio.run(
            references.bare_copy_of_rows(database, f"{db.PREFIX}b3_copy")
        )
    finally:
        asyncio.run(db.drop(database))
    ours = result.add("docket rebuild events/s", reached / seconds, "/s")
    result.add("  seconds", seconds, "s")
    result.add("  peak RSS of the process (rebuild done)", rss, "MB")
    result.add("  peak RSS before the rebuild", rss_before, "MB")
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
    result.check("peak memory ≤ 500 MB", rss <= 500)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
