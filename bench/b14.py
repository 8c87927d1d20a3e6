"""B14: erasing the sealed values of one 20-event request in a log of N events, through
the service (`service.commands.erasure.erase`: the envelopes read, `ErasureRecorded` appended and
the values replaced in one transaction, the answer built), on PostgreSQL; p50 and max
over several requests. Then B5's chain walk with 10 % of the events erased, against the
same walk of the same log before any erasure, each walk followed by B5's reference (a bare
asyncpg read + orjson decode + dict fold of the same events). Targets: ≤ 100 ms; the walk
still ≥ 100,000 events/s.

    DOCKET_BENCH_PREFIX=docket_bench_erasure_ .venv/bin/python -m bench.b14 --events 100000
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from bench import db, gen, references
from bench.b5 import verify_rate
from bench.cli import parser, report
from bench.db import Result
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from service.commands.erasure import Erase, erase
from service.commands.outcome import Meta
from service.commands.service import CommandService
from service.platform.settings import Settings
from service.platform.tokens import Caller

REQUEST_EVENTS = 20
SAMPLES = 15
CALLER = Caller("tok_bench001", "bench-secretariat", "secretariat")


async def _requests_of_20(url: str, database: str, count: int) -> list[list[int]]:
    """The positions of `count` requests of 20 events: the longest generated ones (15
    events), each given annotations up to 20 (sealed `text`, as a request's life adds)."""
    conn = await asyncpg.connect(db.dsn(database))
    try:
        rows = await conn.fetch(
            "SELECT stream_id FROM events WHERE stream_id LIKE 'request-HX-2%'"
            " GROUP BY stream_id ORDER BY count(*) DESC, stream_id LIMIT $1",
            count,
        )
    finally:
        await conn.close()
    store = await EventStore.open(url)
    found: list[list[int]] = []
    try:
        for (stream_id,) in rows:
            stream = await store.read_stream(stream_id)
            more = [
                NewEvent(
                    stream_id,
                    "EntryAnnotated",
                    {"target_position": stream[0].position, "text": f"note {n}"},
                    datetime.now(UTC),
                )
                for n in range(REQUEST_EVENTS - len(stream))
            ]
            if more:
                stream += await store.append(StreamAppend(stream_id, len(stream), more))
            found.append([e.position for e in stream[:REQUEST_EVENTS]])
    finally:
        await store.close()
    return found


async def erase_requests(url: str, requests: list[list[int]]) -> list[float]:
    """Seconds of each erasure, through the service."""
    store = await EventStore.open(url)
    commands = CommandService(store, Settings(database_url=url))
    seconds: list[float] = []
    try:
        for positions in requests:
            command = Erase(positions=positions, reason="B14", decided_by="bench")
            meta = Meta(caller=CALLER, correlation_id=uuid.uuid4().hex)
            start = time.perf_counter()
            await erase(commands, command, meta)
            seconds.append(time.perf_counter() - start)
    finally:
        await store.close()
    return seconds


async def _erased(database: str) -> set[int]:
    conn = await asyncpg.connect(db.dsn(database))
    try:
        rows = await conn.fetch("SELECT position FROM sealed_values WHERE erased_by IS NOT NULL")
    finally:
        await conn.close()
    return {row[0] for row in rows}


async def erase_share(url: str, database: str, share: float, chunk: int = 1000) -> int:
    """Erase `share` of the log's events not erased yet, `chunk` positions an erasure."""
    store = await EventStore.open(url)
    try:
        head, _ = await store.head()
        rng = random.Random(14)
        wanted = int(head * share)
        already = await _erased(database)
        left = [p for p in range(1, head + 1) if p not in already]
        chosen = sorted(rng.sample(left, max(wanted - len(already), 0)))
        for start in range(0, len(chosen), chunk):
            event = NewEvent(
                "erasures",
                "ErasureRecorded",
                {"positions": chosen[start : start + chunk], "reason": "B14", "decided_by": "b"},
                datetime.now(UTC),
            )
            await store.erase(event)
        return len(already) + len(chosen)
    finally:
        await store.close()


def run(events: int = 100_000) -> Result:
    result = Result(
        "B14", "erasure of one 20-event request; verify with 10 % erased", f"{events:,} events"
    )
    template = asyncio.run(gen.log_template(events))
    database = f"{db.PREFIX}b14"
    url = asyncio.run(db.copy_of(template, database))
    try:
        checked, seconds, ok = asyncio.run(verify_rate(url))
        before = result.add("verify_store_chain before erasure events/s", checked / seconds, "/s")
        count, seconds = asyncio.run(references.bare_read_fold(database))
        bare = result.add("bare asyncpg read + orjson + dict fold events/s", count / seconds, "/s")
        result.add("ratio to bare read + fold, before erasure", before / bare, "×")
        requests = asyncio.run(_requests_of_20(url, database, SAMPLES))
        times = asyncio.run(erase_requests(url, requests))
        p50 = result.add("erase one 20-event request p50 ms", statistics.median(times) * 1000, "ms")
        result.add("erase one 20-event request max ms", max(times) * 1000, "ms")
        result.check("p50 ≤ 100 ms", p50 <= 100)
        erased = asyncio.run(erase_share(url, database, 0.10))
        checked, seconds, ok = asyncio.run(verify_rate(url))
        after = result.add("verify_store_chain with 10 % erased events/s", checked / seconds, "/s")
        count, seconds = asyncio.run(references.bare_read_fold(database))
        bare = result.add("bare read + fold again events/s", count / seconds, "/s")
        result.add("ratio to bare read + fold, 10 % erased", after / bare, "×")
        result.add("events erased", erased, "")
        result.add("ratio to the walk before erasure", after / before, "×")
        if not ok:
            result.notes.append("the chain did NOT verify")
        result.check("≥ 100,000 events/s with 10 % erased", after >= 100_000 and ok)
    finally:
        asyncio.run(db.drop(database))
    return result


def main() -> None:
    args = parser(__doc__ or "", events=100_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
