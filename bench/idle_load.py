"""Idle database load of `docket serve --workers 2`: transactions per second of the
server database (`pg_stat_database`), with no subscriber and with `--subscribers` open
`/v1/events/stream` connections (issue 14: 53/s and 1,255/s before the log follower)."""

from __future__ import annotations

import argparse
import asyncio

from bench import b12, db
from bench.http import serve


async def _measure(port: int, token: str, database: str, window: float, count: int) -> None:
    await asyncio.sleep(5.0)  # the start's catch-up rounds leave the window
    idle = await b12._rate(database, window)
    print(f"2 processes, 0 subscribers: {idle:.2f} transactions/s", flush=True)
    head = await b12._head(database)
    stop = asyncio.Event()
    subscribers = [b12.Subscriber(port, token, head) for _ in range(count)]
    tasks = [asyncio.create_task(s.run(stop)) for s in subscribers]
    await b12._until(lambda: all(s.connected for s in subscribers), 60)
    await asyncio.sleep(2.0)
    loaded = await b12._rate(database, window)
    print(f"2 processes, {count} subscribers: {loaded:.2f} transactions/s", flush=True)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="each measuring window")
    p.add_argument("--subscribers", type=int, default=300)
    args = p.parse_args()
    database = f"{db.PREFIX}idle"
    url = asyncio.run(b12._copy(10_000, database))
    try:
        with serve(url, workers=2) as server:
            asyncio.run(
                _measure(server.port, server.token, database, args.seconds, args.subscribers)
            )
    finally:
        asyncio.run(db.drop(database))


if __name__ == "__main__":
    main()
