"""Run by the store contract tests in a separate OS process: concurrent appenders racing.

Usage: python _appender.py URL TAG APPENDERS ROUNDS SHARED_STREAMS START_AT
Each appender, every round, appends one event to a shared stream at its exact current
version (retrying on conflict) together with one event to its own stream at version
`round`, atomically. Appending starts at the Unix time START_AT, so that processes
started one after the other still race. Prints a JSON summary on the last line of standard output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from events.model import ConcurrencyConflict, NewEvent, StreamAppend
from events.store import EventStore


def _event(stream_id: str, **data: object) -> NewEvent:
    return NewEvent(stream_id, "Raced", dict(data), datetime.now(UTC))


async def main(
    url: str, tag: str, appenders: int, rounds: int, shared: int, start_at: float
) -> None:
    store = await EventStore.open(url)
    await store.head()  # connect before the start
    conflicts = 0

    async def appender(k: int) -> int:
        nonlocal conflicts
        own = f"own-{tag}-{k}"
        for r in range(rounds):
            stream = f"shared-{(k + r) % shared}"
            while True:
                version = await store.stream_version(stream)
                try:
                    await store.append(
                        StreamAppend(stream, version, [_event(stream, by=own, round=r)]),
                        StreamAppend(own, r, [_event(own, round=r)]),
                    )
                    break
                except ConcurrencyConflict:
                    conflicts += 1
        return 2 * rounds

    await asyncio.sleep(max(0.0, start_at - time.time()))
    written = await asyncio.gather(*(appender(k) for k in range(appenders)))
    await store.close()
    summary = {"written": sum(written), "batches": store.stats.batches, "conflicts": conflicts}
    print(json.dumps(summary))


if __name__ == "__main__":
    url, tag, appenders, rounds, shared, start_at = sys.argv[1:7]
    asyncio.run(main(url, tag, int(appenders), int(rounds), int(shared), float(start_at)))
