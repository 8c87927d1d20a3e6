"""B1: single-event commands (place/release holds on 1,000 circulated requests), 32
concurrent callers, through `service.commands.service.CommandService` in process, on PostgreSQL
(and SQLite, for information). Target: ≥ 5,000/s, ≥ 10× the peer, ≥ 0.3× a bare
group-commit loop.

Each caller owns every 32nd request and alternates `PlaceHold(USA)` / `ReleaseHold`
on them; commands are counted after a warm-up pass that fills the state cache.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench import db, gen, references
from bench.cli import parser, report
from bench.db import Result
from events.store import EventStore
from service.commands.outcome import Meta
from service.commands.service import CommandService
from service.platform.settings import Settings
from service.platform.tokens import Caller
from service.rules import commands as cmd

CALLERS = 32
CALLER = Caller("tok_bench001", "bench-secretariat", "secretariat")


async def command_rate(
    url: str, requests: list[str], *, callers: int = CALLERS, seconds: float = 8.0,
    warmup: float = 2.0,
) -> tuple[int, float, dict[str, int]]:  # fmt: skip
    """(commands, seconds, store stats) of place/release-hold commands on `requests`."""
    store = await EventStore.open(url)
    service = CommandService(store, Settings(database_url=url))
    place, release = cmd.PlaceHold(member="USA"), cmd.ReleaseHold()
    done = 0
    stop = False

    async def caller(k: int) -> None:
        nonlocal done
        mine = requests[k::callers]
        serial = 0
        while not stop:
            for request_id in mine:
                serial += 1
                meta = Meta(CALLER, f"bench-{k}-{serial}")
                await service.run(place, meta, request_id=request_id)
                await service.run(release, meta, request_id=request_id, member="USA")
                done += 2
                if stop:
                    return

    try:
        tasks = [asyncio.create_task(caller(k)) for k in range(callers)]
        await asyncio.sleep(warmup)
        before, start = done, time.perf_counter()
        batches_before = store.stats.batches
        await asyncio.sleep(seconds)
        counted, elapsed = done - before, time.perf_counter() - start
        batches = store.stats.batches - batches_before
        stop = True
        await asyncio.gather(*tasks)
        stats = {"batches": batches, "conflicts": store.stats.conflicts}
        return counted, elapsed, stats
    finally:
        await store.close()


async def postgres_rate(
    events: int, seconds: float, name: str = "b1"
) -> tuple[float, dict[str, int]]:
    template = await gen.log_template(events)
    url = await db.copy_of(template, f"{db.PREFIX}{name}_run")
    try:
        count, elapsed, stats = await command_rate(url, gen.open_request_ids(), seconds=seconds)
    finally:
        await db.drop(f"{db.PREFIX}{name}_run")
    return count / elapsed, stats


async def sqlite_rate(events: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        path = Path(tmp) / "b1.db"
        await asyncio.to_thread(gen.write_sqlite, path, events)
        count, elapsed, _ = await command_rate(
            f"sqlite+aiosqlite:///{path}", gen.open_request_ids(), seconds=seconds
        )
    return count / elapsed


def run(events: int = 10_000, seconds: float = 8.0, *, sqlite: bool = True) -> Result:
    result = Result(
        "B1",
        "place/release holds, 32 callers, CommandService in process",
        f"log of {events:,} events, 1,000 open requests",
    )
    ours, stats = asyncio.run(postgres_rate(events, seconds))
    result.add("docket commands/s (PostgreSQL)", ours, "/s")
    result.add("  transactions (group commits) in the window", stats["batches"], "")
    if sqlite:
        result.add(
            "docket commands/s (SQLite, info)", asyncio.run(sqlite_rate(events, seconds)), "/s"
        )
    submissions = [
        gen._submission(__import__("random").Random(n), f"HX-OPEN-{n:05d}") for n in range(50)
    ]
    count, elapsed = references.peer_commands("postgres", seconds=seconds, submissions=submissions)
    peer_pg = result.add("peer (eventsourcing 9.5) commands/s, PostgreSQL", count / elapsed, "/s")
    count, elapsed = references.peer_commands("sqlite", seconds=seconds, submissions=submissions)
    result.add("peer (eventsourcing 9.5) commands/s, SQLite", count / elapsed, "/s")
    appends, elapsed, batches = asyncio.run(
        references.bare_group_commit(f"{db.PREFIX}bare_gc", seconds=seconds)
    )
    bare = result.add("bare asyncpg group-commit loop appends/s", appends / elapsed, "/s")
    result.add("  bare loop transactions", batches, "")
    result.add("ratio to peer (PostgreSQL)", ours / peer_pg, "×")
    result.add("ratio to bare group-commit loop", ours / bare, "×")
    result.check("≥ 5,000 commands/s", ours >= 5000)
    result.check("≥ 10× the peer", ours / peer_pg >= 10)
    result.check("≥ 0.3× the bare group-commit loop", ours / bare >= 0.3)
    return result


def main() -> None:
    p = parser(__doc__ or "", events=10_000)
    p.add_argument("--no-sqlite", action="store_true")
    args = p.parse_args()
    report(run(args.events, args.seconds, sqlite=not args.no_sqlite), args.json)


if __name__ == "__main__":
    main()
