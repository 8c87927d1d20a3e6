"""One worker of a rebuild in processes (`projections.runner.partitioned`), run as
`python -m projections.runner` (`main`): a fresh interpreter that imports only
what folding needs (not the coordinator's main module, nor anything it inherited).

Its job (a `Job`, pickled) comes on stdin; on stdout it writes `reached <position>`
after each batch written, then `done <report as JSON>` after its commit, or `failed
<error>`. It stops at its next batch when the coordinator is gone (its parent changed).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import tzinfo
from typing import IO

from events.engines import WRITER_OPTIONS
from events.gcpause import gc_paused
from events.store import EventStore
from events.store.contract import Partition
from projections.read_models import default_projections, requests
from projections.runner.pages import PageReader
from projections.runner.replay import replay

#: For tests: the worker of this partition (`<index>`) fails after its first batch, or
#: (`<index>:killed`) is killed then, with no word to the coordinator.
FAIL_PARTITION_ENV = "DOCKET_REBUILD_FAIL_PARTITION"

#: The most request states a worker keeps (`requests.CACHED_REQUESTS`): requests are
#: active within windows of the log, so at 1,000,000 events in 2 workers 2,000 each fold
#: for no more CPU than 5,000 (no state read back from its stream) and leave the memory
#: to the worker's pages of a whole batch: 469 MB in all at the peak, against 497 MB
#: with 5,000.
WORKER_CACHE = 2_000

#: how each line the worker writes for the coordinator starts
LINE_PREFIX = "docket-rebuild-worker "


@dataclass(frozen=True, slots=True)
class Job:
    """What a worker is handed: names and numbers, nothing of the coordinator's state."""

    url: str
    names: list[str]
    partition: Partition
    head: int
    home: str  # the schema of the tables (the staged copies are in the rebuild's)
    batch_size: int
    time_zone: tzinfo


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What one worker process of a rebuild reported at its end."""

    index: int
    events: int
    #: from the worker's start (its interpreter's) to its commit
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float


async def fold_partition(job: Job, out: IO[str]) -> int:
    """The job's partition folded into the staged copies and committed; how many
    events it folded."""
    partition = job.partition
    parent = os.getppid()
    fault = os.environ.get(FAIL_PARTITION_ENV, "").partition(":")
    fail = fault[0] == str(partition.index)

    def report(done: int, total: int) -> None:
        if os.getppid() != parent:  # the coordinator died: its rebuild is void
            raise RuntimeError("the rebuild's coordinator is gone")
        if fail and done > 0:
            if fault[2] == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"{FAIL_PARTITION_ENV}: worker {partition.index} fails as told")
        out.write(f"{LINE_PREFIX}reached {done}\n")
        out.flush()

    # this process folds 1/N of the requests: it needs at most 1/N of the states a
    # rebuild in one process keeps
    requests.CACHED_REQUESTS = min(requests.CACHED_REQUESTS // partition.count, WORKER_CACHE)
    store = await EventStore.open(job.url)
    try:
        partitioned = store.partitioned_rebuilds
        if partitioned is None:
            raise ValueError("this store's backend offers no rebuild in processes")
        chosen = [p for p in default_projections() if p.name in job.names]
        pages = PageReader(store, job.batch_size, partition)
        with gc_paused():  # for the whole replay: see `events.gcpause`
            writer = store.engine.execution_options(**WRITER_OPTIONS)
            async with writer.begin() as conn, partitioned.filling(conn, job.home):
                return await replay(conn, chosen, pages, store, job.time_zone, job.head, report)
    finally:
        await store.close()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (with uvicorn's standard extras): its
    transport takes a page of rows and sends a COPY's buffers for less of the worker's
    CPU than asyncio's own; asyncio's loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    started = time.monotonic()
    # stdout is the coordinator's channel: anything else printed goes to stderr
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    job: Job | None = None
    try:
        job = pickle.load(sys.stdin.buffer)
        assert isinstance(job, Job)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            events = runner.run(fold_partition(job, out))
    except BaseException as error:
        said = repr(error).replace("\n", " ")
        out.write(f"{LINE_PREFIX}failed {said}\n")
        out.flush()
        raise SystemExit(1) from None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    made = WorkerReport(
        job.partition.index,
        events,
        time.monotonic() - started,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
    )
    out.write(f"{LINE_PREFIX}done {json.dumps(asdict(made))}\n")
    out.flush()
