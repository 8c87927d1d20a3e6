"""R11: 200 submissions without `request_id` sent at once over two API processes on one
PostgreSQL database: 200 × 201, ids `HX-<year>-0001…0200`, none twice, no gap; a
caller-supplied id that exists is still a 409 `request-already-exists`."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import SUBMISSION, Deployment, report

pytestmark = pytest.mark.postgres

SUBMISSIONS = 200
YEAR = 2026


def test_200_submissions_over_two_processes_get_0001_to_0200(deployment: Deployment) -> None:
    first, second = deployment.serve(), deployment.serve()
    body = {**SUBMISSION, "occurred_at": f"{YEAR}-02-02T15:00:00Z"}

    async def race() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=SUBMISSIONS)
        async with (
            httpx.AsyncClient(base_url=first.url, timeout=60, limits=limits) as one,
            httpx.AsyncClient(base_url=second.url, timeout=60, limits=limits) as other,
        ):
            clients = (one, other)
            gate = asyncio.Event()

            async def submit(k: int) -> httpx.Response:
                await gate.wait()
                return await clients[k % 2].post(
                    "/v1/requests", json=body, headers=deployment.headers()
                )

            tasks = [asyncio.ensure_future(submit(k)) for k in range(SUBMISSIONS)]
            await asyncio.sleep(0.2)
            gate.set()
            answers = await asyncio.gather(*tasks)
            again = await one.post(
                "/v1/requests",
                json={**body, "request_id": f"HX-{YEAR}-0007"},
                headers=deployment.headers(),
            )
            return [*answers, again]

    try:
        *answers, again = run_async(race)
    except BaseException:
        print(deployment.logs())
        raise
    statuses = sorted({r.status_code for r in answers})
    assert statuses == [201], [r.text for r in answers if r.status_code != 201][:5]
    ids = sorted(r.json()["request_id"] for r in answers)
    assert ids == [f"HX-{YEAR}-{n:04d}" for n in range(1, SUBMISSIONS + 1)]
    assert again.status_code == 409 and again.json()["rule"] == "request-already-exists"
    stored = run_async(
        lambda: deployment.sql("SELECT last FROM request_sequences WHERE year = $1", YEAR)
    )
    assert [row["last"] for row in stored] == [SUBMISSIONS]
    report("r11", {"submissions": SUBMISSIONS, "processes": 2, "distinct_ids": len(set(ids))})
