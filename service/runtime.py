"""What a running service holds: settings, the store, engines and background workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from events.store import EventStore
from service.settings import Settings


@dataclass
class Runtime:
    """Built once in the lifespan and handed to endpoints through `get_runtime`."""

    settings: Settings
    store: EventStore
    engine: AsyncEngine
    read_engine: AsyncEngine
    extras: dict[str, Any] = field(default_factory=dict)


async def get_runtime(request: Request) -> Runtime:
    """The running service's `Runtime` (async: FastAPI runs a plain `def` dependency in a
    worker thread, a thread hop on every request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime
