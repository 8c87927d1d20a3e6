"""One place where Docket is wired: `build(settings)` opens the store and builds the parts
of a `Runtime`; `workers(runtime)` runs the service's background tasks.

The app's lifespan and every command of the CLI go through here, so a part added to the
service (a backend, a projection, a signer) is wired once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from events.follower import LogFollower
from events.log_tree import LogTree
from events.read_engine import ReadEngine
from events.store import EventStore
from projections.runner import ProjectionRunner
from service.platform.db import create_engine
from service.platform.event_stream import Framed, framing
from service.platform.settings import Settings
from service.public.source import SqlPublicSource
from service.runtime import Runtime

log = structlog.get_logger("docket.bootstrap")


def utc_now() -> datetime:
    """The service's clock."""
    return datetime.now(UTC)


@asynccontextmanager
async def build(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[Runtime]:
    """A `Runtime` on `settings.database_url`, closed on exit (runner, engines, store);
    its clock `utc_now` unless `clock` is given (tests fix the day).

    Opening touches no file and sends no query: the engines connect on first use, and
    the signer and the command service are built when first asked for (`Runtime`)."""
    clock = clock or utc_now
    store = await EventStore.open(settings.database_url)
    read_engine = ReadEngine(store.engine)
    runner = ProjectionRunner(
        store.engine,
        store,
        time_zone=ZoneInfo(settings.time_zone),
        rebuild_processes=settings.rebuild_processes,
    )
    waiter = store.backend.change_waiter()

    async def wait_for_change(seconds: float) -> None:
        await waiter.wait_for_change(seconds)
        # under load a wake-up comes with every group commit: the appends of the next few
        # milliseconds are read together, in one query
        await asyncio.sleep(FOLLOWER_SETTLE_S)

    follower: LogFollower[Framed] = LogFollower(
        framing(store.read_all, lambda event: event.wire()),
        wait_for_change,
        idle_read_s=FOLLOWER_IDLE_READ_S,
    )
    try:
        if settings.read_database_url:
            read_engine = ReadEngine(create_engine(settings.read_database_url))
        yield Runtime(
            settings=settings,
            store=store,
            engine=store.engine,
            read_engine=read_engine,
            runner=runner,
            tree=LogTree(store, clock),
            public_source=SqlPublicSource(read_engine, store),
            clock=clock,
            follower=follower,
            change_waiter=waiter,
        )
    finally:
        await follower.stop()
        await waiter.close()
        if not read_engine.reads(store.engine):
            await read_engine.dispose()
        await runner.close()
        await store.close()


#: How often the follower reads the log with no wake-up (a notification lost with its
#: connection is then seen this late), and how often the projection runner and the
#: checkpoint writer look on their own: an idle process costs a handful of queries a minute.
FOLLOWER_IDLE_READ_S = 30.0
IDLE_ROUND_S = 30.0
FOLLOWER_SETTLE_S = 0.02
#: Projection rounds start at least this far apart: under load the lists are at most about
#: this much (and a round) behind the log, and a round never applies just the few appends
#: of one group commit. (Under B2 a round already took ~300 events, the runner being slower
#: than the appends: the bound matters once rounds get cheaper.)
PROJECTION_ROUND_S = 0.1


async def _wake_on_log(runtime: Runtime) -> None:
    """Wake the projection runner and the checkpoint writer whenever the follower moves
    (another process's appends included): they wait for it instead of polling."""
    while True:
        try:
            follower = await runtime.following()
            break
        except Exception as error:  # the database away at start: the follower waits for it
            log.warning("docket.follower.start_failed", error=repr(error)[:200])
            await asyncio.sleep(1.0)
    position = follower.position
    while True:
        position = await follower.wait_beyond(position, IDLE_ROUND_S)
        runtime.runner.notify()
        runtime.checkpoint_writer.notify()


@asynccontextmanager
async def workers(runtime: Runtime) -> AsyncIterator[None]:
    """The service's background tasks while inside: the log follower, the projection
    runner and the checkpoint writer (both woken by the follower) and, with witnesses
    configured, their submitter. Cancelled on exit (their errors are theirs to log)."""
    writer = runtime.checkpoint_writer
    tasks: list[asyncio.Task[Any]] = [
        asyncio.create_task(_wake_on_log(runtime), name="docket.follower"),
        asyncio.create_task(
            runtime.runner.run_forever(poll_interval=IDLE_ROUND_S, min_round_s=PROJECTION_ROUND_S),
            name="docket.projections",
        ),
        asyncio.create_task(writer.run_forever(idle_s=IDLE_ROUND_S), name="docket.checkpoints"),
    ]
    cosigning = runtime.cosigning
    if cosigning is not None:
        tasks.append(asyncio.create_task(cosigning.run_forever(), name="docket.witnessing"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if cosigning is not None:
            await cosigning.aclose()
