"""R12 through the API on a real hot standby (`DOCKET_READ_DATABASE_URL`): every read
answer carries `X-Docket-Position`; a read with `X-Docket-Min-Position` (the position a
command answered) reflects it, waits for a replica that lags, and answers 503 with
`Retry-After` when the replica stays behind (WAL replay paused) or is stopped: never a
5xx but 503, never older data than asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from service.platform.db import upgrade_to_head
from tests.api.conftest import PROBLEM, Api, open_api, submission
from tests.conftest import run_outside_loop
from tests.replica import HotStandby

pytestmark = pytest.mark.postgres
DATABASE = "docket_r12"


@pytest.fixture
async def api(standby: HotStandby, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a database of the primary, reading from its standby copy."""
    admin = await asyncpg.connect(standby.primary_dsn())
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()
    run_outside_loop(upgrade_to_head, standby.primary_url(DATABASE))
    await standby.wait_for_replay()
    async for opened in open_api(
        standby.primary_url(DATABASE),
        tmp_path,
        read_database_url=standby.standby_url(DATABASE),
    ):
        yield opened


async def submit(api: Api, request_id: str) -> int:
    response = await api.post("/v1/requests", json=submission(request_id=request_id))
    assert response.status_code == 201, response.text
    position: int = response.json()["position"]
    return position


def listed(response_json: dict[str, object]) -> set[str]:
    items = response_json["items"]
    assert isinstance(items, list)
    return {item["request_id"] for item in items}


async def test_every_read_says_its_position_and_reads_its_writes(api: Api) -> None:
    plain = await api.get("/v1/requests")
    assert plain.status_code == 200 and int(plain.headers["X-Docket-Position"]) >= 0
    position = await submit(api, "HX-2026-7001")
    read = await api.get("/v1/requests", headers={"X-Docket-Min-Position": str(position)})
    assert read.status_code == 200, read.text
    assert int(read.headers["X-Docket-Position"]) >= position
    assert "HX-2026-7001" in listed(read.json())
    for path in ("/v1/requests/HX-2026-7001", "/v1/committee", "/v1/stats/holds"):
        answer = await api.get(path, headers={"X-Docket-Min-Position": str(position)})
        assert answer.status_code == 200, (path, answer.text)
        assert int(answer.headers["X-Docket-Position"]) >= position


async def test_a_lagging_replica_answers_503_then_the_data_once_it_resumes(
    api: Api, standby: HotStandby
) -> None:
    await standby.pause_replay()
    try:
        position = await submit(api, "HX-2026-7002")
        behind = await api.get("/v1/requests", headers={"X-Docket-Min-Position": str(position)})
        assert behind.status_code == 503, behind.text
        assert behind.headers["content-type"].startswith(PROBLEM)
        assert int(behind.headers["Retry-After"]) >= 1
        assert int(behind.headers["X-Docket-Position"]) < position
        assert behind.json()["type"].endswith("read-side-behind")
    finally:
        await standby.resume_replay()
    await standby.wait_for_replay()
    read = await api.get("/v1/requests", headers={"X-Docket-Min-Position": str(position)})
    assert read.status_code == 200, read.text
    assert "HX-2026-7002" in listed(read.json())


async def test_a_stopped_replica_answers_503_and_reads_again_once_started(
    api: Api, standby: HotStandby
) -> None:
    position = await submit(api, "HX-2026-7003")
    standby.stop_standby()
    try:
        for headers in ({}, {"X-Docket-Min-Position": str(position)}):
            down = await api.get("/v1/requests", headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"].startswith(PROBLEM)
            assert int(down.headers["Retry-After"]) >= 1
        # commands go to the primary: they still work
        later = await submit(api, "HX-2026-7004")
    finally:
        standby.start_standby()
    await standby.wait_for_replay()
    read = await api.get("/v1/requests", headers={"X-Docket-Min-Position": str(later)})
    assert read.status_code == 200, read.text
    assert int(read.headers["X-Docket-Position"]) >= later
    assert {"HX-2026-7003", "HX-2026-7004"} <= listed(read.json())


async def test_a_bad_min_position_is_a_422(api: Api) -> None:
    bad = await api.get("/v1/requests", headers={"X-Docket-Min-Position": "soon"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
