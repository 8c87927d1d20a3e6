"""Rebuilds timed with no reference, for comparing trees or parts of the rebuild:
`python -m bench.rebuild_probe --events N [--projections a,b] [--runs K]`.

Each run copies the generated log of N events (`bench.gen`) into a fresh database and
runs B3's rebuild there (`bench.b3.rebuild_rate`: as `docket rebuild` does, in a fresh
interpreter, in worker processes on a large log), of every projection or of those named.
Printed per run: events/s, seconds, the CPU of the worker processes and of PostgreSQL
(every process of the server), the peak RSS of the rebuild and its workers, and the
rows of each table the rebuild writes (`bench.references.OUTPUT_TABLES`). B3
(`python -m bench.b3`) stays the measure of record: its references come from the same
run. Alternate the trees compared (`PYTHONPATH=...`) run by run: the machine's speed
moves by ±20 % within minutes.
"""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from bench import db, gen
from bench.b3 import rebuild_rate
from bench.references import OUTPUT_TABLES


async def _rows(database: str) -> dict[str, int]:
    """The rows of each table a rebuild writes."""
    conn = await asyncpg.connect(db.dsn(database))
    try:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in OUTPUT_TABLES
        }
    finally:
        await conn.close()


def main() -> None:
    args = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    args.add_argument("--events", type=int, default=db.default_events(200_000))
    args.add_argument("--projections", default=None, help="comma-separated (default: all)")
    args.add_argument("--runs", type=int, default=1)
    options = args.parse_args()
    names = options.projections.split(",") if options.projections else None
    template = asyncio.run(gen.log_template(options.events))
    database = f"{db.PREFIX}rebuild_probe"
    for run in range(1, options.runs + 1):
        url = asyncio.run(db.copy_of(template, database))
        try:
            server = db.postgres_cpu_seconds()
            rebuilt = rebuild_rate(url, names)
            server = db.postgres_cpu_seconds() - server
            rows = asyncio.run(_rows(database))
        finally:
            asyncio.run(db.drop(database))
        workers = sum(worker.cpu_seconds for worker in rebuilt.workers)
        peak = rebuilt.peak_rss_mb + sum(worker.peak_rss_mb for worker in rebuilt.workers)
        print(
            f"run {run}: {rebuilt.reached / rebuilt.seconds:,.0f} events/s"
            f" ({rebuilt.seconds:.1f} s), worker CPU {workers:.1f} s,"
            f" PostgreSQL CPU {server:.1f} s, peak RSS {peak:.0f} MB"
            f" [{options.projections or 'every projection'}]; rows {rows}",
            flush=True,
        )


if __name__ == "__main__":
    main()
