"""B5: `docket verify`'s chain walk (`events.verify_chain.verify_store_chain`) of N
events. Target: ≥ 100,000 events/s. Also, for information, the whole `verify_log`
(chain, Merkle root, checkpoints) when it is there.

Reference in the same run: a bare asyncpg read + orjson decode + dict fold of the same
events (reading alone, no hashing).
"""

from __future__ import annotations

import asyncio
import time

from bench import db, gen, references
from bench.cli import parser, report
from bench.db import Result
from events.store import EventStore
from events.verify_chain import verify_store_chain


async def verify_rate(url: str) -> tuple[int, float, bool]:
    store = await EventStore.open(url)
    try:
        start = time.perf_counter()
        chain = await verify_store_chain(store)
        return chain.checked, time.perf_counter() - start, chain.ok
    finally:
        await store.close()


async def verify_log_rate(url: str) -> tuple[int, float] | None:
    try:
        from events.verify_log import verify_log
    except ImportError:
        return None
    store = await EventStore.open(url)
    try:
        start = time.perf_counter()
        report = await verify_log(store, None)
        return report.chain.checked, time.perf_counter() - start
    finally:
        await store.close()


def run(events: int = 200_000) -> Result:
    result = Result("B5", "verify of the hash chain", f"{events:,} events")
    template = asyncio.run(gen.log_template(events))
    checked, seconds, ok = asyncio.run(verify_rate(db.url(template)))
    ours = result.add("verify_store_chain events/s", checked / seconds, "/s")
    if not ok:
        result.notes.append("the chain did NOT verify")
    full = asyncio.run(verify_log_rate(db.url(template)))
    if full is not None:
        result.add(
            "verify_log (chain + Merkle + checkpoints) events/s, info", full[0] / full[1], "/s"
        )
    count, seconds = asyncio.run(references.bare_read_fold(template))
    bare = result.add("bare asyncpg read + orjson + dict fold events/s", count / seconds, "/s")
    result.add("ratio to bare read + fold", ours / bare, "×")
    result.check("≥ 100,000 events/s", ours >= 100_000)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
