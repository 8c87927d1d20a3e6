"""`docket work` beside API processes started with DOCKET_SERVE_BACKGROUND=false, on both
backends: the API process applies no projection and signs no checkpoint itself; the
worker process does both for its appends (woken by the log, not polling), and stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from service.runtime import Runtime
from tests.api.conftest import Api, make_request, open_api, seat
from tests.service.test_cli import ROOT


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the worker did not catch up in time"
        await asyncio.sleep(0.1)


async def _applied(runtime: Runtime, position: int) -> bool:
    applied = await runtime.runner.checkpoints()
    return bool(applied) and min(applied.values()) >= position


async def _signed(runtime: Runtime, position: int) -> bool:
    latest = await runtime.tree.latest_checkpoint()
    return latest is not None and latest.tree_size >= position


async def _with_a_worker(api: Api, database_url: str, tmp_path: Path) -> None:
    runtime: Runtime = api.app.state.runtime
    await seat(api)
    await make_request(api, "on_hold")
    head = await api.head()
    await asyncio.sleep(0.5)
    assert set((await runtime.runner.checkpoints()).values()) <= {0}  # nothing applied
    unlisted = await api.get("/v1/requests?status=on_hold")
    assert unlisted.status_code == 200 and unlisted.json()["items"] == []
    assert await runtime.tree.latest_checkpoint() is None  # nothing signed
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DOCKET_DATABASE_URL": database_url,
        "DOCKET_ENVIRONMENT": "test",
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "key"),  # the app's (`open_api`)
        "DOCKET_LOG_ORIGIN": "docket.test/log",
        "DOCKET_CHECKPOINT_INTERVAL_EVENTS": "5",
        "DOCKET_LOG_FORMAT": "json",
    }
    work = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from service.cli import app; app()", "work",
        env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await _until(lambda: _applied(runtime, head))
        listed = await api.get("/v1/requests?status=on_hold")
        assert listed.status_code == 200 and len(listed.json()["items"]) == 1
        await _until(lambda: _signed(runtime, head - 5))
        # a later append wakes the worker (the log's notification, or SQLite's poll)
        request_id = await make_request(api, "circulated")
        later = await api.head()
        await _until(lambda: _applied(runtime, later), 10.0)
        found = await api.get("/v1/requests?status=under_review")
        assert found.status_code == 200, found.text
        assert [item["request_id"] for item in found.json()["items"]] == [request_id]
    finally:
        work.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(work.communicate(), 30)
    logged = err.decode()
    assert work.returncode == 0, logged[-2000:]
    assert "docket.work.started" in logged and "docket.work.stopped" in logged


async def test_a_work_process_does_the_background_work_of_the_api(
    database_url: str, tmp_path: Path
) -> None:
    settings: dict[str, Any] = {"serve_background": False, "log_origin": "docket.test/log"}
    async for api in open_api(database_url, tmp_path, **settings):
        await _with_a_worker(api, database_url, tmp_path)
