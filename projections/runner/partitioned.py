"""A rebuild in worker processes (PostgreSQL): the log partitioned by request stream.

Every registered projection reads request streams only, and folds each of them on its
own (`projections.read_models`): worker k of N folds the streams whose ids hash to k
modulo N (`events.store.contract.Partition`, filtered in SQL), with fresh projections and
the same fold as a rebuild in one process (`projections.runner.replay`), into committed
copies of the tables (`PartitionedRebuilds.staging`), in one transaction of its own.
When every worker has committed, the coordinator swaps the copies in with their indexes
and the checkpoints at the head, in one transaction. A worker that fails (or dies)
fails the rebuild: the others are stopped and the copies dropped, the tables untouched.

A worker is a fresh interpreter (`python -m projections.runner`, `rebuild_worker`: no event
loop, connection or lock of the coordinator's inherited, and none of its modules
imported but what folding needs), handed names and numbers on stdin; it reports its
position (for the progress bar) and at its end its count, CPU time and peak memory (or
its error) on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import tzinfo
from typing import Any

import structlog
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store import EventStore
from events.store.contract import Partition
from events.types import REQUEST_STREAM_PREFIX
from events.upcasting import registry as default_upcasters
from projections.errors import ProjectionError
from projections.read_models import REGISTERED
from projections.runner.rebuild_worker import LINE_PREFIX, Job, WorkerReport
from projections.runner.replay import Progress

log = structlog.get_logger("docket.projections")

#: a log of at least this many events is rebuilt in worker processes (by default)
PARALLEL_REBUILD_EVENTS = 100_000

#: at most this many worker processes by default (each holds its own caches)
MAX_DEFAULT_PROCESSES = 4


class RebuildWorkerFailed(ProjectionError, RuntimeError):
    """A worker of a rebuild in processes failed or died; the rebuild left nothing."""


def default_processes() -> int:
    """How many workers a large rebuild runs when not told: a core each, up to 4."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))


def partitionable(store: EventStore, projections: Sequence[Any]) -> bool:
    """Whether these projections of this store can be rebuilt in worker processes: a
    backend that reads partitions, registered projections only (a worker makes its own
    by name) and the default upcasters (a worker opens the store with them)."""
    registered = tuple(make for make in REGISTERED if isinstance(make, type))
    return (
        store.partitioned_rebuilds is not None
        and store.upcasters is default_upcasters
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
    # each worker reads pages of a whole batch of its own streams: a batch costs a
    # worker its writes' statements, a settling update for each row that spans two
    # batches and a new document for each request that does, so fewer, larger batches
    # fold for less CPU (at 1,000,000 events in 2 workers, 10,000 events a page took
    # 42 s of their CPU where 5,000 took 51 s); their memory is what bounds the size
    # (`rebuild_worker.WORKER_CACHE`)
    reached = [0] * processes
    if progress is not None:
        progress(0, head)

    def advanced(index: int, position: int) -> None:
        reached[index] = position
        if progress is not None:
            progress(min(reached), head)

    started = time.monotonic()
    async with partitioned.staging(tables) as staged:
        staged_at = time.monotonic()
        jobs = [
            Job(
                url,
                list(names),
                Partition(REQUEST_STREAM_PREFIX, index, processes),
                head,
                staged.home,
                batch_size,
                time_zone,
            )
            for index in range(processes)
        ]
        done = await _run_workers(jobs, advanced)
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


async def _run_workers(
    jobs: Sequence[Job], advanced: Callable[[int, int], None]
) -> list[WorkerReport]:
    """Every job done by a worker process of its own; at the first that fails, the
    others are stopped and `RebuildWorkerFailed` raised."""
    workers: list[asyncio.subprocess.Process] = []
    followed: list[asyncio.Task[WorkerReport]] = []
    try:
        for job in jobs:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "projections.runner",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            workers.append(worker)
            followed.append(asyncio.create_task(_follow(job.partition.index, worker, advanced)))
            assert worker.stdin is not None
            worker.stdin.write(pickle.dumps(job))
            await worker.stdin.drain()
            worker.stdin.close()
        await asyncio.wait(followed, return_when=asyncio.FIRST_EXCEPTION)
        for task in followed:
            if task.done() and task.exception() is not None:
                raise RebuildWorkerFailed(str(task.exception()))
        return [task.result() for task in followed]
    finally:
        for task in followed:
            task.cancel()
        await asyncio.gather(*followed, return_exceptions=True)
        await asyncio.shield(_stop(workers))


async def _follow(
    index: int, worker: asyncio.subprocess.Process, advanced: Callable[[int, int], None]
) -> WorkerReport:
    """The worker's lines read to its end: its positions handed to `advanced`, its
    report returned; `RebuildWorkerFailed` if it failed or ended without one."""
    assert worker.stdout is not None
    report: WorkerReport | None = None
    error = "it ended without a report"
    async for raw in worker.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if not line.startswith(LINE_PREFIX):
            continue
        kind, _, rest = line[len(LINE_PREFIX) :].partition(" ")
        if kind == "reached":
            advanced(index, int(rest))
        elif kind == "done":
            report = WorkerReport(**json.loads(rest))
        elif kind == "failed":
            error = rest
    code = await worker.wait()
    if report is None or code != 0:
        raise RebuildWorkerFailed(f"rebuild worker {index} failed (exit {code}): {error}")
    return report


async def _stop(workers: Sequence[asyncio.subprocess.Process]) -> None:
    """Every worker ended and reaped (terminated if still running: SIGTERM, then
    SIGKILL after 10 s)."""
    for worker in workers:
        if worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.terminate()
    for worker in workers:
        try:
            await asyncio.wait_for(worker.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
            await worker.wait()
