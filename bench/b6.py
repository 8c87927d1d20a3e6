"""B6: RFC 9162 inclusion and consistency proofs over HTTP at N events (one `docket
serve`, one keep-alive connection, random positions and sizes). Target: p50 ≤ 5 ms.

The Merkle tree is extended to the head before the server starts (what the checkpoint
writer keeps done). Skips, saying so, if the proof endpoints are not there.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

from bench import db, gen
from bench.cli import parser, report
from bench.db import Result
from bench.http import Session, request_bytes, serve
from events.store import EventStore


async def extend_tree(url: str) -> float | None:
    try:
        from events.log_tree import LogTree
    except ImportError:
        return None
    async with await EventStore.open(url) as store:
        start = time.perf_counter()
        await LogTree(store).extend()
        return time.perf_counter() - start


async def proofs(port: int, token: str, size: int, rounds: int = 300) -> dict[str, list[float]]:
    rng = random.Random(9162)
    session = Session(port)
    found: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    try:
        for _ in range(rounds):
            position = rng.randint(1, size)
            path = f"/v1/log/proofs/inclusion?position={position}&tree_size={size}"
            status, _, seconds = await session.send(request_bytes("GET", path, port, token))
            if status == 404 and not found["inclusion"]:
                raise LookupError("no proof endpoints")
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            found["inclusion"].append(seconds)
            old = rng.randint(1, size)
            path = f"/v1/log/proofs/consistency?from={old}&to={size}"
            status, _, seconds = await session.send(request_bytes("GET", path, port, token))
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            found["consistency"].append(seconds)
        return found
    finally:
        session.close()


def run(events: int = 200_000) -> Result:
    result = Result("B6", "inclusion and consistency proofs over HTTP", f"{events:,} events")
    template = asyncio.run(gen.log_template(events))
    database = f"{db.PREFIX}b6_run"
    url = asyncio.run(db.copy_of(template, database))
    try:
        seconds = asyncio.run(extend_tree(url))
        if seconds is None:
            result.notes.append("skipped: events.log_tree is not there")
            return result
        result.add("  tree extended to the head in", seconds, "s")
        with serve(url) as server:
            try:
                found = asyncio.run(proofs(server.port, server.token, events))
            except LookupError:
                result.notes.append("skipped: the proof endpoints are not there")
                return result
        for kind, times in found.items():
            p50 = result.add(f"{kind} proof p50", statistics.median(times) * 1000, "ms")
            result.add(f"{kind} proof p99", sorted(times)[int(len(times) * 0.99)] * 1000, "ms")
            result.check(f"{kind} p50 ≤ 5 ms", p50 <= 5)
    finally:
        asyncio.run(db.drop(database))
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
