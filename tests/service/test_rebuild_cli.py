"""`docket rebuild` as an operator runs it, on both backends: the rebuilt read models
equal what the runner's catch-up wrote (in worker processes too), one projection can be
rebuilt alone, and an unknown one is refused by name (a failed worker said in one line)
with nothing changed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

from events.store import EventStore
from projections.runner import ProjectionRunner
from service.platform.settings import Settings
from tests.projections.test_runner import index_definitions, scenario, snapshot
from tests.service.test_cli import docket


async def test_rebuild_equals_catch_up(
    store: EventStore, database_url: str, tmp_path: Path
) -> None:
    await scenario(store)
    # the committee's time zone, as the command's runtime has it (the settings' default)
    zone = ZoneInfo(Settings.model_fields["time_zone"].default)
    runner = ProjectionRunner(store.engine, store, batch_size=4, time_zone=zone)
    try:
        head = await runner.catch_up()
    finally:
        await runner.close()
    caught_up = await snapshot(store)
    indexes = await index_definitions(store)

    every = await asyncio.to_thread(docket, database_url, tmp_path, "rebuild")
    assert every.returncode == 0, every.stderr
    assert f"rebuilt all projections up to position {head}" in every.stdout
    assert await snapshot(store) == caught_up
    assert await index_definitions(store) == indexes

    # in worker processes (PostgreSQL; SQLite rebuilds in the command's own)
    parallel = {"DOCKET_REBUILD_PROCESSES": "2"}
    split = await asyncio.to_thread(docket, database_url, tmp_path, "rebuild", env=parallel)
    assert split.returncode == 0, split.stderr
    assert f"rebuilt all projections up to position {head}" in split.stdout
    assert "Traceback" not in split.stdout + split.stderr
    assert await snapshot(store) == caught_up
    assert await index_definitions(store) == indexes

    if database_url.startswith("postgresql"):  # a worker that fails: said, nothing changed
        failing = {**parallel, "DOCKET_REBUILD_FAIL_PARTITION": "1"}
        failed = await asyncio.to_thread(docket, database_url, tmp_path, "rebuild", env=failing)
        assert failed.returncode == 1, failed.stderr
        assert "rebuild failed, nothing changed: rebuild worker 1 failed" in failed.stderr
        assert "Traceback" not in failed.stdout + failed.stderr
        assert await snapshot(store) == caught_up
        assert await index_definitions(store) == indexes

    one = await asyncio.to_thread(docket, database_url, tmp_path, "rebuild", "request_state")
    assert one.returncode == 0, one.stderr
    assert await snapshot(store) == caught_up

    unknown = await asyncio.to_thread(docket, database_url, tmp_path, "rebuild", "nope")
    assert unknown.returncode == 1 and "rebuild refused" in unknown.stderr
    assert "nope" in unknown.stderr
    assert await snapshot(store) == caught_up
