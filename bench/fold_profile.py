"""The Python CPU of a rebuild's fold, without a database: `python -m bench.fold_profile
--events N [--profile OUT] [--top K]`.

A generated log (`bench.gen.rows`, a fixed seed and clock; kept in memory only, cached
as a pickle under the system's temp dir) is turned into the light events a rebuild
folds (the runner's raw-page events: data whole, times aware) and handed in batches of
10,000 to fresh registered projections (`projections.read_models`), the cyclic collector
paused, as `projections.runner.replay` hands them, with a log read from memory (streams
for the few cache misses and retractions). Each batch's writes, and at the end what the
rebuild held back (`Projection.held`), are then flushed into a connection and a table
writer that take the rows and write nothing, so the rows' records are built as a
rebuild builds them.

Printed: µs of CPU per event for the shared request fold (`RequestFold`), each
projection's `apply` beyond it, the flushes, and the whole. `--profile OUT` runs it
under cProfile (stats dumped to OUT) and prints the top `--top` functions by own time
and by cumulative time. `--cache N` keeps N request states (and interval heads) as a
worker of a rebuild in processes does (2,000); the default is a rebuild's in one
process. No other process is involved: run it twice, alternated with the tree compared
to (`PYTHONPATH=...`), and compare the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pickle
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import gen
from events.gcpause import gc_paused
from projections.projection import Batch, EventRow
from projections.read_models import default_projections, requests
from projections.read_models.requests import RequestFold
from projections.runner.pages import RowEvent

#: the generated log's clock (its business times end about there)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BATCH = 10_000


def _event(row: tuple[Any, ...]) -> RowEvent:
    """A generated row as a rebuild's raw pages hand it to the projections, sealed values
    merged into `data`."""
    data = {**orjson.loads(row[6]), **orjson.loads(row[12])}
    return RowEvent(row[0], row[2], row[3], row[4], data, orjson.loads(row[13]), row[7], row[8])


def load(events: int) -> list[RowEvent]:
    """The generated log of `events` events, in position order."""
    cache = Path(tempfile.gettempdir()) / f"docket_fold_profile_{events}.pickle"
    if cache.exists():
        rows: list[tuple[Any, ...]] = pickle.loads(cache.read_bytes())
    else:
        rows = [row for chunk in gen.rows(events, now=NOW) for row in chunk]
        cache.write_bytes(pickle.dumps(rows))
    return [_event(row) for row in rows]


class MemoryLog:
    """The reads of the log a projection makes (`LogReader`), from memory."""

    def __init__(self, events: Iterable[RowEvent]) -> None:
        self.streams: dict[str, list[RowEvent]] = defaultdict(list)
        self.by_position: dict[int, RowEvent] = {}
        for event in events:
            self.streams[event.stream_id].append(event)
            self.by_position[event.position] = event

    async def read_stream(self, stream_id: str, *, to_position: int | None = None) -> list[Any]:
        stream = self.streams.get(stream_id, [])
        return [e for e in stream if to_position is None or e.position <= to_position]

    async def envelopes(self, positions: Iterable[int]) -> list[tuple[int, str, str]]:
        found = (self.by_position.get(p) for p in positions)
        return [(e.position, e.stream_id, e.event_type) for e in found if e is not None]


class Sink:
    """A connection and a table writer that take every row and write nothing."""

    async def execute(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []  # empty tables: nothing to load at `start`

    def __getattr__(self, name: str) -> Any:
        async def take(*args: Any, **kwargs: Any) -> None:
            return None

        return take


async def fold(events: list[RowEvent]) -> dict[str, float]:
    """Seconds of CPU per part of the fold of `events` (see the module)."""
    log = MemoryLog(events)
    projections = default_projections()
    sink = Sink()
    spent: dict[str, float] = defaultdict(float)
    shared: dict[type[Any], Any] = {}
    clock = time.process_time
    for projection in projections:
        await projection.start(sink)  # type: ignore[arg-type]
    for start in range(0, len(events), BATCH):
        page: list[EventRow] = list(events[start : start + BATCH])
        batch = Batch(start, page[-1].position, log, UTC, shared, rebuilding=True)
        began = clock()
        await batch.shared(RequestFold).fold(batch, page)
        spent["request fold (shared)"] += clock() - began
        writes = []
        for projection in projections:
            began = clock()
            writes.append(await projection.apply(batch, page))
            spent[f"apply {projection.name}"] += clock() - began
        for projection, one in zip(projections, writes, strict=True):
            began = clock()
            await one.flush(sink, sink)  # type: ignore[arg-type]
            spent[f"flush {projection.name}"] += clock() - began
    for projection in projections:  # what the rebuild held back, written at its end
        began = clock()
        held = projection.held()
        if held is not None:
            await held.flush(sink, sink)  # type: ignore[arg-type]
        spent[f"flush {projection.name}"] += clock() - began
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--profile", default=None, help="cProfile stats to this file")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--cache",
        type=int,
        default=requests.CACHED_REQUESTS,
        help="request states kept (a rebuild's worker keeps `rebuild_worker.WORKER_CACHE`)",
    )
    args = parser.parse_args()
    requests.CACHED_REQUESTS = args.cache
    events = load(args.events)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    with gc_paused():  # as a rebuild folds (`projections.runner.replay`'s callers)
        spent = asyncio.run(fold(events))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    count = len(events)
    for part, seconds in spent.items():
        print(f"{part:40} {seconds * 1e6 / count:8.2f} µs/event")
    total = sum(spent.values())
    print(f"{'total':40} {total * 1e6 / count:8.2f} µs/event ({count:,} events, {total:.2f} s)")
    if profiler is not None:
        stats = pstats.Stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
