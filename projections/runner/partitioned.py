"""A rebuild in worker processes (PostgreSQL): the log partitioned by request stream.

Every registered projection reads request streams only, and folds each of them on its
own (`projections.read_models`): worker k of N folds the streams whose ids hash to k
modulo N (`events.store.contract.Partition`, filtered in SQL), with fresh projections and
the same fold as a rebuild in one process (`projections.runner.replay`), into committed
copies of the tables (`PartitionedRebuilds.staging`), in one transaction of its own.
When every worker has committed, the coordinator swaps the copies in with their indexes
and the checkpoints at the head, in one transaction. A worker that fails (or dies)
fails the rebuild: the others are stopped and the copies dropped, the tables untouched.

The workers are spawned (a fresh interpreter: no event loop, connection or lock of the
coordinator's inherited) and are handed names and numbers only; each reports its
position (for the progress bar) in a shared array, and its count, CPU time and peak
memory (or its error) on a queue.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from multiprocessing.process import BaseProcess
from typing import Any

import structlog
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from events.engines import WRITER_OPTIONS
from events.gcpause import gc_paused
from events.store import EventStore
from events.store.contract import Partition, PartitionedRebuilds
from events.types import REQUEST_STREAM_PREFIX
from projections.read_models import REGISTERED, default_projections, requests
from projections.runner.pages import PageReader
from projections.runner.replay import Progress, replay

log = structlog.get_logger("docket.projections")

#: a log of at least this many events is rebuilt in worker processes (by default)
PARALLEL_REBUILD_EVENTS = 100_000

#: at most this many worker processes by default (each holds its own caches)
MAX_DEFAULT_PROCESSES = 4

#: For tests: the worker of this partition fails after its first batch.
FAIL_PARTITION_ENV = "DOCKET_REBUILD_FAIL_PARTITION"

#: how often the coordinator looks at its workers
_POLL_SECONDS = 0.1


class RebuildWorkerFailed(RuntimeError):
    """A worker of a rebuild in processes failed or died; the rebuild left nothing."""


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What one worker process of a rebuild reported at its end."""

    index: int
    events: int
    #: from the worker's start (its interpreter's) to its commit
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float


