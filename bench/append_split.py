"""Appends/s of the store alone (no domain): 32 callers, each appending one event with
sealed fields and metadata to its own streams with an exact expected version, for a few
seconds, on PostgreSQL and SQLite. What moving the sealed values to `sealed_values`
(migration 0012, SPEC §4 "Erasure") costs an append: run it on the code before and after
(docs/OPERATIONS.md, "Erasure", has the figures).

    .venv/bin/python -m bench.append_split --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import db
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from service.platform.db import upgrade_to_head

CALLERS = 32
METADATA = {
    "actor": {"id": "tok_bench001", "name": "bench-secretariat", "role": "secretariat"},
    "correlation_id": "0" * 16,
    "causation_id": "0" * 16,
    "idempotency_key": None,
}


async def append_rate(url: str, seconds: float, callers: int = CALLERS) -> tuple[int, float]:
    """(appends, seconds) of `callers` tasks appending one event at a time."""
    store = await EventStore.open(url)
    done = 0
    stop = False

    async def caller(index: int) -> None:
        nonlocal done
        version = 0
        stream = f"request-BENCH-{index}-{uuid.uuid4().hex[:8]}"
        while not stop:
            event = NewEvent(
                stream,
                "HoldPlaced",
                {"procedure": "initial", "member": "USA", "note": f"a note {version}"},
                datetime.now(UTC),
                metadata=METADATA,
            )
            await store.append(StreamAppend(stream, version or "no_stream", [event]))
            version += 1
            done += 1

    try:
        tasks = [asyncio.create_task(caller(i)) for i in range(callers)]
        await asyncio.sleep(1.0)  # warm-up: connections, prepared statements
        start_count, started = done, time.perf_counter()
        await asyncio.sleep(seconds)
        count, elapsed = done - start_count, time.perf_counter() - started
        stop = True
        await asyncio.gather(*tasks)
    finally:
        await store.close()
    return count, elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    for run in range(args.runs):
        url = asyncio.run(db.fresh(f"{db.PREFIX}append_split"))
        count, elapsed = asyncio.run(append_rate(url, args.seconds))
        print(f"run {run + 1} postgresql: {count / elapsed:,.0f} appends/s")
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade_to_head(sqlite)
            count, elapsed = asyncio.run(append_rate(sqlite, args.seconds))
            print(f"run {run + 1} sqlite: {count / elapsed:,.0f} appends/s")
    asyncio.run(db.drop(f"{db.PREFIX}append_split"))


if __name__ == "__main__":
    main()
