"""Idle database load of `docket serve --workers 2`: transactions per second of the
server database (`pg_stat_database`), with no subscriber and with `--subscribers` open
`/v1/events/stream` connections (issue 14: 53/s and 1,255/s before the log follower).
`--separate-work`: the two API processes with DOCKET_SERVE_BACKGROUND=false and one
`docket work` beside them (docs/OPERATIONS.md)."""

from __future__ import annotations

import argparse
import asyncio

from bench import b12, db
from bench.http import serve


async def _measure(port: int, token: str, database: str, window: float, count: int) -> None:
    await asyncio.sleep(11.0)  # the start's catch-up rounds (and their statistics) leave it
    idle = await b12._rate(database, window)
    print(f"2 processes, 0 subscribers: {idle:.2f} transactions/s", flush=True)
    head = await b12._head(database)
    stop = asyncio.Event()
    subscribers = [b12.Subscriber(port, token, head) for _ in range(count)]
    tasks = [asyncio.create_task(s.run(stop)) for s in subscribers]
    await b12._until(lambda: all(s.connected for s in subscribers), 60)
    # an idle backend reports its transactions to pg_stat_database up to 10 s late
    # (PostgreSQL's PGSTAT_IDLE_INTERVAL): the connections' own must leave the window
    await asyncio.sleep(11.0)
    loaded = await b12._rate(database, window)
    reconnects = sum(s.reconnects for s in subscribers)
    print(
        f"2 processes, {count} subscribers: {loaded:.2f} transactions/s"
        f" ({reconnects} reconnections)",
        flush=True,
    )
    failures = {s.failed for s in subscribers if s.failed}
    if failures:
        print(f"  subscribers' last failures: {sorted(failures)[:3]}", flush=True)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="each measuring window")
    p.add_argument("--subscribers", type=int, default=300)
    p.add_argument("--separate-work", action="store_true", help="the background work apart")
    args = p.parse_args()
    database = f"{db.PREFIX}idle"
    url = asyncio.run(b12._copy(10_000, database))
    try:
        with serve(url, workers=2, separate_work=args.separate_work) as server:
            asyncio.run(
                _measure(server.port, server.token, database, args.seconds, args.subscribers)
            )
    finally:
        asyncio.run(db.drop(database))


if __name__ == "__main__":
    main()
