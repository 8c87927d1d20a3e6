"""The raw log for auditors: events with hashes, a live stream, the export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from service.api.auth import Overseer
from service.api.problems import Forbidden, Unauthorized, problem_openapi
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["log"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_READ_PROBLEMS = problem_openapi(Unauthorized, Forbidden)


@router.get("/v1/events", summary="The raw log with hashes", responses=_READ_PROBLEMS)
async def list_events(
    runtime: RuntimeDep,
    _: Overseer,
    after: Annotated[int, Query(ge=0)] = 0,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    start = int(cursor) if cursor is not None else after
    events = await runtime.store.read_all(after=start, limit=limit + 1)
    page = events[:limit]
    next_cursor = str(page[-1].position) if len(events) > limit else None
    return {"items": [e.wire() for e in page], "next_cursor": next_cursor}


@router.get(
    "/v1/events/stream",
    summary="Server-Sent Events of new events, resumable with Last-Event-ID",
    response_class=StreamingResponse,
    responses=_READ_PROBLEMS,
)
async def stream_events(
    request: Request,
    runtime: RuntimeDep,
    _: Overseer,
    last_event_id: Annotated[str | None, Header(pattern=r"^[0-9]{1,18}$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    follow: bool = True,
) -> StreamingResponse:
    start = int(last_event_id) if last_event_id is not None else after

    async def frames() -> AsyncIterator[bytes]:
        position = start
        idle = 0.0
        while True:
            batch = await runtime.store.read_all(after=position, limit=500)
            for event in batch:
                position = event.position
                yield (
                    f"id: {event.position}\nevent: {event.event_type}\ndata: ".encode()
                    + orjson.dumps(event.wire())
                    + b"\n\n"
                )
            if batch:
                idle = 0.0
                continue
            if not follow or await request.is_disconnected():
                return
            await asyncio.sleep(0.25)
            idle += 0.25
            if idle >= 15:
                idle = 0.0
                yield b": keep-alive\n\n"

    return StreamingResponse(
        frames(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/v1/export",
    summary="The whole log as JSON Lines, streamed",
    response_class=StreamingResponse,
    responses=_READ_PROBLEMS,
)
async def export(runtime: RuntimeDep, _: Overseer) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        async for event in runtime.store.iter_all(after=0, batch=5000):
            yield orjson.dumps(event.wire()) + b"\n"

    return StreamingResponse(
        lines(),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="docket-log.jsonl"'},
    )
