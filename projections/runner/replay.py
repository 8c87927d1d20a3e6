"""The fold of a rebuild: the log read from position 0 up to a head, folded by empty
projections and written on one connection (the rebuild's copies), batch n + 1 folded
while batch n is written; what the projections held back across batches
(`Batch.rebuilding`) is written after the last. A rebuild in this process
(`ProjectionRunner.rebuild`) and each worker of one in processes
(`projections.runner.partitioned`) run it; the latter's pages hold only its partition's
streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from events.store import EventStore
from projections.projection import Batch, Projection, Writes
from projections.runner.pages import PageReader

#: `progress(done, total)`: events applied so far out of those to apply.
Progress = Callable[[int, int], None]


async def replay(
    conn: AsyncConnection,
    projections: Sequence[Projection],
    pages: PageReader,
    store: EventStore,
    time_zone: tzinfo,
    head: int,
    progress: Progress | None = None,
) -> int:
    """Every event up to `head` (of `pages`) folded by `projections` (empty, their
    tables on `conn`) and written on `conn`; return how many events were folded."""
    for projection in projections:
        await projection.start(conn)
    shared: dict[type[Any], Any] = {}
    pages.restart()
    if progress is not None:
        progress(0, head)
    start = 0
    folded = 0
    writing: asyncio.Task[None] | None = None
    try:
        while start < head:
            page = await pages.page(start, head)
            if not page:
                break
            folded += len(page)
            batch = Batch(start, page[-1].position, store, time_zone, shared, rebuilding=True)
            writes = [await projection.apply(batch, page) for projection in projections]
            if writing is not None:
                await writing
                if progress is not None:
                    progress(start, head)
            if batch.end < head and not pages.reading_raw and not pages.long_read_next:
                pages.prefetch(batch.end)
            writing = asyncio.create_task(_write(conn, store, writes))
            start = batch.end
        if writing is not None:
            task, writing = writing, None
            await task
        held = [writes for writes in (p.held() for p in projections) if writes is not None]
        await _write(conn, store, held)
    finally:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
        await pages.close()
    if progress is not None:
        progress(head, head)
    return folded


async def _write(conn: AsyncConnection, store: EventStore, writes: Sequence[Writes]) -> None:
    for one in writes:
        await one.flush(conn, store.backend)
