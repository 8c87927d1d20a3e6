"""The FastAPI application: built once per process, state handed on through `Runtime`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from events.checkpoints import Signer
from events.log_tree import CheckpointWriter, LogTree
from events.store import EventStore
from projections.runner import ProjectionRunner
from service.api.middleware import RequestContextMiddleware
from service.api.openapi_responses import complete as complete_responses
from service.api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from service.api.security_headers import SecurityHeadersMiddleware
from service.commands import CommandService
from service.db import create_engine
from service.keys import open_signing_key
from service.logging import configure_logging
from service.runtime import Runtime
from service.settings import Settings, get_settings

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "rule": {"type": "string"},
    },
}


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The service. `background=False` leaves the projection worker to the caller (tests)."""
    settings = settings or get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await EventStore.open(settings.database_url)
        read_engine = (
            create_engine(settings.read_database_url)
            if settings.read_database_url
            else store.engine
        )
        runner = ProjectionRunner(store.engine, store)
        runtime = Runtime(
            settings=settings, store=store, engine=store.engine, read_engine=read_engine
        )
        runtime.extras["runner"] = runner
        runtime.extras["commands"] = CommandService(
            store, settings, on_append=runner.notify, catch_up=runner.catch_up
        )
        tree = LogTree(store)
        signer = Signer(
            settings.log_origin,
            open_signing_key(settings),
        )
        runtime.extras["tree"] = tree
        runtime.extras["signer"] = signer
        app.state.runtime = runtime
        tasks: list[asyncio.Task[Any]] = []
        if background:
            tasks.append(asyncio.create_task(runner.run_forever(), name="docket.projections"))
            writer = CheckpointWriter(
                tree,
                signer,
                settings.log_origin,
                settings.checkpoint_interval_events,
                settings.checkpoint_interval_seconds,
            )
            tasks.append(asyncio.create_task(writer.run_forever(), name="docket.checkpoints"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if read_engine is not store.engine:
                await read_engine.dispose()
            await runner.close()
            await store.close()

    app = FastAPI(
        title="Docket",
        version="1.0",
        summary="The verifiable audit log of a sanctions committee's humanitarian exemptions",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, body_limit=settings.body_limit_bytes)
    app.add_middleware(SecurityHeadersMiddleware)

    from service.api import commands, log, ops, reads
    from service.public import routes as public_routes

    routers = (ops.router, commands.router, reads.router, log.router, log.public_router)
    for router in (*routers, public_routes.router):
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
            schema["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            app.openapi_schema = complete_responses(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    _ = PROBLEM_MEDIA_TYPE
    return app
