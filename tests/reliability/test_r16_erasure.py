"""R16 (SPEC §11): `docket erase` under load, and `kill -9` in the middle of one: all of
the erasure or none; afterwards no erased value in the log's tables and the chain
verifies, with the values not erased all there. On both backends.

The load is this process appending to other streams (each event with a canary in a
sealed field) while `docket erase` runs in a subprocess; the kills land at spread-out
moments of the subprocess's life (before it connects, during its transaction, after its
commit): whichever it is, the log holds the `ErasureRecorded` and every position it names
erased, or neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from datetime import UTC, datetime

from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.verify_chain import verify_store_chain
from tests.reliability.conftest import SOAK

T0 = datetime(2026, 2, 5, 15, 4, 5, tzinfo=UTC)
KILLS = 12 if SOAK else 4
ERASED_PER_RUN = 400


async def _fill(store: EventStore, stream: str, count: int) -> None:
    events = [
        NewEvent(stream, "Noted", {"secret": f"canary-{stream}-{n}"}, T0) for n in range(count)
    ]
    await store.append(StreamAppend(stream, "any", events))


async def _load(store: EventStore, stop: asyncio.Event) -> int:
    """Appends of single events to streams of their own until `stop`; how many."""
    count = 0
    while not stop.is_set():
        stream = f"load-{count % 16}"
        await store.append(
            StreamAppend(stream, "any", [NewEvent(stream, "Noted", {"secret": "canary-load"}, T0)])
        )
        count += 1
    return count


async def _erase(url: str, positions: list[int], kill_after: float | None) -> int | None:
    """`docket erase` of `positions` in a subprocess, killed (SIGKILL) after `kill_after`
    seconds if it still runs; its exit code (None: killed)."""
    args = [arg for p in positions for arg in ("--position", str(p))]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from service.cli import app; app()",
        "erase",
        *args,
        "--reason",
        "R16",
        "--decided-by",
        "the test",
        env={**os.environ, "DOCKET_DATABASE_URL": url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if kill_after is None:
        return await process.wait()
    try:
        return await asyncio.wait_for(process.wait(), kill_after)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()
        return None


async def _all_or_none(store: EventStore, positions: list[int]) -> str:
    """'all' if an ErasureRecorded names `positions` and each is erased, 'none' if neither;
    anything else fails the test."""
    events = await store.read_all(0, 1_000_000)
    named = [
        e for e in events if e.event_type == "ErasureRecorded" and e.data["positions"] == positions
    ]
    erased = [e.position for e in events if e.position in set(positions) and e.erased]
    if named:
        assert len(named) == 1 and erased == positions
        by = named[0].position
        assert all(
            e.metadata == {"erased": True, "by": by} for e in events if e.position in set(positions)
        )
        return "all"
    assert erased == [], erased
    assert all("canary" in e.data["secret"] for e in events if e.position in set(positions))
    return "none"


async def test_r16_erasure_under_load_and_killed_is_all_or_none(
    store: EventStore, database_url: str
) -> None:
    for n in range(KILLS + 1):
        await _fill(store, f"target-{n}", ERASED_PER_RUN)
    targets = {
        n: [e.position for e in await store.read_stream(f"target-{n}")] for n in range(KILLS + 1)
    }

    # under load: the erasure completes, the appends around it go on
    stop = asyncio.Event()
    load = asyncio.create_task(_load(store, stop))
    code = await _erase(database_url, targets[0], None)
    stop.set()
    appended = await load
    assert code == 0 and appended > 0
    assert await _all_or_none(store, targets[0]) == "all"

    # kill -9 at moments spread over the subprocess's life, under load
    rng = random.Random(16)
    outcomes: list[str] = []
    for n in range(1, KILLS + 1):
        stop = asyncio.Event()
        load = asyncio.create_task(_load(store, stop))
        await _erase(database_url, targets[n], rng.uniform(0.8, 3.0))
        stop.set()
        await load
        outcomes.append(await _all_or_none(store, targets[n]))
    report = await verify_store_chain(store)
    assert report.ok, report
    # the values not erased are all there; the erased ones nowhere in the log's rows
    for event in await store.read_all(0, 1_000_000):
        if event.event_type == "Noted":
            assert event.erased or event.data["secret"].startswith("canary")
    print(f"R16 kills: {outcomes}")
