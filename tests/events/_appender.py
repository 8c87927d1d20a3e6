"""Run by the store contract tests in a separate OS process: concurrent appenders racing.

Usage: python _appender.py URL TAG APPENDERS ROUNDS SHARED_STREAMS
Each appender, every round, appends one event to a shared stream at its exact current
version (retrying on conflict) together with one event to its own stream at version
`round`, atomically. Prints a JSON summary on the last line of standard output.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from events.model import ConcurrencyConflict, NewEvent, StreamAppend
from events.store import EventStore


def _event(stream_id: str, **data: object) -> NewEvent:
    return NewEvent(stream_id, "Raced", dict(data), datetime.now(UTC))


async def main(url: str, tag: str, appenders: int, rounds: int, shared: int) -> None:
    store = await EventStore.open(url)
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

    written = await asyncio.gather(*(appender(k) for k in range(appenders)))
    await store.close()
    summary = {"written": sum(written), "batches": store.stats.batches, "conflicts": conflicts}
    print(json.dumps(summary))


if __name__ == "__main__":
    url, tag, appenders, rounds, shared = sys.argv[1:6]
    asyncio.run(main(url, tag, int(appenders), int(rounds), int(shared)))
