"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import ORJSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.metrics import LOG_HEAD, PROJECTION_LAG
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and projections are caught up")
async def readyz(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    body: dict[str, Any] = {}
    try:
        head, _ = await runtime.store.head()
        lag = await runtime.runner.lag()
    except Exception as exc:  # any failure to reach the database means not ready
        return ORJSONResponse(
            {"status": "unavailable", "detail": str(exc).splitlines()[0][:200]},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    body = {"status": "ok", "log_head": head, "projection_lag": lag}
    if lag > runtime.settings.projection_lag_bound:
        body["status"] = "lagging"
        return ORJSONResponse(body, status_code=503, headers={"Retry-After": "2"})
    return ORJSONResponse(body)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    try:
        head, _ = await runtime.store.head()
        LOG_HEAD.set(head)
        PROJECTION_LAG.labels("all").set(await runtime.runner.lag())
    except Exception:  # metrics stay available while the database is not
        pass
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
