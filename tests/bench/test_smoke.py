"""Keeps `bench/` from rotting: the generator at 200 events writes a log that verifies and
folds, and B1's command loop runs on it for a moment (SQLite; benchmarks are never timed
here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import gen
from bench.b1 import command_rate
from events.store import EventStore
from events.types import validate_data
from events.verify_chain import verify_store_chain
from projections.request import fold


async def test_generated_log_verifies_and_b1_runs(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    made = await asyncio.to_thread(gen.write_sqlite, path, 200, open_count=20, long_events=50)
    url = f"sqlite+aiosqlite:///{path}"
    async with await EventStore.open(url) as store:
        report = await verify_store_chain(store)
        assert (report.ok, report.checked) == (True, 200)
        for event in await store.read_all(0, 200):
            assert validate_data(event.event_type, event.data) == event.data
        long = fold(await store.read_stream("request-" + made.long_request))
        assert long is not None
    count, seconds, _ = await command_rate(
        url, list(made.open_requests), callers=4, seconds=0.3, warmup=0.1
    )
    assert count > 0 and seconds > 0
