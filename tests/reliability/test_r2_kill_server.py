"""R2: `kill -9` of a server under load, then restart it.

Two servers share the database; clients send hold commands with `If-Match` and an
`Idempotency-Key`, and a command that gets no answer (its server died) is sent again with
the same key to the other server. Must hold: every acknowledged event is in the log
exactly once, positions and versions have no gaps, the chain verifies, and the projections
catch up and equal a `docket rebuild`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import (
    Deployment,
    all_events,
    assert_rebuild_equal,
    assert_verify_ok,
    check_log,
    open_requests,
    projection_rows,
    report,
    seat_committee,
    soak_only,
    wait_caught_up,
)
from tests.reliability.load import Tally, run_hold_load

pytestmark = pytest.mark.postgres

HOLD_EVENTS = {"HoldPlaced", "HoldReleased"}


def _kill_and_restart(
    dep: Deployment, requests: int, commands: int, kills: int, seconds: float
) -> dict[str, Any]:
    servers = [dep.serve(), dep.serve()]
    urls = [s.url for s in servers]

    async def load() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=urls[1], timeout=30) as client:
            await seat_committee(client, dep)
            ids = await open_requests(client, dep, requests)
            tally = Tally()
            started = time.monotonic()
            work = asyncio.create_task(
                run_hold_load(
                    dep,
                    urls,
                    ids,
                    commands=commands,
                    seconds=seconds,
                    idempotency=True,
                    retries=6,
                    tally=tally,
                )
            )
            downtimes = []
            for k in range(kills):
                # kill at evenly spaced points of the run, alternating the servers
                threshold = commands * (k + 1) // (kills + 1)
                for _ in range(int(seconds * 20)):
                    if tally.sent >= threshold or work.done():
                        break
                    await asyncio.sleep(0.05)
                victim = servers[k % 2]
                await asyncio.to_thread(victim.kill)
                down = time.monotonic()
                await asyncio.sleep(0.5)
                await asyncio.to_thread(victim.start)
                downtimes.append(round(time.monotonic() - down, 2))
            await work
            elapsed = time.monotonic() - started
            assert not tally.unexpected, tally.unexpected[:10]
            assert not tally.not_problem, tally.not_problem[:10]
            assert tally.duplicates_acked == 0
            assert tally.unanswered == 0, "a command found no live server in 6 tries"
            log = await all_events(client, dep)
            checked = check_log(log, tally.events)
            holds_written = [e for e in log if e["event_type"] in HOLD_EVENTS]
            unacked = [e for e in holds_written if e["event_id"] not in tally.events]
            for url in urls:
                async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
                    await wait_caught_up(probe, dep.headers())
            return {
                **tally.figures(),
                "requests": requests,
                "kills": kills,
                "restart_seconds": downtimes,
                "log_events": checked["events"],
                "lost": checked["lost"],
                "duplicated": tally.duplicates_acked,
                "written_unacknowledged": len(unacked),
                "seconds": round(elapsed, 1),
            }

    try:
        figures = run_async(load)
    except BaseException:
        print(dep.logs())
        raise
    dep.stop_all()
    figures["verify"] = assert_verify_ok(dep)
    before = run_async(lambda: projection_rows(dep))
    assert_rebuild_equal(dep, before)
    return figures


def test_kill_9_under_load_short(deployment: Deployment) -> None:
    report("R2-short", _kill_and_restart(deployment, 40, 1_500, kills=1, seconds=90))


@pytest.mark.slow
@pytest.mark.timeout(900)
@soak_only
def test_kill_9_under_load_soak(deployment: Deployment) -> None:
    report("R2-soak", _kill_and_restart(deployment, 200, 10_000, kills=4, seconds=400))
