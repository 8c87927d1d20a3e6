"""The FastAPI application: built once per process, state handed on through `Runtime`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service import bootstrap
from service.api.command_path import CommandShortPath
from service.api.middleware import RequestContextMiddleware
from service.api.openapi_responses import complete as complete_responses
from service.api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from service.api.read_side import ReadPositionMiddleware
from service.api.security_headers import SecurityHeadersMiddleware
from service.platform.collector import settle_after_start
from service.platform.logging import configure_logging
from service.platform.settings import Settings, get_settings
from service.publishing.public_log import WitnessPolicy, public_log_router
from service.queries.publication import PublishedLog

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


def create_app(
    settings: Settings | None = None,
    *,
    background: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The service. `background=False` (tests) leaves the background work (projection
    worker, checkpoint writer, witnesses' submitter) to the caller; a served app leaves it
    to a `docket work` process when DOCKET_SERVE_BACKGROUND is false. `clock` replaces
    the runtime's (`service.bootstrap.utc_now`): tests fix the day it reads."""
    settings = settings or get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.build(settings, clock=clock) as runtime:
            # The key and the holidays are read at start: a missing or bad file stops the
            # service here, not at the first request that needs it.
            _ = runtime.signer, runtime.commands
            app.state.runtime = runtime
            working = background and settings.serve_background
            async with bootstrap.workers(runtime) if working else nullcontext():
                # not in apps built for tests (`service.platform.collector`: B2's p99)
                if background:
                    settle_after_start()
                yield

    app = FastAPI(
        title="Docket",
        version="1.0",
        summary="The verifiable audit log of a sanctions committee's humanitarian exemptions",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    # innermost: the request commands it understands, without FastAPI's routing (B2)
    app.add_middleware(CommandShortPath)
    # its 503s are logged and counted like any answer
    app.add_middleware(ReadPositionMiddleware)
    app.add_middleware(RequestContextMiddleware, body_limit=settings.body_limit_bytes)
    app.add_middleware(SecurityHeadersMiddleware)

    from service.api import commands, log, ops, reads
    from service.api import public as public_routes

    routers = (ops.router, commands.router, reads.router, log.router, log.public_router)
    for router in (*routers, public_routes.router):
        app.include_router(router)
    policy = WitnessPolicy(settings.effective_witness_quorum, settings.witnesses)
    app.include_router(public_log_router(PublishedLog(lambda: app.state.runtime), policy))

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
