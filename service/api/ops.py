"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.auth import MaybeOverseer, Overseer
from service.api.json_answer import JsonAnswer
from service.api.problems import Forbidden, Unauthorized, problem_openapi
from service.platform.metrics import LOG_HEAD, PROJECTION_LAG
from service.publishing.witness_metrics import record_witness_status
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and projections are caught up")
async def readyz(
    runtime: Annotated[Runtime, Depends(get_runtime)], overseer: MaybeOverseer
) -> Response:
    """To the public only `ok` or not (503); details (log head, lag, the error) only to a
    secretariat or auditor token: the log head counts confidential events (SPEC §7)."""
    body: dict[str, Any] = {}
    try:
        head, _ = await runtime.store.head()
        lag = await runtime.runner.lag()
    except Exception as exc:  # any failure to reach the database means not ready
        body = {"status": "unavailable"}
        if overseer is not None:
            body["detail"] = str(exc).splitlines()[0][:200]
        return JsonAnswer(body, status_code=503, headers={"Retry-After": "2"})
    ready = lag <= runtime.settings.projection_lag_bound
    body = {"status": "ok" if ready else "lagging"}
    if overseer is not None:
        body |= {"log_head": head, "projection_lag": lag}
    if not ready:
        return JsonAnswer(
            {"status": "unavailable"} if overseer is None else body,
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return JsonAnswer(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics (a secretariat or auditor token: `authorization` scrape)",
    response_class=Response,
    responses=problem_openapi(Unauthorized, Forbidden),
)
async def metrics(runtime: Annotated[Runtime, Depends(get_runtime)], _caller: Overseer) -> Response:
    try:
        head, _ = await runtime.store.head()
        LOG_HEAD.set(head)
        PROJECTION_LAG.labels("all").set(await runtime.runner.lag())
    except Exception:  # metrics stay available while the database is not
        pass
    if runtime.cosigning is not None:
        # Per witness: the size it last cosigned and its last error (SPEC §4).
        record_witness_status(runtime.cosigning.status())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
