"""One place where Docket is wired: `build(settings)` opens the store and builds the parts
of a `Runtime`; `workers(runtime)` runs the service's background tasks.

The app's lifespan and every command of the CLI go through here, so a part added to the
service (a backend, a projection, a signer) is wired once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from events.log_tree import LogTree
from events.store import EventStore
from projections.runner import ProjectionRunner
from service.db import create_engine
from service.public.source import SqlPublicSource
from service.runtime import Runtime
from service.settings import Settings


def utc_now() -> datetime:
    """The service's clock."""
    return datetime.now(UTC)


@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Runtime]:
    """A `Runtime` on `settings.database_url`, closed on exit (runner, engines, store).

    Opening touches no file and sends no query: the engines connect on first use, and
    the signer and the command service are built when first asked for (`Runtime`)."""
    store = await EventStore.open(settings.database_url)
    read_engine = store.engine
    runner = ProjectionRunner(store.engine, store, time_zone=ZoneInfo(settings.time_zone))
    try:
        if settings.read_database_url:
            read_engine = create_engine(settings.read_database_url)
        yield Runtime(
            settings=settings,
            store=store,
            engine=store.engine,
            read_engine=read_engine,
            runner=runner,
            tree=LogTree(store),
            public_source=SqlPublicSource(read_engine, store),
            clock=utc_now,
        )
    finally:
        if read_engine is not store.engine:
            await read_engine.dispose()
        await runner.close()
        await store.close()


@asynccontextmanager
async def workers(runtime: Runtime) -> AsyncIterator[None]:
    """The service's background tasks while inside: the projection runner and the
    checkpoint writer. Cancelled on exit (their errors are theirs to log)."""
    tasks: list[asyncio.Task[Any]] = [
        asyncio.create_task(runtime.runner.run_forever(), name="docket.projections"),
        asyncio.create_task(runtime.checkpoint_writer.run_forever(), name="docket.checkpoints"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
