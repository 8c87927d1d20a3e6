"""B4: `docket import` of N events with every hash checked (`events.transfer.import_log`
on an exported file). Target: ≥ 50,000 events/s.

Reference in the same run: COPY of the same N event rows into a fresh database (no
checking). If the import command is not there, the store-level bulk path is measured
instead: the chain check (`verify_chain` over the parsed lines) + COPY, and it says so.
"""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
import time
from pathlib import Path

from bench import db, gen, references
from bench.b3 import stored_rows
from bench.cli import parser, report
from bench.db import Result
from events.store import EventStore


async def export(database: str, path: Path) -> int:
    from events.transfer import export_log

    async with await EventStore.open(db.url(database)) as store:
        with path.open("wb") as out:
            return await export_log(store, out)


async def import_rate(path: Path, database: str) -> tuple[int, float]:
    from events.transfer import import_log

    url = await db.fresh(database)
    try:
        async with await EventStore.open(url) as store:
            start = time.perf_counter()
            count = await import_log(store, path)
            return count, time.perf_counter() - start
    finally:
        await db.drop(database)


def run(events: int = 200_000) -> Result:
    result = Result("B4", "docket import, hashes checked", f"{events:,} events")
    template = asyncio.run(gen.log_template(events))
    if importlib.util.find_spec("events.transfer") is None:
        result.notes.append("events.transfer (docket import) is not there: nothing measured")
        return result
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        path = Path(tmp) / "log.jsonl"
        asyncio.run(export(template, path))
        result.add("  export file size", path.stat().st_size / 1e6, "MB")
        count, seconds = asyncio.run(import_rate(path, f"{db.PREFIX}b4_run"))
    ours = result.add("docket import events/s", count / seconds, "/s")
    chunks = asyncio.run(stored_rows(template))
    seconds = asyncio.run(references.copy_rows(f"{db.PREFIX}b4_copy", chunks))
    copy = result.add("COPY of the same rows, events/s", events / seconds, "/s")
    result.add("  COPY seconds", seconds, "s")
    result.add("ratio to COPY", ours / copy, "×")
    result.check("≥ 50,000 events/s", ours >= 50_000)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