def default_processes() -> int:
    """How many workers a large rebuild runs when not told: a core each, up to 4."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))


def partitionable(store: EventStore, projections: Sequence[Any]) -> bool:
    """Whether these projections of this store can be rebuilt in worker processes: a
    backend that reads partitions, registered projections only (a worker makes its own
    by name) and the default upcasters (a worker opens the store with them)."""
    from events.upcasting import registry

    registered = tuple(make for make in REGISTERED if isinstance(make, type))
    return (
        store.partitioned_rebuilds is not None
        and store.upcasters is registry
        and all(type(projection) in registered for projection in projections)
    )


async def rebuild_in_processes(
    store: EventStore,
    names: Sequence[str],
    tables: Sequence[Table],
    *,
    head: int,
    processes: int,
    batch_size: int,
    time_zone: tzinfo,
    finish: Callable[[AsyncConnection], Awaitable[None]],
    progress: Progress | None = None,
) -> list[WorkerReport]:
    """The projections `names` (their `tables`) rebuilt from the log up to `head` by
    `processes` workers and swapped in with `finish(conn)` (the checkpoints) in the
    swap's transaction; what each worker reported."""
    partitioned = store.partitioned_rebuilds
    if partitioned is None:
        raise ValueError("this store's backend offers no rebuild in processes")
    url = store.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    reached = context.Array("q", processes, lock=False)
    reports: multiprocessing.Queue[tuple[int, str | None, WorkerReport | None]] = context.Queue()
    if progress is not None:
        progress(0, head)
    # the workers' pages together hold as many events as one process's: a batch's
    # memory (its events, states after each event, rows) is most of a worker's
    pages = max(batch_size // processes, 1)
    started = time.monotonic()
    async with partitioned.staging(tables) as staged:
        staged_at = time.monotonic()
        workers: list[BaseProcess] = []
        try:
            for index in range(processes):
                partition = Partition(REQUEST_STREAM_PREFIX, index, processes)
                worker = context.Process(
                    target=_work,
                    args=(url, list(names), partition, head, staged.home, pages),
                    kwargs={"time_zone": time_zone, "reached": reached, "reports": reports},
                    name=f"docket-rebuild-{index}",
                    daemon=True,
                )
                worker.start()
                workers.append(worker)
            done = await _watch(workers, reports, reached, head, progress)
        finally:
            await _stop(workers)
            reports.close()
        folded_at = time.monotonic()
        await staged.swap(finish)
    log.info(
        "docket.projections.rebuild_swapped",
        staging_s=round(staged_at - started, 3),
        workers_s=round(folded_at - staged_at, 3),
        swap_s=round(time.monotonic() - folded_at, 3),
    )
    if progress is not None:
        progress(head, head)
    return done


async def _watch(
    workers: Sequence[BaseProcess],
    reports: multiprocessing.Queue[tuple[int, str | None, WorkerReport | None]],
    reached: Any,
    head: int,
    progress: Progress | None,
) -> list[WorkerReport]:
    """Wait for every worker's report; raise `RebuildWorkerFailed` at the first that
    failed or died without one."""
    done: dict[int, WorkerReport] = {}
    while len(done) < len(workers):
        await asyncio.sleep(_POLL_SECONDS)
        while True:
            try:
                index, error, report = reports.get_nowait()
            except queue.Empty:
                break
            if error is not None or report is None:
                raise RebuildWorkerFailed(f"rebuild worker {index} failed: {error}")
            done[index] = report
        for index, worker in enumerate(workers):
            if index not in done and not worker.is_alive() and reports.empty():
                # its report may still be in the pipe: one more look before giving up
                await asyncio.sleep(_POLL_SECONDS)
                if reports.empty():
                    raise RebuildWorkerFailed(
                        f"rebuild worker {index} died (exit code {worker.exitcode})"
                    )
        if progress is not None:
            progress(min(min(reached[:]), head), head)
    return [done[index] for index in sorted(done)]


async def _stop(workers: Sequence[BaseProcess]) -> None:
    """Every worker ended (terminated if still running) and reaped."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        await asyncio.to_thread(worker.join, 10)
        if worker.is_alive():
            worker.kill()
            await asyncio.to_thread(worker.join)


# -- in the worker process ------------------------------------------------------------


def _work(
    url: str,
    names: list[str],
    partition: Partition,
    head: int,
    home: str,
    batch_size: int,
    *,
    time_zone: tzinfo,
    reached: Any,
    reports: multiprocessing.Queue[tuple[int, str | None, WorkerReport | None]],
) -> None:
    """A worker's process: its partition folded and committed, and its report sent."""
    index = partition.index
    started = time.monotonic()
    try:
        events = asyncio.run(
            _fold_partition(url, names, partition, head, home, batch_size, time_zone, reached)
        )
    except BaseException as error:
        reports.put((index, repr(error), None))
        raise SystemExit(1) from None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    seconds = time.monotonic() - started
    report = WorkerReport(index, events, seconds, cpu, usage.ru_maxrss / 1024)
    reports.put((index, None, report))


async def _fold_partition(
    url: str,
    names: list[str],
    partition: Partition,
    head: int,
    home: str,
    batch_size: int,
    time_zone: tzinfo,
    reached: Any,
) -> int:
    parent = os.getppid()
    fail = os.environ.get(FAIL_PARTITION_ENV) == str(partition.index)
    index = partition.index

    def report(done: int, total: int) -> None:
        if os.getppid() != parent:  # the coordinator died: its rebuild is void
            raise RebuildWorkerFailed("the rebuild's coordinator is gone")
        if fail and done > 0:
            raise RuntimeError(f"{FAIL_PARTITION_ENV}: worker {index} fails as told")
        reached[index] = done

    # this process folds 1/N of the requests: it keeps 1/N of the states a rebuild in
    # one process keeps, for the same share of them
    requests.CACHED_REQUESTS = max(requests.CACHED_REQUESTS // partition.count, 1_000)
    store = await EventStore.open(url)
    try:
        partitioned = store.partitioned_rebuilds
        assert isinstance(partitioned, PartitionedRebuilds)
        chosen = [p for p in default_projections() if p.name in names]
        pages = PageReader(store, batch_size, partition)
        # (no logging here: the worker's structlog is not the coordinator's; its report
        # is logged there)
        with gc_paused():  # for the whole replay: see `events.gcpause`
            async with store.engine.execution_options(**WRITER_OPTIONS).begin() as conn:
                await partitioned.fill_staging(conn, home)
                return await replay(conn, chosen, pages, store, time_zone, head, report)
    finally:
        await store.close()
